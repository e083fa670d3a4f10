"""The fct_school_incidents suite: a clean batch passes; a school-discipline flag that
contradicts the reason, and an arrest not flagged as one, fail."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from expectations.core import BLOCKING
from expectations.school import validate_school_incidents

TODAY = date(2024, 12, 31)
REASONS = ["school_policy_violation", "disruption", "truancy", "criminal_offense", "welfare_check"]
OUTCOMES = ["warning", "school_admin_referral", "contacted_guardian", "arrest", "no_action"]


def clean_contacts() -> pd.DataFrame:
    rows = []
    for n in range(25):
        reason, outcome = REASONS[n % 5], OUTCOMES[(n // 5) % 5]
        handcuffed = outcome == "arrest"
        rows.append(
            {
                "school_incident_id": f"s{n}",
                "agency_id": "cedar_pd",
                "school_incident_record_id": f"S{n}",
                "incident_date": date(2024, 3, 4) + timedelta(days=n),
                "subject_race": ("white", "black", "hispanic")[n % 3],
                "subject_sex": ("male", "female")[n % 2],
                "subject_age_group": ("12_14", "15_17")[n % 2],
                "reason_for_contact": reason,
                "referral_source": ("school_staff", "officer_observed")[n % 2],
                "outcome": outcome,
                "is_school_discipline_matter": reason in REASONS[:3],
                "is_arrest": outcome == "arrest",
                "is_justice_referral": outcome == "arrest",
                "is_handcuffed": handcuffed,
                "is_detained": handcuffed,
            }
        )
    df = pd.DataFrame(rows)
    for column in (
        "is_school_discipline_matter", "is_arrest", "is_justice_referral", "is_handcuffed",
        "is_detained",
    ):  # fmt: skip
        df[column] = df[column].astype("boolean")
    return df


@pytest.fixture
def contacts() -> pd.DataFrame:
    return clean_contacts()


def failed(result) -> dict[str, str]:
    return {r.name: r.severity for r in result.results if not r.success}


def test_clean_batch_passes(contacts):
    result = validate_school_incidents(contacts, today=TODAY)
    assert failed(result) == {}
    assert result.success_blocking


def test_discipline_flag_inconsistent_with_reason_or_outcome_is_blocking(contacts):
    contacts.loc[0, "is_school_discipline_matter"] = False  # school_policy_violation
    contacts.loc[3, "is_school_discipline_matter"] = True  # criminal_offense
    arrest = contacts.index[contacts["outcome"] == "arrest"][0]
    contacts.loc[arrest, "is_arrest"] = False
    contacts.loc[arrest, "is_detained"] = False
    contacts.loc[4, "subject_age_group"] = "16"
    result = validate_school_incidents(contacts, today=TODAY)
    assert failed(result) == {
        "school_policy_violation_is_school_discipline": BLOCKING,
        "criminal_offense_is_not_school_discipline": BLOCKING,
        "arrest_outcome_is_arrest": BLOCKING,
        "handcuffed_implies_detained": BLOCKING,
        "subject_age_group_in_domain": BLOCKING,
    }
    assert not result.success_blocking
