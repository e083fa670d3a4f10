"""Great Expectations suite of `marts.fct_school_incidents` (school-based officers' contacts).

Blocking: key, required fields, the value domains of ingestion/canonical/school_incidents.yml,
no contact in the future, and the rules that make the "limited role" measure trustworthy: a
contact about a school-policy violation, disruption or truancy is a school-discipline matter,
one about a criminal offense is not; an arrest outcome is flagged as an arrest and a justice
referral; a handcuffed student was detained.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd

from expectations.core import SuiteResult, run_suite
from expectations.rules import as_datetimes, in_set_when, key_checks, not_in_future

SUITE_NAME = "marts.fct_school_incidents"
ROW_KEY = "school_incident_id"
DISCIPLINE_REASONS = ("school_policy_violation", "disruption", "truancy")
DOMAINS = {
    "subject_race": "subject_race",
    "subject_sex": "subject_sex",
    "subject_age_group": "subject_age_group",
    "reason_for_contact": "reason_for_contact",
    "referral_source": "referral_source",
    "outcome": "outcome",
}


def validate_school_incidents(df: pd.DataFrame, today: date | None = None) -> SuiteResult:
    today = today or datetime.now(UTC).date()
    frame = as_datetimes(df, ["incident_date"])
    checks = [
        *key_checks(
            ROW_KEY,
            ["agency_id", "school_incident_record_id", "incident_date", *DOMAINS],
            "school_incidents",
            DOMAINS,
        ),
        not_in_future("incident_date", today),
        *[
            in_set_when(
                f"{reason}_is_school_discipline",
                "is_school_discipline_matter",
                [True],
                ("reason_for_contact", reason),
                f"A contact about {reason.replace('_', ' ')} is a school-discipline matter.",
            )
            for reason in DISCIPLINE_REASONS
        ],
        in_set_when(
            "criminal_offense_is_not_school_discipline",
            "is_school_discipline_matter",
            [False],
            ("reason_for_contact", "criminal_offense"),
            "A contact about a criminal offense is not a school-discipline matter.",
        ),
        in_set_when(
            "arrest_outcome_is_arrest",
            "is_arrest",
            [True],
            ("outcome", "arrest"),
            "An arrest outcome is flagged is_arrest.",
        ),
        in_set_when(
            "arrest_outcome_is_justice_referral",
            "is_justice_referral",
            [True],
            ("outcome", "arrest"),
            "An arrest is a referral into the justice system.",
        ),
        in_set_when(
            "handcuffed_implies_detained",
            "is_detained",
            [True],
            ("is_handcuffed", True),
            "A handcuffed student was detained.",
        ),
    ]
    outcomes = run_suite(frame, SUITE_NAME, checks, index_columns=(ROW_KEY, "agency_id"))
    return SuiteResult.from_outcomes(SUITE_NAME, outcomes, row_count=len(df))
