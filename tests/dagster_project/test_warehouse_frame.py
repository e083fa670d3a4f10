"""`warehouse.frame` gives the frame DuckDB's `.df()` gives: the suites read their batches
through it, and their verdicts depend on the dtypes (nullable or not, text or object)."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from dagster_project import warehouse

# Every kind of column the warehouse's facts hold, with and without nulls, and a few more.
COLUMNS = """
    case when i % 3 = 0 then null else 'v' || i end as text_some_null,
    'w' || i as text,
    null::varchar as text_all_null,
    case when i % 4 = 0 then '' else 'x' end as text_empty_strings,
    i::integer as int_no_null,
    case when i % 2 = 0 then null else i end::integer as int_some_null,
    i::bigint * 1000000000000 as big,
    case when i % 5 = 0 then null else i % 2 = 0 end as bool_some_null,
    i % 2 = 0 as bool_no_null,
    date '2023-01-01' + i::integer as day,
    case when i % 7 = 0 then null else date '2023-01-01' + i::integer end as day_some_null,
    timestamp '2023-01-01 10:00:00' + to_minutes(i) as moment,
    timestamptz '2023-01-01 10:00:00+00' + to_minutes(i) as moment_tz,
    time '08:00:00' + to_seconds(i) as clock,
    i / 3.0 as ratio,
    case when i % 3 = 0 then null else i / 7.0 end::double as ratio_some_null,
    (i / 4)::decimal(10, 2) as amount,
    i::hugeint as huge,
    [i, i + 1] as pair,
    {'a': i, 'b': 'x' || i} as record,
    to_days(i::integer) as span,
    ('b' || i)::blob as bytes,
    i::float as single
"""


@pytest.mark.parametrize("rows", [0, 1, 50])
def test_frame_equals_duckdbs_df_on_every_column_kind(rows):
    con = duckdb.connect()
    sql = f"select {COLUMNS} from range({rows}) as t(i) order by i"
    expected = con.execute(sql).df()
    got = warehouse.frame(con, sql)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert list(got.dtypes.astype(str)) == list(expected.dtypes.astype(str))
    if rows == 50:  # the kinds the suites rely on are what they were
        assert str(got["text_some_null"].dtype) == "str"
        assert got["text_all_null"].dtype == object and got["text_all_null"].isna().all()
        assert str(got["int_some_null"].dtype) == "Int32"
        assert str(got["bool_some_null"].dtype) == "boolean"
        assert got["bool_no_null"].dtype == bool


def test_frame_with_parameters_and_repeated_column_names():
    con = duckdb.connect()
    sql = "select i as a, i * 2 as a, 'x' || i as b from range(5) as t(i) where i >= ? order by i"
    got = warehouse.frame(con, sql, [2])
    pd.testing.assert_frame_equal(got, con.execute(sql, [2]).df())
    assert len(got) == 3
