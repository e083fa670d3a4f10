"""Shared helpers of the real-export tests: a nightly run over a temporary landing zone."""

from __future__ import annotations

import contextlib
import io
import shutil
import time
from pathlib import Path

import duckdb
import pytest

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real"


def query(warehouse: Path, sql: str, params=None) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


@contextlib.contextmanager
def nightly_run(data: Path, landings: dict[tuple[str, str], list[Path]], label: str):
    """Copy each (agency or source, dataset)'s files into `data`/landing, run the nightly job
    once in process with the repository's mappings, and yield what the tests look at."""
    mp = pytest.MonkeyPatch()
    for var in ("LANTERN_AGENCIES_DIR", "LANTERN_LANDING_DIR", "LANTERN_PUBLISH_DIR"):
        mp.delenv(var, raising=False)  # the repository's mappings, the folders below
    mp.setenv("LANTERN_DATA_DIR", str(data))
    mp.setenv("LANTERN_WAREHOUSE", str(data / "warehouse.duckdb"))
    mp.setenv("DAGSTER_HOME", str(data / "dagster_home"))
    mp.setenv("LANTERN_SALT", "test")
    for (owner, dataset), paths in landings.items():
        folder = data / "landing" / owner / dataset
        folder.mkdir(parents=True, exist_ok=True)
        for source in paths:
            shutil.copyfile(source, folder / source.name)

    from dagster_project.cli import run_pipeline

    summary = io.StringIO()
    started = time.monotonic()
    with contextlib.redirect_stdout(summary):
        rc = run_pipeline()
    print(f"nightly run over {label}: rc={rc} in {time.monotonic() - started:.0f} s")
    print(summary.getvalue())
    try:
        yield {
            "rc": rc,
            "summary": summary.getvalue(),
            "data": data,
            "warehouse": data / "warehouse.duckdb",
            "published": data / "publish" / "current" / "data",
        }
    finally:
        mp.undo()
        shutil.rmtree(data, ignore_errors=True)
