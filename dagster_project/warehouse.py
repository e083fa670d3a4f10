"""Short-lived connections to the warehouse, and the table where every check result is kept.

DuckDB lets one process hold a read-write connection at a time, and dbt runs in a subprocess: a
connection left open here would make dbt fail at once on the lock (STACK-NOTES.md). So every
helper opens, works and closes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import duckdb

from ingestion import settings

CHECK_RESULTS_DDL = """
create schema if not exists quality;
create table if not exists quality.check_results (
    run_id varchar not null,
    checked_at timestamptz not null,
    asset_key varchar not null,
    check_name varchar not null,
    severity varchar not null,      -- blocking | warn
    passed boolean not null,
    description varchar,
    details json
);
"""


@contextmanager
def connect(read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    path = settings.warehouse_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    try:
        yield con
    finally:
        con.close()


def record_checks(run_id: str, results: Iterable[dict]) -> None:
    """results: dicts with asset_key, check_name, severity, passed, description, details."""
    rows = [
        (
            run_id,
            datetime.now(UTC),
            r["asset_key"],
            r["check_name"],
            r["severity"],
            bool(r["passed"]),
            r.get("description"),
            json.dumps(r.get("details") or {}, default=str),
        )
        for r in results
    ]
    if not rows:
        return
    with connect() as con:
        con.execute(CHECK_RESULTS_DDL)
        con.executemany("insert into quality.check_results values (?, ?, ?, ?, ?, ?, ?, ?)", rows)


def check_results(run_id: str | None = None) -> list[dict]:
    """Results of one run (default: the latest run that recorded any)."""
    if not settings.warehouse_path().exists():
        return []
    with connect(read_only=True) as con:
        if not con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'quality' and table_name = 'check_results'"
        ).fetchone()[0]:
            return []
        if run_id is None:
            row = con.execute(
                "select run_id from quality.check_results order by checked_at desc limit 1"
            ).fetchone()
            if row is None:
                return []
            run_id = row[0]
        cursor = con.execute(
            "select * from quality.check_results where run_id = ? order by checked_at, asset_key, check_name",
            [run_id],
        )
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )
