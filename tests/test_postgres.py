"""PostgreSQL as the warehouse (issue 7, point 5): the same demo, the same dlt pipelines and dbt
models, once on DuckDB and once on a real PostgreSQL server, give the same public marts.

dagster_project/scripts/postgres.sh installs Debian's `postgresql` when it is absent (as root) and starts a
throwaway server on 127.0.0.1; the real nightly job (dlt -> dbt build with its tests -> Great
Expectations suites -> model fits -> publication) runs once per engine, each in its own data
folder, on the same generated exports. Then every table the publication publishes is compared
row by row between the two warehouses (same columns, same rows, values equal; doubles within a
relative 1e-9, timestamps as UTC instants), and the two releases' files and schemas too.

The only values allowed to differ are the run's own clock (when each run loaded its files and
the load id taken from it): those columns are compared by their order within the run instead.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dagster_project.publication import current_release, published_tables
from ingestion import demo, settings

ROWS = 2_000
SALT = "postgres-salt"
AS_OF = "2024-03-01T00:00:00+00:00"
SCRIPT = settings.PROJECT_ROOT / "dagster_project" / "scripts" / "postgres.sh"
# Columns holding the run's clock: when the files were loaded (and ids made from it).
CLOCK_COLUMNS = {"loaded_at", "load_id", "last_received_at", "first_received_at"}
REL_TOL = 1e-9


def _script(*args: str) -> str:
    done = subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(
            f"dagster_project/scripts/postgres.sh {' '.join(args)}: {done.stderr.strip()}"
        )
    return done.stdout.strip()


@pytest.fixture(scope="module")
def postgres():
    """A real PostgreSQL server from the project's script, stopped and removed at the end. Its
    folder is directly under the system's temporary folder: as root the server runs as the
    `postgres` user, who must reach it (pytest's own temporary folders are private)."""
    try:
        _script("install")
    except RuntimeError as exc:
        if os.geteuid() != 0:
            pytest.skip(f"PostgreSQL is not installed and this is not root to install it: {exc}")
        raise
    folder = Path(tempfile.mkdtemp(prefix="lantern-postgres-"))
    try:
        dsn = _script("start", str(folder))
    except RuntimeError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    try:
        url = urlparse(dsn.splitlines()[-1])
        yield {
            "PGHOST": url.hostname,
            "PGPORT": str(url.port),
            "PGUSER": url.username,
            "PGPASSWORD": url.password,
            "PGDATABASE": url.path.lstrip("/"),
        }
    finally:
        _script("stop", str(folder))
        shutil.rmtree(folder, ignore_errors=True)


def _environment(data: Path, landing: Path, target: str, server: dict) -> dict[str, str]:
    return {
        "LANTERN_TARGET": target,
        "LANTERN_DATA_DIR": str(data),
        "LANTERN_LANDING_DIR": str(landing),
        "LANTERN_WAREHOUSE": str(data / "warehouse.duckdb"),
        "DAGSTER_HOME": str(data / "dagster_home"),
        "LANTERN_SALT": SALT,
        "LANTERN_FRESHNESS_AS_OF": AS_OF,
        **server,
    }


def _results(environment: dict[str, str], rc: int) -> dict:
    """What one run published, read back from its warehouse and release."""
    from dagster_project import warehouse

    mp = pytest.MonkeyPatch()
    try:
        for key, value in environment.items():
            mp.setenv(key, value)
        data = Path(environment["LANTERN_DATA_DIR"])
        release = current_release(data / "publish")
        tables = json.loads((release / "release.json").read_text())["tables"] if release else []
        checks = sorted(
            (c["asset_key"], c["check_name"], c["severity"], c["passed"])
            for c in warehouse.check_results()
        )
        return {
            "rc": rc,
            "data": data,
            "release": release,
            "tables": tables,
            "rows": _read(tables, environment["LANTERN_TARGET"]),
            "checks": checks,
        }
    finally:
        mp.undo()


def _read(tables: list[str], target: str) -> dict[str, tuple[list[str], list[tuple]]]:
    """Every published table's columns and rows, read straight from the warehouse."""
    from dagster_project import warehouse

    out = {}
    with warehouse.connect(read_only=True) as con:
        if target == "duckdb":
            con.execute("set TimeZone = 'UTC'")
        for table in tables:
            cursor = con.execute(f"select * from {table}")
            out[table] = ([d[0] for d in cursor.description], cursor.fetchall())
    return out


@pytest.fixture(scope="module")
def runs(postgres, tmp_path_factory):
    """`lantern run` (the real nightly job) once per engine, side by side on the same exports."""
    from dagster_project.defs.transform import prepare_manifest

    root = tmp_path_factory.mktemp("lantern-pg")
    landing = root / "landing"
    manifest = demo.generate(landing, rows=ROWS)
    prepare_manifest()  # once, before the two runs start
    environments = {
        "duckdb": _environment(root / "duckdb", landing, "duckdb", {}),
        "postgres": _environment(root / "postgres", landing, "postgres", postgres),
    }
    lantern = Path(sys.executable).with_name("lantern")
    processes = {}
    for target, environment in environments.items():
        log = root / f"{target}.log"
        with log.open("w") as out:
            processes[target] = subprocess.Popen(
                [str(lantern), "run"],
                env={**os.environ, **environment},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
    out = {"manifest": manifest}
    for target, process in processes.items():
        rc = process.wait(timeout=1200)
        assert rc == 0, f"lantern run on {target} failed:\n" + "\n".join(
            (root / f"{target}.log").read_text().splitlines()[-40:]
        )
        out[target] = _results(environments[target], rc)
    return out


def _value(v):
    if isinstance(v, datetime) and v.tzinfo is not None:
        return v.astimezone(UTC)
    if isinstance(v, Decimal):
        return float(v)
    return v


def _normalised(columns: list[str], rows: list[tuple]) -> list[tuple]:
    """Rows as comparable values, clock columns replaced by their rank within the table."""
    rows = [tuple(_value(v) for v in row) for row in rows]
    for i, column in enumerate(columns):
        if column in CLOCK_COLUMNS:
            order = {v: n for n, v in enumerate(sorted({r[i] for r in rows if r[i] is not None}))}
            rows = [r[:i] + (order.get(r[i]),) + r[i + 1 :] for r in rows]
    return sorted(rows, key=lambda r: tuple((v is None, str(type(v)), v) for v in r))


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float | int):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=1e-12)
    return a == b


def test_both_engines_publish_the_same_tables(runs):
    duck, pg = runs["duckdb"], runs["postgres"]
    assert duck["rc"] == 0 and pg["rc"] == 0
    assert pg["tables"] == duck["tables"]
    # every public mart, fits and quality marts included
    assert len(duck["tables"]) >= 40
    assert {"marts.fct_stops", "marts.mart_threshold_test", "marts.mart_quality_files"} <= set(
        duck["tables"]
    )
    assert pg["release"] != duck["release"]


def test_every_public_mart_is_equal_row_by_row(runs):
    duck, pg = runs["duckdb"]["rows"], runs["postgres"]["rows"]
    compared = {}
    for table, (columns, rows) in duck.items():
        pg_columns, pg_rows = pg[table]
        assert pg_columns == columns, table
        assert len(pg_rows) == len(rows), table
        left, right = _normalised(columns, rows), _normalised(columns, pg_rows)
        for number, (a, b) in enumerate(zip(left, right, strict=True)):
            different = [
                (c, x, y) for c, x, y in zip(columns, a, b, strict=True) if not _same(x, y)
            ]
            assert not different, f"{table} row {number}: {different[:5]}"
        compared[table] = len(rows)
    # the demo's stops, every one published on both engines; every fact compared holds rows
    expected = sum(runs["manifest"]["expected_accepted_person_stops"].values())
    assert compared["marts.fct_stops"] == expected
    assert all(n > 0 for t, n in compared.items() if t.startswith("marts.fct_")), compared
    assert sum(compared.values()) > 10_000


def test_published_files_are_the_same(runs):
    duck, pg = runs["duckdb"]["release"], runs["postgres"]["release"]
    d_package = json.loads((duck / "datapackage.json").read_text())
    p_package = json.loads((pg / "datapackage.json").read_text())
    schemas = {r["name"]: r.get("schema") for r in d_package["resources"]}
    assert {r["name"]: r.get("schema") for r in p_package["resources"]} == schemas
    d_counts = json.loads((duck / "release.json").read_text())["row_counts"]
    assert json.loads((pg / "release.json").read_text())["row_counts"] == d_counts
    d_tables, p_tables = published_tables(duck), published_tables(pg)
    assert {t: [p.name for p in f] for t, f in p_tables.items()} == {
        t: [p.name for p in f] for t, f in d_tables.items()
    }  # the same files, parts included
    assert set(d_tables) == set(d_counts)
    for table, files in d_tables.items():
        a = pa.concat_tables([pq.read_table(f) for f in files])
        b = pa.concat_tables([pq.read_table(f) for f in p_tables[table]])
        assert b.schema.names == a.schema.names, table
        assert [f.type for f in b.schema] == [f.type for f in a.schema], table
        columns = a.schema.names
        left = _normalised(columns, [tuple(r.values()) for r in a.to_pylist()])
        right = _normalised(columns, [tuple(r.values()) for r in b.to_pylist()])
        assert len(left) == len(right) == d_counts[table]
        for x, y in zip(left, right, strict=True):
            assert all(_same(u, v) for u, v in zip(x, y, strict=True)), table


def test_the_same_quality_gate_ran_on_both(runs):
    """dbt tests and Great Expectations suites: the same checks, with the same outcomes."""
    duck, pg = runs["duckdb"]["checks"], runs["postgres"]["checks"]
    assert len(duck) > 100
    assert pg == duck


def test_postgres_warehouse_holds_the_marts(runs, postgres):
    """The PostgreSQL run wrote to the server, not to a DuckDB file."""
    import psycopg2

    assert not (runs["postgres"]["data"] / "warehouse.duckdb").exists()
    con = psycopg2.connect(
        host=postgres["PGHOST"],
        port=postgres["PGPORT"],
        user=postgres["PGUSER"],
        password=postgres["PGPASSWORD"],
        dbname=postgres["PGDATABASE"],
    )
    try:
        with con.cursor() as cursor:
            cursor.execute("select count(*) from marts.fct_stops")
            stops = cursor.fetchone()[0]
    finally:
        con.close()
    assert stops == len(runs["duckdb"]["rows"]["marts.fct_stops"][1]) > 0
