"""The fct_stops suite: a clean batch passes; each injected fault fails its own expectation."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pandas as pd
import pytest

from expectations.core import BLOCKING, WARN
from expectations.stops import MIN_MONTH_STOPS, validate_stops

TODAY = date(2024, 12, 31)
AGENCIES = ("alder_pd", "birch_so")
MONTHS = (date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1))
BASES = {  # search_basis_detail -> search_basis, search_discretion (as dbt derives them)
    "consent": ("consent", "higher"),
    "probable_cause": ("probable_cause", "other"),
    "incident_to_arrest": ("other", "lower"),
}
RACES = ("white", "black", "hispanic", "asian/pacific islander", "other", "unknown")


def clean_stops() -> pd.DataFrame:
    """Two agencies x three months x 60 stops, the second person on every tenth stop; the dtypes
    DuckDB's `.df()` gives a mart (nullable booleans and integers, datetime64 dates)."""
    rows = []
    for agency in AGENCIES:
        for first in MONTHS:
            for n in range(MIN_MONTH_STOPS + 10):
                stop_id = f"{agency}-{first:%Y%m}-{n:03d}"
                for seq in (1, 2) if n % 10 == 0 else (1,):
                    i = len(rows)
                    searched = i % 5 == 0
                    detail = list(BASES)[i % 3] if searched else None
                    arrest = detail == "incident_to_arrest" or i % 17 == 0
                    citation = not arrest and i % 2 == 0
                    warning = not arrest and not citation and i % 3 == 0
                    outcome = (
                        "arrest"
                        if arrest
                        else "citation"
                        if citation
                        else "warning"
                        if warning
                        else "no_action"
                    )
                    stop_date = first + timedelta(days=n % 28)
                    rows.append(
                        {
                            "stop_person_id": f"{stop_id}-{seq}",
                            "stop_id": stop_id,
                            "agency_id": agency,
                            "source_record_id": f"R{n}",
                            "person_seq": seq,
                            "stop_date": stop_date,
                            "stop_time": "10:15:00",
                            "stop_at": pd.Timestamp(stop_date, tz="UTC"),
                            "stop_year": stop_date.year,
                            "stop_type": "vehicular" if i % 4 else "pedestrian",
                            "district": "D1",
                            "beat": "B1",
                            "officer_id_hash": f"h{i % 7}",
                            "subject_race": RACES[i % len(RACES)],
                            "subject_sex": ("male", "female", "unknown")[i % 3],
                            "subject_age": None if i % 13 == 0 else 18 + i % 60,
                            "reason_for_stop": "traffic_violation",
                            "search_conducted": searched,
                            "search_basis": BASES[detail][0] if detail else None,
                            "search_basis_detail": detail,
                            "search_discretion": BASES[detail][1] if detail else None,
                            "contraband_found": (i % 2 == 0) if searched else None,
                            "frisk_performed": searched,
                            "arrest_made": arrest,
                            "citation_issued": citation,
                            "warning_issued": warning,
                            "outcome": outcome,
                            "source_file": f"{agency}/stops/2024.csv",
                            "source_row": n + 2,
                            "file_hash": "0" * 64,
                            "loaded_at": pd.Timestamp("2025-01-01", tz="UTC"),
                            "load_id": "1",
                        }
                    )
    df = pd.DataFrame(rows)
    for column in (
        "search_conducted",
        "contraband_found",
        "frisk_performed",
        "arrest_made",
        "citation_issued",
        "warning_issued",
    ):
        df[column] = df[column].astype("boolean")
    df["subject_age"] = df["subject_age"].astype("Int32")
    df["stop_date"] = pd.to_datetime(df["stop_date"])
    return df


@pytest.fixture(scope="module")
def clean() -> pd.DataFrame:
    return clean_stops()


@pytest.fixture
def stops(clean: pd.DataFrame) -> pd.DataFrame:
    return clean.copy()


def failed(result) -> dict[str, str]:
    return {r.name: r.severity for r in result.results if not r.success}


def test_clean_batch_passes(stops: pd.DataFrame) -> None:
    result = validate_stops(stops, today=TODAY)

    assert failed(result) == {}
    assert result.success_blocking and result.success
    assert result.row_count == len(stops)
    names = {r.name for r in result.results}
    assert {
        "stop_person_id_unique",
        "subject_race_in_domain",
        "stop_date_not_in_future",
        "no_search_implies_null_contraband_found",
        "incident_to_arrest_implies_arrest",
        "search_has_basis",
        "subject_race_coverage_by_month",
        "stop_volume_by_month",
    } <= names
    records = result.to_records(run_id="r1")
    json.dumps(records)  # stores as-is (checks.json, quality_results)
    assert records[0]["run_id"] == "r1" and records[0]["suite"] == "marts.fct_stops"


def test_future_stop_date_is_blocking(stops: pd.DataFrame) -> None:
    stops.loc[3, "stop_date"] = pd.Timestamp(TODAY + timedelta(days=1))

    result = validate_stops(stops, today=TODAY)

    outcome = result.outcome("stop_date_not_in_future")
    assert (outcome.success, outcome.severity, outcome.unexpected_count) == (False, BLOCKING, 1)
    assert stops.loc[3, "stop_person_id"] in outcome.unexpected_examples[0]
    assert not result.success_blocking
    assert [r.name for r in result.blocking_failures] == ["stop_date_not_in_future"]


def test_unknown_race_code_is_blocking(stops: pd.DataFrame) -> None:
    stops.loc[[5, 8], "subject_race"] = "martian"

    result = validate_stops(stops, today=TODAY)

    assert failed(result) == {"subject_race_in_domain": BLOCKING}
    outcome = result.outcome("subject_race_in_domain")
    assert outcome.unexpected_count == 2
    assert all("martian" in example for example in outcome.unexpected_examples)
    assert not result.success_blocking


def test_contraband_without_search_is_blocking(stops: pd.DataFrame) -> None:
    row = stops.index[~stops["search_conducted"]][0]
    stops.loc[row, "contraband_found"] = True

    result = validate_stops(stops, today=TODAY)

    assert failed(result) == {"no_search_implies_null_contraband_found": BLOCKING}
    assert result.outcome("no_search_implies_null_contraband_found").unexpected_count == 1
    assert not result.success_blocking


def test_duplicate_key_is_blocking(stops: pd.DataFrame) -> None:
    stops.loc[1, "stop_person_id"] = stops.loc[0, "stop_person_id"]

    result = validate_stops(stops, today=TODAY)

    assert failed(result) == {"stop_person_id_unique": BLOCKING}
    outcome = result.outcome("stop_person_id_unique")
    assert outcome.unexpected_count == 2
    assert stops.loc[0, "stop_person_id"] in outcome.unexpected_examples[0]
    assert not result.success_blocking


def test_warn_faults_keep_the_gate_open(stops: pd.DataFrame) -> None:
    row = stops.index[stops["search_basis_detail"].eq("incident_to_arrest").fillna(False)][0]
    stops.loc[row, ["arrest_made", "outcome"]] = [False, "citation"]
    thin = stops["agency_id"].eq("birch_so") & (stops["stop_date"].dt.month == 2)
    stops.loc[thin, "subject_race"] = "unknown"

    result = validate_stops(stops, today=TODAY)

    assert failed(result) == {
        "incident_to_arrest_implies_arrest": WARN,
        "subject_race_coverage_by_month": WARN,
    }
    coverage = result.outcome("subject_race_coverage_by_month")
    assert coverage.unexpected_count == 1
    assert '"month": "2024-02"' in coverage.unexpected_examples[0]
    assert result.success_blocking and not result.success
    assert not result.blocking_failures and len(result.warn_failures) == 2


def test_thin_month_warns_but_month_in_progress_does_not(stops: pd.DataFrame) -> None:
    march = stops["stop_date"].dt.month == 3
    result = validate_stops(stops[~march | stops["stop_id"].str.endswith("0")], today=TODAY)
    assert failed(result) == {"stop_volume_by_month": WARN}
    assert result.outcome("stop_volume_by_month").unexpected_count == len(AGENCIES)

    in_progress = validate_stops(
        stops[~march | stops["stop_id"].str.endswith("0")], today=date(2024, 3, 31)
    )
    assert failed(in_progress) == {}


def test_missing_required_column_is_blocking(stops: pd.DataFrame) -> None:
    result = validate_stops(stops.drop(columns=["search_conducted"]), today=TODAY)

    outcome = result.outcome("search_conducted_not_null")
    assert not outcome.success and outcome.severity == BLOCKING
    assert "could not be evaluated" in outcome.description
    assert not result.success_blocking


def test_stop_before_agency_first_year_is_blocking(stops: pd.DataFrame) -> None:
    stops.loc[0, "stop_date"] = pd.Timestamp("2019-06-30")

    result = validate_stops(
        stops, today=TODAY, agency_first_years={"alder_pd": 2020, "birch_so": 2020}
    )

    assert result.outcome("stop_date_not_before_first_year").unexpected_count == 1
    assert [r.name for r in result.blocking_failures] == ["stop_date_not_before_first_year"]


def test_results_of_parts_merge_into_the_result_of_the_whole(stops: pd.DataFrame) -> None:
    """Validated per agency (as a large batch is, in parts of whole agency-months), then merged:
    the verdicts and counts of the whole batch, faults in both parts included."""
    from expectations.core import merge_results
    from expectations.stops import SUITE_NAME

    birch = int(stops.index[stops["agency_id"] == "birch_so"][5])
    stops.loc[[5, birch], "subject_race"] = "martian"  # one in each agency
    stops.loc[7, "subject_age"] = 130
    thin = stops["agency_id"].eq("birch_so") & (stops["stop_date"].dt.month == 2)
    stops.loc[thin, "subject_race"] = "unknown"
    assert stops.loc[[5, birch], "agency_id"].tolist() == list(AGENCIES)

    whole = validate_stops(stops, today=TODAY)
    parts = [validate_stops(stops[stops["agency_id"] == a], today=TODAY) for a in AGENCIES]
    merged = merge_results(SUITE_NAME, parts)

    verdicts = [(r.name, r.severity, r.success, r.unexpected_count) for r in merged.results]
    assert verdicts == [(r.name, r.severity, r.success, r.unexpected_count) for r in whole.results]
    assert failed(merged) == {
        "subject_race_in_domain": BLOCKING,
        "subject_age_in_range": BLOCKING,
        "subject_race_coverage_by_month": WARN,
    }
    assert merged.outcome("subject_race_in_domain").unexpected_count == 2
    assert sorted(merged.outcome("subject_race_in_domain").unexpected_examples) == sorted(
        whole.outcome("subject_race_in_domain").unexpected_examples
    )
    assert '"subject_age": 130' in merged.outcome("subject_age_in_range").unexpected_examples[0]
    assert merged.row_count == whole.row_count == len(stops)
    assert not merged.success_blocking
