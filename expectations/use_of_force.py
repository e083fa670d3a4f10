"""Great Expectations suite of the use-of-force facts: `marts.fct_use_of_force_incidents`,
`_subjects`, `_officers` and `_actions` (CANONICAL-MODEL b3).

Blocking: keys, required fields, the value domains of ingestion/canonical/use_of_force.yml, no
incident dated in the future, ages and years of service in range, every incident with at least
one report row, officer and subject, and the links: every subject, officer and action belongs to
an existing force incident, and every action to an existing officer and subject of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime

import pandas as pd

from expectations.core import SuiteResult, code_domains
from expectations.tables import (
    add_reference,
    as_datetimes,
    between,
    in_domain,
    not_in_future,
    not_null,
    references,
    run_tables,
    unique,
)

SUITE_NAME = "marts.fct_use_of_force"
TABLES = ("incidents", "subjects", "officers", "actions")
# Staging nulls ages outside this range (OPP), so a value outside it in the mart is a model bug.
AGE_RANGE = (10, 110)
# A career is at most this long; more is a unit error (months or days delivered as years).
MAX_YEARS_OF_SERVICE = 60
FORCE_LEVELS = ["level_1", "level_2", "level_3", "ois", "unknown"]


def validate_use_of_force(
    frames: Mapping[str, pd.DataFrame], today: date | None = None
) -> SuiteResult:
    """Validate the four use-of-force facts, given as {"incidents": df, "subjects": df, ...}.

    `today` bounds incident dates (default: today's UTC date, never earlier than a US agency's
    local date). The subjects, officers and actions must come with every incident they name."""
    today = today or datetime.now(UTC).date()
    missing = set(TABLES) - set(frames)
    if missing:
        raise ValueError(f"validate_use_of_force needs frames {sorted(missing)}")
    domains = code_domains("use_of_force")
    incidents = as_datetimes(frames["incidents"], ["incident_date"])
    incident_ids = incidents["uof_id"].dropna() if "uof_id" in incidents else []
    subjects = add_reference(frames["subjects"], "uof_id", "incidents", incident_ids)
    officers = add_reference(frames["officers"], "uof_id", "incidents", incident_ids)
    actions = add_reference(frames["actions"], "uof_id", "incidents", incident_ids)
    if "uof_officer_key" in officers:
        actions = add_reference(actions, "uof_officer_key", "officers", officers["uof_officer_key"])
    if "uof_subject_key" in subjects:
        actions = add_reference(actions, "uof_subject_key", "subjects", subjects["uof_subject_key"])
    low, high = AGE_RANGE
    belongs = "Every {} belongs to an existing force incident (uof_id in the incidents)."
    tables = [
        (
            "incidents",
            incidents,
            [
                unique("uof_id", "Primary key: one row per force incident."),
                *not_null(["uof_id", "agency_id", "incident_record_id", "incident_date"]),
                *in_domain({"highest_force_level": FORCE_LEVELS}),
                not_in_future("incident_date", today),
                between("n_report_rows", 1, None, name="n_report_rows_positive"),
                between("n_officers", 1, None, name="n_officers_positive"),
                between("n_subjects", 1, None, name="n_subjects_positive"),
            ],
            ("uof_id", "agency_id"),
        ),
        (
            "subjects",
            subjects,
            [
                unique("uof_subject_key", "Primary key: one row per subject of an incident."),
                *not_null(["uof_subject_key", "uof_id", "agency_id", "subject_race"]),
                references("uof_id", "incidents", belongs.format("subject")),
                *in_domain({k: domains[k] for k in ("subject_race", "subject_sex")}),
                between("subject_age", low, high, name="subject_age_in_range"),
            ],
            ("uof_subject_key", "agency_id"),
        ),
        (
            "officers",
            officers,
            [
                unique("uof_officer_key", "Primary key: one row per officer of an incident."),
                *not_null(["uof_officer_key", "uof_id", "agency_id"]),
                references("uof_id", "incidents", belongs.format("officer")),
                between("years_of_service", 0, MAX_YEARS_OF_SERVICE),
            ],
            ("uof_officer_key", "agency_id"),
        ),
        (
            "actions",
            actions,
            [
                unique("uof_action_key", "Primary key: one row per force type, officer, subject."),
                *not_null(["uof_action_key", "uof_id", "agency_id", "force_type"]),
                references("uof_id", "incidents", belongs.format("force action")),
                references(
                    "uof_officer_key",
                    "officers",
                    "Every force action is used by an existing officer of its incident.",
                ),
                references(
                    "uof_subject_key",
                    "subjects",
                    "Every force action is used on an existing subject of its incident.",
                ),
                *in_domain({"force_type": domains_list("force_types")}),
                between("n_source_values", 1, None, name="n_source_values_positive"),
            ],
            ("uof_action_key", "agency_id"),
        ),
    ]
    outcomes = run_tables(SUITE_NAME, tables)
    rows = sum(len(frame) for _, frame, _, _ in tables)
    return SuiteResult.from_outcomes(SUITE_NAME, outcomes, row_count=rows)


def domains_list(field: str) -> list[str]:
    """The domain of a `list` field (force_types), whose elements are codes."""
    from expectations.core import load_canonical

    return list(load_canonical("use_of_force")["fields"][field]["domain"])
