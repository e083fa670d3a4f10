"""A record type's suite validated in parts split by a hash of its row key gives the outcomes of
one validation of the whole batch: a key repeated across the batch lands in one part."""

from __future__ import annotations

import duckdb

from dagster_project.defs.quality import validate_in_key_parts
from expectations.core import BLOCKING, Check, SuiteResult, run_suite

BATCH = "select * from calls"


def _validate(frame) -> SuiteResult:
    checks = [
        Check(
            "call_id_unique",
            BLOCKING,
            "call_id",
            "",
            lambda gx: gx.expectations.ExpectColumnValuesToBeUnique(column="call_id"),
        ),
        Check(
            "priority_in_range",
            BLOCKING,
            "priority",
            "",
            lambda gx: gx.expectations.ExpectColumnValuesToBeBetween(
                column="priority", min_value=1, max_value=9
            ),
        ),
    ]
    outcomes = run_suite(frame, "test.calls", checks, index_columns=("call_id",))
    return SuiteResult.from_outcomes("test.calls", outcomes, row_count=len(frame))


def test_parts_by_key_equal_the_whole_batch():
    con = duckdb.connect()
    con.execute(
        """
        create table calls as
        select 'c' || lpad(range::varchar, 6, '0') as call_id,
               case when range % 997 = 0 then 12 else 1 + range % 9 end as priority
        from range(20000)
        """
    )
    # the same key three times, far apart in the batch
    con.execute("update calls set call_id = 'c000007' where call_id in ('c010000', 'c019999')")
    whole = validate_in_key_parts(con, BATCH, "call_id", _validate, part_rows=1_000_000)
    parts = validate_in_key_parts(con, BATCH, "call_id", _validate, part_rows=3_000)
    assert whole.row_count == parts.row_count == 20000
    for name, failures in (("call_id_unique", 3), ("priority_in_range", 21)):
        one, split = whole.outcome(name), parts.outcome(name)
        assert not one.success and not split.success
        assert one.unexpected_count == split.unexpected_count == failures
    assert (
        whole.outcome("call_id_unique").unexpected_examples
        == ['{"call_id": "c000007"}']
        == parts.outcome("call_id_unique").unexpected_examples
    )
