"""run_suite validates each row-wise expectation on the distinct values of the columns it reads
(each standing for its rows) and uniqueness on the repeated values only: the outcomes must be
those of GX validating every row, counts and examples included."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from expectations.core import BLOCKING, WARN, Check, run_suite
from expectations.rules import condition

ROWS = 4_000


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "row_id": pd.Series([f"r{i:06d}" for i in range(ROWS)], dtype=object),
            "agency_id": pd.Categorical(rng.choice(["a", "b", "c"], ROWS)),
            "race": pd.Categorical(
                rng.choice(["white", "black", "bad", None], ROWS, p=[0.5, 0.35, 0.05, 0.1])
            ),
            "age": np.where(rng.random(ROWS) < 0.1, np.nan, rng.integers(5, 120, ROWS)).astype(
                float
            ),
            "searched": pd.Series(rng.choice([True, False, None], ROWS), dtype=object),
            "basis": pd.Series(rng.choice(["consent", None], ROWS), dtype=object),
            "received_at": pd.Timestamp("2023-01-01")
            + pd.to_timedelta(rng.integers(0, 10**7, ROWS), unit="s"),
        }
    )
    frame["cleared_at"] = frame["received_at"] + pd.to_timedelta(
        rng.integers(-5, 1000, ROWS), unit="s"
    )
    frame.loc[rng.choice(ROWS, 12, replace=False), "row_id"] = "repeated"
    frame.loc[rng.choice(ROWS, 9, replace=False), "cleared_at"] = pd.NaT
    return frame


def _checks() -> list[Check]:
    def expect(kind: str, **kwargs):
        return lambda gx: getattr(gx.expectations, kind)(**kwargs)

    return [
        Check("row_id_unique", BLOCKING, "row_id", "", expect("ExpectColumnValuesToBeUnique", column="row_id")),
        Check("race_in_domain", BLOCKING, "race", "", expect("ExpectColumnValuesToBeInSet", column="race", value_set=["white", "black"])),
        Check("race_not_null", WARN, "race", "", expect("ExpectColumnValuesToNotBeNull", column="race")),
        Check("race_in_a", BLOCKING, "race", "", expect("ExpectColumnValuesToNotBeNull", column="race", **condition(("agency_id", "a")))),
        Check("no_search_no_basis", BLOCKING, "basis", "", expect("ExpectColumnValuesToBeNull", column="basis", **condition(("searched", False)))),
        Check("age_in_range", BLOCKING, "age", "", expect("ExpectColumnValuesToBeBetween", column="age", min_value=10, max_value=110)),
        Check("received_in_q1", WARN, "received_at", "", expect("ExpectColumnValuesToBeBetween", column="received_at", max_value=pd.Timestamp("2023-03-01"))),
        Check("cleared_after_received", BLOCKING, "cleared_at", "", expect("ExpectColumnPairValuesAToBeGreaterThanB", column_A="cleared_at", column_B="received_at", or_equal=True, ignore_row_if="either_value_is_missing")),
        Check("agency_in_domain", BLOCKING, "agency_id", "", expect("ExpectColumnValuesToBeInSet", column="agency_id", value_set=["a", "b", "c"])),
        Check("absent_column", BLOCKING, "nowhere", "", expect("ExpectColumnValuesToNotBeNull", column="nowhere")),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def outcomes():
    frame = _frame()
    index = ("row_id", "agency_id")
    return {
        "frame": frame,
        "reduced": run_suite(frame, "test.core", _checks(), index_columns=index),
        "whole": run_suite(frame, "test.core", _checks(), index_columns=index, reduce=False),
    }


def test_validating_distinct_values_gives_the_outcomes_of_every_row(outcomes):
    assert [o.name for o in outcomes["reduced"]] == [c.name for c in _checks()]
    assert outcomes["reduced"] == outcomes["whole"]


def test_counts_are_rows_not_distinct_values(outcomes):
    frame = outcomes["frame"]
    by_name = {o.name: o for o in outcomes["reduced"]}
    assert by_name["row_id_unique"].unexpected_count == 12
    assert by_name["race_in_domain"].unexpected_count == int((frame["race"] == "bad").sum())
    assert by_name["race_not_null"].unexpected_count == int(frame["race"].isna().sum())
    in_a = frame["agency_id"] == "a"
    assert by_name["race_in_a"].unexpected_count == int((in_a & frame["race"].isna()).sum())
    searched_false = frame["searched"].map(lambda v: v is False)
    assert by_name["no_search_no_basis"].unexpected_count == int(
        (searched_false & frame["basis"].notna()).sum()
    )
    early = frame["cleared_at"] < frame["received_at"]
    assert by_name["cleared_after_received"].unexpected_count == int(early.sum()) > 0
    assert by_name["agency_in_domain"].success and by_name["agency_in_domain"].unexpected_count == 0
    assert not by_name["absent_column"].success  # could not be evaluated, as on every row
    assert "could not be evaluated" in by_name["absent_column"].description
    # examples name the rows: index columns and the value
    assert '"race": "bad"' in by_name["race_in_domain"].unexpected_examples[0]
    assert '"row_id": "repeated"' in by_name["row_id_unique"].unexpected_examples[0]


def test_an_empty_frame_passes_alike():
    empty = _frame().iloc[:0]
    reduced = run_suite(empty, "test.core", _checks(), index_columns=("row_id",))
    assert reduced == run_suite(
        empty, "test.core", _checks(), index_columns=("row_id",), reduce=False
    )
    assert all(o.success for o in reduced if o.name != "absent_column")
