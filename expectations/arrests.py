"""Great Expectations suite of `marts.fct_arrests` (one row per arrestee per arrest).

Every expectation here is blocking: keys, required fields, the value domains of
ingestion/canonical/arrests.yml, no arrest dated in the future and ages in the range staging
keeps. Unlike stops there is no per agency-month volume rule: arrests are a few per cent of
stops, so a thin month is normal in a small agency, and the OPP month rules are about stops.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd

from expectations.core import BLOCKING, Check, SuiteResult, code_domains, required_fields, run_suite

SUITE_NAME = "marts.fct_arrests"
ROW_KEY = "arrest_person_id"
# Reported beside every unexpected value so a failure names the row and the agency.
INDEX_COLUMNS = (ROW_KEY, "agency_id")
# Staging nulls ages outside this range (OPP), so a value outside it in the mart is a model bug.
AGE_RANGE = (10, 110)


def validate_arrests(df: pd.DataFrame, today: date | None = None) -> SuiteResult:
    """Validate rows of `marts.fct_arrests`.

    `today` bounds arrest dates (default: today's UTC date, which is never earlier than a US
    agency's local date)."""
    today = today or datetime.now(UTC).date()
    frame = df.copy(deep=False)
    if "arrest_date" in frame.columns:
        # DuckDB gives datetime64, hand-made frames often `date` objects; GX compares either
        # against one bound type only.
        frame["arrest_date"] = pd.to_datetime(frame["arrest_date"], errors="coerce")
    outcomes = run_suite(frame, SUITE_NAME, _checks(today), index_columns=INDEX_COLUMNS)
    return SuiteResult.from_outcomes(SUITE_NAME, outcomes, row_count=len(df))


def _checks(today: date) -> list[Check]:
    checks = [
        Check(
            f"{ROW_KEY}_unique",
            BLOCKING,
            ROW_KEY,
            "Primary key: one row per arrestee per arrest.",
            lambda gx: gx.expectations.ExpectColumnValuesToBeUnique(column=ROW_KEY),
        ),
    ]
    for column in [ROW_KEY, "arrest_id", "agency_id", *required_fields("arrests")]:
        checks.append(
            Check(
                f"{column}_not_null",
                BLOCKING,
                column,
                f"{column} is required.",
                lambda gx, column=column: gx.expectations.ExpectColumnValuesToNotBeNull(
                    column=column
                ),
            )
        )
    for column, domain in code_domains("arrests").items():
        checks.append(
            Check(
                f"{column}_in_domain",
                BLOCKING,
                column,
                f"{column} takes only its canonical values: {', '.join(domain)}.",
                lambda gx, column=column, domain=domain: (
                    gx.expectations.ExpectColumnValuesToBeInSet(column=column, value_set=domain)
                ),
            )
        )
    low, high = AGE_RANGE
    checks.append(
        Check(
            "subject_age_in_range",
            BLOCKING,
            "subject_age",
            f"subject_age is between {low} and {high} (null allowed).",
            lambda gx: gx.expectations.ExpectColumnValuesToBeBetween(
                column="subject_age", min_value=low, max_value=high
            ),
        )
    )
    bound = pd.Timestamp(today)
    checks.append(
        Check(
            "arrest_date_not_in_future",
            BLOCKING,
            "arrest_date",
            f"arrest_date is not after {today.isoformat()}.",
            lambda gx: gx.expectations.ExpectColumnValuesToBeBetween(
                column="arrest_date", max_value=bound
            ),
        )
    )
    return checks
