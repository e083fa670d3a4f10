"""`warehouse.insert_rows`: many rows in a few multi-row INSERT statements, every value kept."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pytest

from dagster_project import warehouse


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute("create table t (id integer, label varchar, seen timestamptz, ok boolean)")
    yield con
    con.close()


def test_rows_across_several_statements_arrive_whole_and_in_order(con, monkeypatch):
    statements = []
    execute = con.execute

    class Counting:
        def execute(self, sql, params=None):
            statements.append(sql)
            return execute(sql, params)

    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    rows = [
        (i, None if i % 7 == 0 else f"label ? %s {i}", moment, i % 2 == 0)
        for i in range(2 * warehouse.INSERT_CHUNK_ROWS + 3)
    ]
    warehouse.insert_rows(Counting(), "t", rows)
    assert len(statements) == 3
    stored = con.execute("select id, label, seen, ok from t order by id").fetchall()
    assert stored == rows


def test_a_column_list_and_no_rows(con):
    warehouse.insert_rows(con, "t (label, id)", [("a", 1), ("b", 2)])
    warehouse.insert_rows(con, "t", [])
    assert con.execute("select id, label, ok from t order by id").fetchall() == [
        (1, "a", None),
        (2, "b", None),
    ]


def test_rows_of_different_lengths_are_refused_before_any_insert(con):
    with pytest.raises(ValueError, match="rows of different lengths"):
        warehouse.insert_rows(con, "t", [(1, "a", None, True), (2, "b")])
    assert con.execute("select count(*) from t").fetchone() == (0,)
