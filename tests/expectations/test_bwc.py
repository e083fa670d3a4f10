"""The body-worn camera suites: clean batches pass; a deletion before the recording, an end
before the start, an inconsistent deletion flag and an unknown event type fail."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from expectations.bwc import validate_bwc_audit_events, validate_bwc_recordings
from expectations.core import BLOCKING

TODAY = date(2024, 12, 31)


def clean_recordings() -> pd.DataFrame:
    rows = []
    for n in range(24):
        start = pd.Timestamp("2024-02-01 10:00", tz="UTC") + timedelta(days=n)
        deleted = n % 4 == 0
        released = n % 6 == 1
        rows.append(
            {
                "recording_id": f"r{n}",
                "agency_id": "birch_so",
                "recording_record_id": f"EV{n}",
                "started_date": start.date(),
                "started_at": start,
                "ended_at": start + timedelta(minutes=20),
                "activation_trigger": ("manual", "signal_sidearm", "auto")[n % 3],
                "category": "non_evidence" if deleted else "use_of_force",
                "scheduled_deletion_date": start.date() + timedelta(days=180) if deleted else None,
                "deleted_date": start.date() + timedelta(days=180) if deleted else None,
                "is_deleted": deleted,
                "redaction_status": "redacted" if released else "not_required",
                "is_publicly_released": released,
                "released_date": start.date() + timedelta(days=30) if released else None,
            }
        )
    df = pd.DataFrame(rows)
    for column in ("started_date", "scheduled_deletion_date", "deleted_date", "released_date"):
        df[column] = pd.to_datetime(df[column])
    df["is_deleted"] = df["is_deleted"].astype("boolean")
    df["is_publicly_released"] = df["is_publicly_released"].astype("boolean")
    return df


def clean_events() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "audit_event_id": [f"e{n}" for n in range(10)],
            "recording_id": [f"r{n % 3}" for n in range(10)],
            "agency_id": ["birch_so"] * 10,
            "audit_event_record_id": [f"AU{n}" for n in range(10)],
            "event_type": ["viewed", "downloaded", "deleted", "shared_internal", "viewed"] * 2,
            "event_date": pd.to_datetime(["2024-05-01"] * 10),
        }
    )


@pytest.fixture
def recordings() -> pd.DataFrame:
    return clean_recordings()


def failed(result) -> dict[str, str]:
    return {r.name: r.severity for r in result.results if not r.success}


def test_clean_batches_pass(recordings):
    assert failed(validate_bwc_recordings(recordings, today=TODAY)) == {}
    assert failed(validate_bwc_audit_events(clean_events(), today=TODAY)) == {}


def test_deletion_before_recording_and_end_before_start_are_blocking(recordings):
    recordings.loc[0, "deleted_date"] = recordings.loc[0, "started_date"] - timedelta(days=1)
    recordings.loc[3, "ended_at"] = recordings.loc[3, "started_at"] - timedelta(seconds=5)
    recordings.loc[5, "deleted_date"] = recordings.loc[5, "started_date"] + timedelta(days=9)
    result = validate_bwc_recordings(recordings, today=TODAY)
    assert failed(result) == {
        "deleted_date_not_before_started_date": BLOCKING,
        "ended_at_not_before_started_at": BLOCKING,
        "kept_recording_has_no_deleted_date": BLOCKING,
    }
    assert not result.success_blocking


def test_unknown_event_type_and_missing_recording_are_blocking():
    events = clean_events()
    events.loc[1, "event_type"] = "Exported"
    events.loc[2, "recording_id"] = None
    result = validate_bwc_audit_events(events, today=TODAY)
    assert failed(result) == {
        "event_type_in_domain": BLOCKING,
        "recording_id_not_null": BLOCKING,
    }
