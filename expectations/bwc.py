"""Great Expectations suites of `marts.fct_bwc_recordings` and `marts.fct_bwc_audit_events`.

Recordings, blocking: key, required fields, value domains of ingestion/canonical/
bwc_recordings.yml; a recording ends after it starts; it is deleted, scheduled for deletion and
released only after it was recorded; is_deleted agrees with deleted_date; a release date only on
a released recording; no recording started in the future. Audit events, blocking: key, the
recording named, event-type domain, no event in the future.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd

from expectations.core import SuiteResult, run_suite
from expectations.rules import (
    as_datetimes,
    key_checks,
    not_after,
    not_in_future,
    not_null_when,
    null_when,
)

RECORDINGS_SUITE = "marts.fct_bwc_recordings"
AUDIT_SUITE = "marts.fct_bwc_audit_events"
DATE_COLUMNS = ["started_date", "scheduled_deletion_date", "deleted_date", "released_date"]


def validate_bwc_recordings(df: pd.DataFrame, today: date | None = None) -> SuiteResult:
    today = today or datetime.now(UTC).date()
    frame = as_datetimes(df, DATE_COLUMNS)
    checks = [
        *key_checks(
            "recording_id",
            [
                "agency_id",
                "recording_record_id",
                "started_date",
                "activation_trigger",
                "category",
                "redaction_status",
                "is_deleted",
                "is_publicly_released",
            ],
            "bwc_recordings",
            {
                "activation_trigger": "activation_trigger",
                "category": "category",
                "redaction_status": "redaction_status",
            },
        ),
        not_in_future("started_date", today),
        not_after("started_at", "ended_at", "A recording ends after it starts."),
        not_after("started_date", "deleted_date", "A recording is deleted after it was recorded."),
        not_after(
            "started_date",
            "scheduled_deletion_date",
            "A recording's deletion is scheduled after it was recorded.",
        ),
        not_after(
            "started_date", "released_date", "A recording is released after it was recorded."
        ),
        not_null_when(
            "deleted_recording_has_deleted_date",
            "deleted_date",
            ("is_deleted", True),
            "A deleted recording says when it was deleted.",
        ),
        null_when(
            "kept_recording_has_no_deleted_date",
            "deleted_date",
            ("is_deleted", False),
            "A recording still kept has no deletion date.",
        ),
        null_when(
            "unreleased_recording_has_no_release_date",
            "released_date",
            ("is_publicly_released", False),
            "Only a released recording has a release date.",
        ),
    ]
    outcomes = run_suite(
        frame, RECORDINGS_SUITE, checks, index_columns=("recording_id", "agency_id")
    )
    return SuiteResult.from_outcomes(RECORDINGS_SUITE, outcomes, row_count=len(df))


def validate_bwc_audit_events(df: pd.DataFrame, today: date | None = None) -> SuiteResult:
    today = today or datetime.now(UTC).date()
    frame = as_datetimes(df, ["event_date"])
    checks = [
        *key_checks(
            "audit_event_id",
            ["recording_id", "agency_id", "audit_event_record_id", "event_type", "event_date"],
            "bwc_audit_events",
            {"event_type": "event_type"},
        ),
        not_in_future("event_date", today),
    ]
    outcomes = run_suite(frame, AUDIT_SUITE, checks, index_columns=("audit_event_id", "agency_id"))
    return SuiteResult.from_outcomes(AUDIT_SUITE, outcomes, row_count=len(df))
