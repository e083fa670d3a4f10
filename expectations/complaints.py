"""Great Expectations suite of the complaint facts: `marts.fct_complaints`, `fct_allegations` (per
accused officer) and `fct_complainants` (CANONICAL-MODEL b4).

Blocking: keys, required fields, the value domains of ingestion/canonical/complaints.yml,
allegations.yml and complainants.yml, no complaint received or closed in the future, status
closed exactly when a closing date is recorded, sustained allegations not more than allegations,
is_disciplined only for a reprimand, suspension or termination, ages in range, and the links:
every allegation and complainant belongs to an existing complaint.

Warn (real exports break these, and a release must not wait for the agency to fix its records;
Chicago's 2000-2016 CRs have 157 findings on open CRs and 23 CRs closed before received):
a final finding (anything but open or unknown) only on a closed complaint, closed not before
received, the incident not after the complaint was received.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd

from expectations.core import BLOCKING, WARN, Check, SuiteResult, code_domains
from expectations.tables import (
    add_reference,
    as_datetimes,
    between,
    in_domain,
    not_before,
    not_in_future,
    not_null,
    references,
    run_tables,
    unique,
)

SUITE_NAME = "marts.fct_complaints"
STATUSES = ["open", "closed"]
OUTCOME_CLASSES = ["sustained", "not_sustained", "open"]
DISCIPLINED = ["reprimand", "suspension", "termination"]
# Staging nulls ages outside this range, so a value outside it in the mart is a model bug.
AGE_RANGE = (10, 110)
DATES = ["received_date", "incident_date", "closed_date"]


def validate_complaints(
    complaints: pd.DataFrame,
    allegations: pd.DataFrame,
    complainants: pd.DataFrame,
    today: date | None = None,
) -> SuiteResult:
    """Validate complaints with their allegations and complainants (which must come with every
    complaint they name). `today` bounds dates (default: today's UTC date)."""
    today = today or datetime.now(UTC).date()
    complaints = as_datetimes(complaints, DATES)
    ids = complaints["complaint_id"] if "complaint_id" in complaints else []
    allegations = add_reference(allegations, "complaint_id", "complaints", ids)
    complainants = add_reference(complainants, "complaint_id", "complaints", ids)
    if {"complaint_id", "status"} <= set(complaints) and "complaint_id" in allegations:
        status = complaints.drop_duplicates("complaint_id").set_index("complaint_id")["status"]
        allegations["_complaint_status"] = allegations["complaint_id"].map(status)
    low, high = AGE_RANGE
    findings = code_domains("allegations")
    tables = [
        (
            "complaints",
            complaints,
            [
                unique("complaint_id", "Primary key: one row per complaint."),
                *not_null(
                    ["complaint_id", "agency_id", "complaint_record_id", "received_date", "status"]
                ),
                *in_domain(
                    {
                        "status": STATUSES,
                        "complaint_source": code_domains("complaints")["complaint_source"],
                    }
                ),
                not_in_future("received_date", today),
                not_in_future("closed_date", today),
                _when("closed_date_null_while_open", "closed_date", "status", "open", None),
                _when("closed_has_closed_date", "closed_date", "status", "closed", "not_null"),
                between("allegation_count", 0, None, name="allegation_count_not_negative"),
                not_before(
                    "allegation_count",
                    "sustained_allegation_count",
                    BLOCKING,
                    "sustained_allegation_count is not more than allegation_count.",
                ),
                not_before(
                    "closed_date",
                    "received_date",
                    WARN,
                    "A complaint is not closed before it was received.",
                ),
                not_before(
                    "received_date",
                    "incident_date",
                    WARN,
                    "A complaint is not received before the incident it is about.",
                ),
            ],
            ("complaint_id", "agency_id"),
        ),
        (
            "allegations",
            allegations,
            [
                unique("allegation_id", "Primary key: one row per accused officer x allegation."),
                *not_null(["allegation_id", "complaint_id", "agency_id", "final_finding"]),
                references(
                    "complaint_id",
                    "complaints",
                    "Every allegation belongs to an existing complaint (complaint_id).",
                ),
                *in_domain(findings),
                *in_domain({"final_outcome_class": OUTCOME_CLASSES}),
                Check(
                    "is_disciplined_only_for_discipline",
                    BLOCKING,
                    "is_disciplined",
                    f"is_disciplined is true only for {', '.join(DISCIPLINED)}.",
                    lambda gx: gx.expectations.ExpectColumnValuesToBeInSet(
                        column="discipline",
                        value_set=DISCIPLINED,
                        row_condition=_column("is_disciplined") == True,  # noqa: E712
                    ),
                ),
                Check(
                    "final_finding_only_when_closed",
                    WARN,
                    "final_finding",
                    "An allegation of an open complaint has no final finding (open or unknown).",
                    lambda gx: gx.expectations.ExpectColumnValuesToBeInSet(
                        column="final_finding",
                        value_set=["open", "unknown"],
                        row_condition=_column("_complaint_status") == "open",
                    ),
                ),
            ],
            ("allegation_id", "agency_id"),
        ),
        (
            "complainants",
            complainants,
            [
                unique("complainant_id", "Primary key: one row per complainant."),
                *not_null(["complainant_id", "complaint_id", "agency_id", "subject_race"]),
                references(
                    "complaint_id",
                    "complaints",
                    "Every complainant belongs to an existing complaint (complaint_id).",
                ),
                *in_domain(code_domains("complainants")),
                between("subject_age", low, high, name="subject_age_in_range"),
            ],
            ("complainant_id", "agency_id"),
        ),
    ]
    outcomes = run_tables(SUITE_NAME, tables)
    rows = len(complaints) + len(allegations) + len(complainants)
    return SuiteResult.from_outcomes(SUITE_NAME, outcomes, row_count=rows)


def _column(name: str):
    from great_expectations.expectations.row_conditions import Column

    return Column(name=name)


def _when(name: str, column: str, condition: str, value: str, expect: str | None) -> Check:
    """`column` is null (expect None) or not null ("not_null") on rows where condition == value."""
    return Check(
        name,
        BLOCKING,
        column,
        f"{column} is {'recorded' if expect else 'null'} when {condition} is {value}.",
        lambda gx: (
            gx.expectations.ExpectColumnValuesToNotBeNull
            if expect
            else gx.expectations.ExpectColumnValuesToBeNull
        )(column=column, row_condition=_column(condition) == value),
    )
