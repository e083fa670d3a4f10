"""The fault-injection suite's shared clean run, and what every fault is compared with.

One clean run of the real nightly job on small demo exports (session scope: built once, copied
by each test module, never modified) gives the baseline: its published tables' contents. A fault
is injected into a copy of that state (or a fresh landing zone, for the crash tests), the real job
runs again, and the published numbers must equal the baseline's.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

from dagster_project.publication import current_release, published_tables
from ingestion import demo

ROWS = 400
SALT = "fault-suite-salt"
# Columns that say when and from which file a row was loaded: a re-run or a re-sent copy changes
# them and nothing else, so the published numbers are compared without them.
LINEAGE_COLUMNS = {
    "source_file",
    "source_row",
    "file_hash",
    "loaded_at",
    "load_id",
    "first_loaded_at",
    "last_loaded_at",
}
# The quality report describes the deliveries themselves, so a fault changes it by design.
QUALITY_PREFIX = "mart_quality_"


def lantern_env(data: Path) -> dict[str, str]:
    return {
        "LANTERN_DATA_DIR": str(data),
        "LANTERN_WAREHOUSE": str(data / "warehouse.duckdb"),
        "DAGSTER_HOME": str(data / "dagster_home"),
        "LANTERN_SALT": SALT,
    }


@contextmanager
def lantern_at(data: Path) -> Iterator[None]:
    """Point every Lantern path at `data` (and nowhere else) for the duration."""
    mp = pytest.MonkeyPatch()
    for key, value in lantern_env(data).items():
        mp.setenv(key, value)
    for key in ("LANTERN_LANDING_DIR", "LANTERN_PUBLISH_DIR", "LANTERN_AGENCIES_DIR"):
        mp.delenv(key, raising=False)
    mp.delenv("LANTERN_FAULT_AT", raising=False)
    try:
        yield
    finally:
        mp.undo()


def published_numbers(release: Path) -> dict[str, tuple[int, list]]:
    """table -> (rows, sorted rows without lineage columns) of every published non-quality table."""
    out = {}
    con = duckdb.connect()
    try:
        for table, files in published_tables(release).items():  # parts included
            if table.startswith(QUALITY_PREFIX):
                continue
            columns = [
                r[0]
                for r in con.execute(
                    "select name from parquet_schema(?) where num_children is null", [str(files[0])]
                ).fetchall()
                if r[0] not in LINEAGE_COLUMNS and r[0] != "duckdb_schema"
            ]
            select = ", ".join('"' + c.replace('"', '""') + '"' for c in columns)
            paths = [str(f) for f in files]
            rows = con.execute(f"select {select} from read_parquet(?)", [paths]).fetchall()
            out[table] = (len(rows), sorted(map(repr, rows)))
    finally:
        con.close()
    return out


def quality_rows(release: Path, table: str) -> list[dict]:
    import csv

    with (release / "data" / f"{table}.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def query(data: Path, sql: str, params=None) -> list[tuple]:
    con = duckdb.connect(str(data / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def reconciliation_gaps(data: Path) -> list[tuple]:
    """Files whose raw rows differ from accepted + rejected + quarantined, counted in the tables
    themselves (not in the ledger's own sums)."""
    datasets = [
        r[0] for r in query(data, "select distinct dataset from raw.files where status = 'loaded'")
    ]
    accepted = " + ".join(
        f"(select count(*) from raw.{d} where _file_hash = files.file_hash"
        f" and _load_id = files.load_id)"
        for d in datasets
    )
    return query(
        data,
        f"""
        select source_file, status, rows_raw, {accepted or "0"} as accepted,
               (select count(*) from raw.rejects where file_hash = files.file_hash
                    and load_id = files.load_id) as rejected,
               rows_quarantined
        from raw.files as files
        where status <> 'duplicate'
        """,
    )


def copy_state(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, symlinks=True)
    return target


def status_json(data: Path) -> tuple[int, dict]:
    import contextlib
    import io

    from dagster_project import cli

    buffer = io.StringIO()
    with lantern_at(data), contextlib.redirect_stdout(buffer):
        rc = cli.status(as_json=True)
    return rc, json.loads(buffer.getvalue())


@pytest.fixture(scope="session")
def baseline(tmp_path_factory) -> dict:
    """A clean run over the demo agencies' small exports: the state every fault starts from."""
    from dagster_project import cli

    data = tmp_path_factory.mktemp("fault-baseline")
    manifest = demo.generate(data / "landing", rows=ROWS)
    with lantern_at(data):
        rc = cli.run_pipeline()
    release = current_release(data / "publish")
    assert rc == 0 and release is not None, "the clean baseline run did not publish"
    return {
        "data": data,
        "manifest": manifest,
        "release": release,
        "numbers": published_numbers(release),
    }


@pytest.fixture(scope="session")
def lantern():
    """The helpers above, for the test modules (pytest's importlib mode cannot import conftest)."""
    import types

    return types.SimpleNamespace(
        copy_state=copy_state,
        lantern_at=lantern_at,
        lantern_env=lantern_env,
        published_numbers=published_numbers,
        quality_rows=quality_rows,
        query=query,
        reconciliation_gaps=reconciliation_gaps,
        status_json=status_json,
    )
