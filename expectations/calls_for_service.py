"""Great Expectations suite of `marts.fct_calls_for_service` (one row per call for service).

Blocking: the key, required fields and value domains of ingestion/canonical/calls_for_service.yml,
priority 1-9, no call received in the future, and the order of a call's moments: dispatched not
before received, first arrival not before dispatch, cleared not before received nor before
arrival. A CAD export whose clocks run backwards would make every response time a lie.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd

from expectations.core import BLOCKING, Check, SuiteResult, run_suite
from expectations.rules import as_datetimes, key_checks, not_after, not_in_future

SUITE_NAME = "marts.fct_calls_for_service"
ROW_KEY = "call_id"
INDEX_COLUMNS = (ROW_KEY, "agency_id", "call_record_id")


def validate_calls_for_service(df: pd.DataFrame, today: date | None = None) -> SuiteResult:
    today = today or datetime.now(UTC).date()
    frame = as_datetimes(df, ["received_date"])
    outcomes = run_suite(frame, SUITE_NAME, _checks(today), index_columns=INDEX_COLUMNS)
    return SuiteResult.from_outcomes(SUITE_NAME, outcomes, row_count=len(df))


def _checks(today: date) -> list[Check]:
    return [
        *key_checks(
            ROW_KEY,
            ["agency_id", "call_record_id", "received_date", "call_source", "disposition"],
            "calls_for_service",
            {"call_source": "call_source", "disposition": "disposition"},
        ),
        Check(
            "priority_in_range",
            BLOCKING,
            "priority",
            "priority is between 1 and 9 (null allowed).",
            lambda gx: gx.expectations.ExpectColumnValuesToBeBetween(
                column="priority", min_value=1, max_value=9
            ),
        ),
        not_in_future("received_date", today),
        not_after(
            "received_at", "dispatched_at", "A unit is dispatched after the call is received."
        ),
        not_after("dispatched_at", "arrived_at", "The first unit arrives after it is dispatched."),
        not_after(
            "received_at", "arrived_at", "The first unit arrives after the call is received."
        ),
        not_after("received_at", "cleared_at", "A call is cleared after it is received."),
        not_after("arrived_at", "cleared_at", "A call is cleared after the first unit arrives."),
    ]
