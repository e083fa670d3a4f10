"""Short-lived connections to the warehouse, and the table where every check result is kept.

DuckDB lets one process hold a read-write connection at a time, and dbt runs in a subprocess: a
connection left open here would make dbt fail at once on the lock (STACK-NOTES.md). So every
helper opens, works and closes.

The warehouse is DuckDB (default) or PostgreSQL (`LANTERN_TARGET=postgres`, README "Running on
PostgreSQL"). `connect()` returns either a DuckDB connection or a `PostgresConnection` with the
part of DuckDB's interface Lantern uses (`execute(sql, params)` with `?` placeholders, then
`fetchone`, `fetchall`, `description`, `df`); SQL sent through it is kept portable.
`duckdb_copy()` copies PostgreSQL tables into an in-memory DuckDB for the steps that need
DuckDB's own features (the model fits, the Parquet/CSV writer).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
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
    details {json}
);
"""


def _placeholders(sql: str) -> str:
    """DuckDB's `?` placeholders -> psycopg2's `%s` (and a literal `%` -> `%%`), outside quotes."""
    out = []
    for part in re.split(r"('(?:[^']|'')*'|\"(?:[^\"]|\"\")*\")", sql):
        if part.startswith(("'", '"')):
            out.append(part.replace("%", "%%"))
        else:
            out.append(part.replace("%", "%%").replace("?", "%s"))
    return "".join(out)


class PostgresCursor:
    def __init__(self, cursor):
        self._cursor = cursor

    @property
    def description(self):
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    def fetchone(self):
        return self._cursor.fetchone()

    def fetchall(self) -> list[tuple]:
        return self._cursor.fetchall()

    def df(self):
        """The rows as the pandas frame DuckDB's `.df()` gives for the same table (same dtypes:
        the suites and fits see one frame whatever the warehouse)."""
        columns = [(d[0], _OID_TYPES.get(d[1], "VARCHAR")) for d in self._cursor.description]
        con = duckdb.connect(config=settings.duckdb_config(in_memory=True))
        try:
            return _typed_relation(con, columns, self._cursor.fetchall()).df()
        finally:
            con.close()


class PostgresConnection:
    """psycopg2 behind DuckDB's connection interface (the subset Lantern uses). Autocommit: each
    statement commits, as a DuckDB statement outside a transaction does."""

    def __init__(self, read_only: bool = False):
        import psycopg2

        self._con = psycopg2.connect(**settings.postgres_params())
        self._con.autocommit = True
        if read_only:
            self._con.set_session(readonly=True, autocommit=True)
        with self._con.cursor() as cursor:
            cursor.execute("set time zone 'UTC'")

    def execute(self, sql: str, params: Sequence | None = None) -> PostgresCursor:
        cursor = self._con.cursor()
        if params is None:
            cursor.execute(sql)
        else:
            cursor.execute(_placeholders(sql), list(params))
        return PostgresCursor(cursor)

    def executemany(self, sql: str, rows: Iterable[Sequence]) -> None:
        with self._con.cursor() as cursor:
            cursor.executemany(_placeholders(sql), [list(r) for r in rows])

    def close(self) -> None:
        self._con.close()


def frame(con, sql: str, params: Sequence | None = None):
    """The rows of `sql` as the pandas frame `.df()` gives (same columns, dtypes and values), in
    a fraction of its time on DuckDB: `.df()` turns every text value into a Python string
    before pandas stores it in Arrow again (1.7 of 2.5 s for a part of the stops suite, 800,000
    rows). Here the text columns go from DuckDB's Arrow result to pandas as they are, and the
    others through `.df()` over that result, so their dtypes stay DuckDB's (nullable integers
    and booleans where a column holds nulls, dates as datetime64). tests/dagster_project/
    test_warehouse_frame.py compares the two on every type the warehouse holds."""
    cursor = con.execute(sql) if params is None else con.execute(sql, params)
    names = [column[0] for column in cursor.description]
    if not isinstance(con, duckdb.DuckDBPyConnection) or len(set(names)) < len(names):
        return cursor.df()
    import pandas as pd
    import pyarrow as pa

    table = cursor.fetch_arrow_table()
    text = {
        name
        for name, kind in zip(table.column_names, table.schema.types, strict=True)
        if pa.types.is_string(kind) or pa.types.is_large_string(kind)
    }
    rest = [name for name in table.column_names if name not in text]
    parts = {
        # a column without a value is what `.df()` infers from Nones alone: object
        name: pd.Series([None] * table.num_rows, dtype=object)
        if table.column(name).null_count == table.num_rows
        else table.column(name).to_pandas()
        for name in text
    }
    if rest:
        others = duckdb.connect(config=settings.duckdb_config(in_memory=True))
        try:
            converted = others.from_arrow(table.select(rest)).df()
        finally:
            others.close()
        parts.update({name: converted[name] for name in rest})
    return pd.DataFrame({name: parts[name] for name in table.column_names})


# Rows per INSERT of `insert_rows`: 500 rows of a dozen columns stay far below PostgreSQL's
# 65,535 parameters of a statement.
INSERT_CHUNK_ROWS = 500


def insert_rows(con, into: str, rows: Sequence[Sequence]) -> None:
    """Insert `rows` with a few multi-row `insert into <into> values (...), (...)` statements.

    `executemany` runs one statement per row on both engines: 0.9 s for the 400 dbt test results
    of a night on DuckDB, against 0.02 s as one statement. `into`: the table, with its column
    list where the rows do not give every column in order."""
    rows = list(rows)
    for start in range(0, len(rows), INSERT_CHUNK_ROWS):
        chunk = rows[start : start + INSERT_CHUNK_ROWS]
        width = len(chunk[0])
        if any(len(row) != width for row in chunk):
            raise ValueError(f"insert into {into}: rows of different lengths")
        marks = "(" + ", ".join("?" * width) + ")"
        con.execute(
            f"insert into {into} values " + ", ".join([marks] * len(chunk)),
            [value for row in chunk for value in row],
        )


def exists() -> bool:
    """Whether there is a warehouse to read (PostgreSQL: whether the server answers)."""
    if settings.is_postgres():
        try:
            PostgresConnection(read_only=True).close()
        except Exception:
            return False
        return True
    return settings.warehouse_path().exists()


@contextmanager
def connect(read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection | PostgresConnection]:
    if settings.is_postgres():
        con = PostgresConnection(read_only=read_only)
    else:
        path = settings.warehouse_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(path), read_only=read_only, config=settings.duckdb_config())
    try:
        yield con
    finally:
        con.close()


def release_cache(con) -> None:
    """Hand back the memory a DuckDB connection keeps as cache (the blocks it read stay
    resident up to its memory limit): before the fits start their worker processes, which
    would otherwise sit beside up to 2 GB of cached fct_stops (issue 7: a night under 4 GiB).
    Nothing to do on PostgreSQL."""
    if not isinstance(con, duckdb.DuckDBPyConnection):
        return
    con.execute("set memory_limit = '64MB'")
    con.execute(f"set memory_limit = '{settings.duckdb_memory_limit()}'")


# PostgreSQL information_schema data_type -> the DuckDB type of the same values.
_DUCKDB_TYPES = {
    "character varying": "VARCHAR",
    "text": "VARCHAR",
    "character": "VARCHAR",
    "integer": "INTEGER",
    "smallint": "SMALLINT",
    "bigint": "BIGINT",
    "double precision": "DOUBLE",
    "real": "FLOAT",
    "numeric": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp with time zone": "TIMESTAMP WITH TIME ZONE",
    "timestamp without time zone": "TIMESTAMP",
    "time without time zone": "TIME",
    "time with time zone": "TIME WITH TIME ZONE",
    "json": "JSON",
    "jsonb": "JSON",
}


# PostgreSQL type OIDs (cursor.description) -> DuckDB types.
_OID_TYPES = {
    16: "BOOLEAN",
    20: "BIGINT",
    21: "SMALLINT",
    23: "INTEGER",
    25: "VARCHAR",
    1043: "VARCHAR",
    18: "VARCHAR",
    19: "VARCHAR",
    700: "FLOAT",
    701: "DOUBLE",
    1700: "DOUBLE",
    1082: "DATE",
    1083: "TIME",
    1266: "TIME WITH TIME ZONE",
    1114: "TIMESTAMP",
    1184: "TIMESTAMP WITH TIME ZONE",
    114: "JSON",
    3802: "JSON",
}


def _typed_relation(
    con: duckdb.DuckDBPyConnection, columns: list[tuple[str, str]], rows: list[tuple]
) -> duckdb.DuckDBPyRelation:
    """Python rows (from psycopg2) as a DuckDB relation of the given (column, DuckDB type)s."""
    import pandas as pd

    json_columns = {c for c, t in columns if t == "JSON"}
    if json_columns:  # psycopg2 parses json; DuckDB reads it back from text
        index = [i for i, (c, _) in enumerate(columns) if c in json_columns]
        rows = [
            tuple(json.dumps(v) if i in index and v is not None else v for i, v in enumerate(r))
            for r in rows
        ]
    names = [f"c{i}" for i in range(len(columns))]
    frame = pd.DataFrame.from_records(rows, columns=names).astype(object)
    frame = frame.where(frame.notna(), None)
    con.register("_pg_rows", frame)
    # an empty or all-null object column is read as an int; it is cast from text instead
    select = ", ".join(
        f'cast(cast({n} as varchar) as {t}) as "{c}"'
        if t in ("VARCHAR", "JSON") or frame[n].isna().all()
        else f'cast({n} as {t}) as "{c}"'
        for n, (c, t) in zip(names, columns, strict=True)
    )
    return con.sql(f"select {select} from _pg_rows")


def postgres_columns(con: PostgresConnection, schema: str, table: str) -> list[tuple[str, str]]:
    """(column, DuckDB type) of a PostgreSQL table, in order."""
    rows = con.execute(
        "select column_name, data_type from information_schema.columns"
        " where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, table],
    ).fetchall()
    return [(name, _DUCKDB_TYPES.get(kind, "VARCHAR")) for name, kind in rows]


def copy_into_duckdb(
    source: PostgresConnection, target: duckdb.DuckDBPyConnection, schema: str, table: str
) -> int:
    """Copy one PostgreSQL table into `target` as <schema>.<table>, typed as DuckDB types its
    values (a double stays a double, a timestamptz a timestamptz); returns its rows."""
    columns = postgres_columns(source, schema, table)
    if not columns:  # not there: the copy lacks it too, and the caller says so
        return 0
    names = ", ".join(f'"{c}"' for c, _ in columns)
    rows = source.execute(f'select {names} from "{schema}"."{table}"').fetchall()
    target.execute(f'create schema if not exists "{schema}"')
    relation = _typed_relation(target, columns, rows)
    target.execute(f'create or replace table "{schema}"."{table}" as {relation.sql_query()}')
    target.unregister("_pg_rows")
    return len(rows)


@contextmanager
def duckdb_copy(tables: Iterable[tuple[str, str]]) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB holding copies of the given (schema, table)s of the PostgreSQL
    warehouse, for the steps that run on DuckDB whatever the warehouse (fits, file writer)."""
    target = duckdb.connect(config=settings.duckdb_config(in_memory=True))
    target.execute("set TimeZone = 'UTC'")
    try:
        with connect(read_only=True) as source:
            for schema, table in tables:
                copy_into_duckdb(source, target, schema, table)
        yield target
    finally:
        target.close()


# DuckDB types -> PostgreSQL's, for tables computed on DuckDB and written back.
_POSTGRES_TYPES = {"DOUBLE": "double precision", "FLOAT": "real", "JSON": "jsonb"}


def copy_into_postgres(
    source: duckdb.DuckDBPyConnection, target: PostgresConnection, schema: str, table: str
) -> int:
    """Replace the PostgreSQL table <schema>.<table> with DuckDB's table of that name (same
    columns, the matching types); returns its rows."""
    described = source.execute(f'describe "{schema}"."{table}"').fetchall()
    columns = [(r[0], _POSTGRES_TYPES.get(r[1], r[1])) for r in described]
    names = ", ".join(f'"{c}"' for c, _ in columns)
    rows = source.execute(f'select {names} from "{schema}"."{table}"').fetchall()
    target.execute(f'create schema if not exists "{schema}"')
    target.execute(f'drop table if exists "{schema}"."{table}"')
    spec = ", ".join(f'"{c}" {t}' for c, t in columns)
    target.execute(f'create table "{schema}"."{table}" ({spec})')
    if rows:
        insert_rows(target, f'"{schema}"."{table}" ({names})', rows)
    return len(rows)


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
        con.execute(CHECK_RESULTS_DDL.format(json="jsonb" if settings.is_postgres() else "json"))
        insert_rows(con, "quality.check_results", rows)


def check_results(run_id: str | None = None) -> list[dict]:
    """Results of one run (default: the latest run that recorded any)."""
    if not exists():
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
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    for row in rows:  # PostgreSQL hands jsonb back parsed; DuckDB as text
        if not isinstance(row["details"], str | None):
            row["details"] = json.dumps(row["details"])
    return rows


def table_exists(
    con: duckdb.DuckDBPyConnection | PostgresConnection, schema: str, table: str
) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )
