"""The fct_calls_for_service suite: a clean batch passes; clocks running backwards fail."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from expectations.calls_for_service import validate_calls_for_service
from expectations.core import BLOCKING

TODAY = date(2024, 12, 31)


def clean_calls() -> pd.DataFrame:
    rows = []
    for n in range(30):
        received = pd.Timestamp("2024-03-01 08:00", tz="UTC") + timedelta(hours=7 * n)
        cancelled = n % 10 == 9
        rows.append(
            {
                "call_id": f"c{n}",
                "agency_id": "alder_pd",
                "call_record_id": f"C{n}",
                "received_date": received.date(),
                "received_at": received,
                "dispatched_at": received + timedelta(seconds=60 + n),
                "arrived_at": None if cancelled else received + timedelta(seconds=400 + n),
                "cleared_at": received + timedelta(seconds=3000),
                "priority": 1 + n % 4,
                "call_source": ("911", "non_emergency", "officer_initiated")[n % 3],
                "disposition": "cancelled" if cancelled else ("report", "arrest", "advised")[n % 3],
            }
        )
    df = pd.DataFrame(rows)
    for column in ("received_at", "dispatched_at", "arrived_at", "cleared_at"):
        df[column] = pd.to_datetime(df[column], utc=True)
    df["priority"] = df["priority"].astype("Int32")
    return df


@pytest.fixture
def calls() -> pd.DataFrame:
    return clean_calls()


def failed(result) -> dict[str, str]:
    return {r.name: r.severity for r in result.results if not r.success}


def test_clean_batch_passes(calls):
    result = validate_calls_for_service(calls, today=TODAY)
    assert failed(result) == {}
    assert result.success_blocking and result.row_count == 30


def test_arrival_before_dispatch_and_bad_codes_are_blocking(calls):
    calls.loc[2, "arrived_at"] = calls.loc[2, "dispatched_at"] - timedelta(seconds=1)
    calls.loc[4, "disposition"] = "GOA"
    calls.loc[5, "priority"] = 0
    calls.loc[6, "received_date"] = TODAY + timedelta(days=1)
    result = validate_calls_for_service(calls, today=TODAY)
    assert failed(result) == {
        "arrived_at_not_before_dispatched_at": BLOCKING,
        "disposition_in_domain": BLOCKING,
        "priority_in_range": BLOCKING,
        "received_date_not_in_future": BLOCKING,
    }
    assert result.outcome("arrived_at_not_before_dispatched_at").unexpected_count == 1
    # still after the call was received: only the dispatch order is broken
    assert result.outcome("arrived_at_not_before_received_at").success
    assert not result.success_blocking
