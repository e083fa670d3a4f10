"""The crime-incident suite: clean incidents and offenses pass; one fault per rule fails exactly
that rule."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from expectations.incidents import validate_incidents

TODAY = date(2024, 12, 31)


def clean() -> tuple[pd.DataFrame, pd.DataFrame]:
    incidents, offenses = [], []
    for n in range(10):
        day = pd.Timestamp(date(2024, 1, 1) + timedelta(days=30 * n))
        lines = 1 + n % 3
        incidents.append(
            {
                "incident_id": f"i{n}",
                "agency_id": "stlouis_mpd",
                "source_record_id": f"R{n}",
                "incident_date": day,
                "offense_count": lines if n != 9 else 0,  # no offense code (unfounded)
                "offense_line_count": lines,
                "top_offense_group": ("group_a", "group_b", "unknown")[n % 3],
                "top_crime_against": ("person", "property", "society", "unknown")[n % 4],
            }
        )
        for k in range(lines):
            offenses.append(
                {
                    "incident_offense_id": f"i{n}-{k}",
                    "incident_id": f"i{n}",
                    "agency_id": "stlouis_mpd",
                    "incident_date": day,
                    "offense_group": ("group_a", "group_b")[k % 2],
                    "crime_against": ("person", "property")[k % 2],
                    "offense_severity": ("felony", "misdemeanor", "unknown")[k],
                }
            )
    return pd.DataFrame(incidents), pd.DataFrame(offenses)


FAULTS = {
    "incidents.incident_id_unique",
    "incidents.incident_date_not_in_future",
    "incidents.offense_line_count_positive",
    "incidents.offense_count_not_negative",
    "incidents.top_offense_group_in_domain",
    "offenses.incident_id_references_incidents",
    "offenses.incident_offense_id_not_null",
    "offenses.offense_severity_in_domain",
    "offenses.crime_against_in_domain",
}


@pytest.fixture(scope="module")
def results():
    incidents, offenses = clean()
    good = validate_incidents(incidents, offenses, TODAY)
    incidents, offenses = clean()
    incidents.loc[1, "incident_id"] = "i0"
    incidents.loc[2, "incident_date"] = pd.Timestamp(TODAY + timedelta(days=2))
    incidents.loc[3, "offense_line_count"] = 0
    incidents.loc[5, "offense_count"] = -1
    incidents.loc[4, "top_offense_group"] = "group_c"
    offenses.loc[0, "incident_id"] = "i-orphan"
    offenses.loc[1, "incident_offense_id"] = None
    offenses.loc[2, "offense_severity"] = "petty"
    offenses.loc[3, "crime_against"] = "state"
    return good, validate_incidents(incidents, offenses, TODAY)


def test_clean_incidents_pass(results):
    good, _ = results
    assert good.success, [(r.name, r.unexpected_examples) for r in good.results if not r.success]
    assert len(good.results) >= 15


def test_each_fault_fails_its_rule_and_only_it(results):
    _, bad = results
    assert not bad.success_blocking
    assert {r.name for r in bad.results if not r.success} == FAULTS
    orphan = bad.outcome("offenses.incident_id_references_incidents")
    # the injected orphan, and incident i1's two lines, whose incident was renamed i0
    assert orphan.unexpected_count == 3
    assert any("i0-0" in e for e in orphan.unexpected_examples)  # the offense line's key
    assert any("i1-1" in e for e in orphan.unexpected_examples)
