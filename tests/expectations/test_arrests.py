"""The fct_arrests suite: a clean batch passes; each injected fault fails its own expectation."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from expectations.arrests import validate_arrests
from expectations.core import BLOCKING, code_domains

TODAY = date(2024, 12, 31)
RACES = ("white", "black", "hispanic", "asian/pacific islander", "other", "unknown")


def clean_arrests() -> pd.DataFrame:
    """Two agencies x 40 arrests, a second arrestee on every tenth; the dtypes DuckDB's `.df()`
    gives a mart (nullable booleans and integers, datetime64 dates)."""
    rows = []
    for agency in ("alder_pd", "birch_so"):
        for n in range(40):
            for seq in (1, 2) if n % 10 == 0 else (1,):
                i = len(rows)
                from_stop = i % 3 != 0
                searched = i % 2 == 0
                rows.append(
                    {
                        "arrest_person_id": f"{agency}-{n}-{seq}",
                        "arrest_id": f"{agency}-{n}",
                        "stop_id": f"{agency}-stop-{n}" if from_stop else None,
                        "incident_id": None,
                        "agency_id": agency,
                        "source_record_id": f"A{n}",
                        "arrestee_seq": seq,
                        "arrest_date": date(2024, 1, 1) + timedelta(days=n * 7),
                        "arrest_time": "22:15:00",
                        "arrest_year": 2024,
                        "arrest_type": ("on_view", "summoned_cited", "taken_into_custody")[i % 3],
                        "offense_code": "90D",
                        "offense_description": "Driving Under the Influence",
                        "offense_group": ("group_a", "group_b")[i % 2],
                        "offense_severity": ("felony", "misdemeanor", "infraction")[i % 3],
                        "warrant_flag": i % 5 == 0,
                        "subject_race": RACES[i % len(RACES)],
                        "subject_sex": ("male", "female", "unknown")[i % 3],
                        "subject_age": None if i % 11 == 0 else 18 + i % 60,
                        "district": "D1",
                        "beat": None,
                        "unit": None,
                        "officer_id_hash": f"h{i % 7}",
                        "search_conducted": searched,
                        "search_basis_detail": "incident_to_arrest" if searched else None,
                        "contraband_found": (i % 4 == 0) if searched else None,
                        "reason_for_stop": "traffic_violation" if from_stop else None,
                        "source_file": f"{agency}/arrests/2024.csv",
                        "source_row": n + 2,
                        "file_hash": "0" * 64,
                        "loaded_at": pd.Timestamp("2025-01-01", tz="UTC"),
                        "load_id": "1",
                    }
                )
    df = pd.DataFrame(rows)
    for column in ("warrant_flag", "search_conducted", "contraband_found"):
        df[column] = df[column].astype("boolean")
    df["subject_age"] = df["subject_age"].astype("Int32")
    df["arrest_date"] = pd.to_datetime(df["arrest_date"])
    return df


@pytest.fixture(scope="module")
def clean() -> pd.DataFrame:
    return clean_arrests()


@pytest.fixture
def arrests(clean: pd.DataFrame) -> pd.DataFrame:
    return clean.copy()


def failed(result) -> dict[str, str]:
    return {r.name: r.severity for r in result.results if not r.success}


def test_clean_batch_passes(arrests: pd.DataFrame) -> None:
    result = validate_arrests(arrests, today=TODAY)
    assert failed(result) == {}
    assert result.success_blocking and result.row_count == len(arrests)
    # every code domain of ingestion/canonical/arrests.yml is checked
    names = {r.name for r in result.results}
    assert {f"{column}_in_domain" for column in code_domains("arrests")} <= names


def test_empty_batch_passes(arrests: pd.DataFrame) -> None:
    assert validate_arrests(arrests.iloc[0:0], today=TODAY).success_blocking


def test_future_arrest_date_is_blocking(arrests: pd.DataFrame) -> None:
    arrests.loc[3, "arrest_date"] = pd.Timestamp(TODAY + timedelta(days=1))
    result = validate_arrests(arrests, today=TODAY)
    assert failed(result) == {"arrest_date_not_in_future": BLOCKING}
    assert result.outcome("arrest_date_not_in_future").unexpected_count == 1
    assert not result.success_blocking


def test_code_outside_its_domain_is_blocking(arrests: pd.DataFrame) -> None:
    arrests.loc[0, "arrest_type"] = "O"
    arrests.loc[1, "offense_severity"] = "gross misdemeanor"
    result = validate_arrests(arrests, today=TODAY)
    assert failed(result) == {
        "arrest_type_in_domain": BLOCKING,
        "offense_severity_in_domain": BLOCKING,
    }
    examples = result.outcome("arrest_type_in_domain").unexpected_examples
    assert any(arrests.loc[0, "arrest_person_id"] in example for example in examples)


def test_duplicate_key_and_missing_race_are_blocking(arrests: pd.DataFrame) -> None:
    arrests.loc[5, "arrest_person_id"] = arrests.loc[4, "arrest_person_id"]
    arrests.loc[6, "subject_race"] = None
    result = validate_arrests(arrests, today=TODAY)
    assert failed(result) == {
        "arrest_person_id_unique": BLOCKING,
        "subject_race_not_null": BLOCKING,
    }


def test_age_outside_range_is_blocking(arrests: pd.DataFrame) -> None:
    arrests.loc[2, "subject_age"] = 7
    result = validate_arrests(arrests, today=TODAY)
    assert failed(result) == {"subject_age_in_range": BLOCKING}


def test_missing_required_column_is_blocking(arrests: pd.DataFrame) -> None:
    result = validate_arrests(arrests.drop(columns=["arrest_date"]), today=TODAY)
    assert "arrest_date_not_null" in failed(result)
    assert not result.success_blocking
