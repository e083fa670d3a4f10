"""Shared helpers of the real-export tests: nightly runs over a temporary landing zone.

A nightly run pays a large fixed cost (dbt build of the whole project, the GX suites, the fits,
publication) whatever it loads, so the modules here share runs instead of each paying it: every
module says what it lands (its `landings()`: nothing when its export is absent or its agency not
onboarded) and its `run` fixture returns one of the session-scoped runs below, which lands the
files of all collected modules that use it into one landing zone and runs the nightly job once.
Each module filters its assertions by agency and dataset, so other modules' data in the same
warehouse and release cannot change its answers. tests/conftest.py keeps the modules of one run
on one xdist worker.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import time
from collections.abc import Iterator
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
    try:
        with contextlib.redirect_stdout(summary):
            rc = run_pipeline()
    finally:
        # the environment is the run's only: a session-scoped run must not leave it to the
        # tests that follow on the same worker
        mp.undo()
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
        shutil.rmtree(data, ignore_errors=True)


Landings = dict[tuple[str, str], list[Path]]


def shared_landings(session: pytest.Session, fixture: str) -> dict[str, Landings]:
    """module name -> its landings, for the collected modules with a test using `fixture`."""
    modules = {item.module for item in session.items if fixture in item.fixturenames}
    return {m.__name__: m.landings() for m in sorted(modules, key=lambda m: m.__name__)}


def shared_run(request: pytest.FixtureRequest, tmp_path_factory, fixture: str) -> Iterator[dict]:
    by_module = shared_landings(request.session, fixture)
    landings: Landings = {}
    for module_landings in by_module.values():
        for key, paths in module_landings.items():
            merged = landings.setdefault(key, [])
            merged.extend(p for p in paths if p not in merged)
    if not landings:
        pytest.skip(f"{fixture}: no real export available to load (modules {sorted(by_module)})")
    label = ", ".join(f"{owner}/{dataset}" for owner, dataset in landings)
    with nightly_run(tmp_path_factory.mktemp(f"lantern_{fixture}"), landings, label) as run:
        yield {**run, "landings": landings, "modules": sorted(by_module)}


@pytest.fixture(scope="session")
def real_run_a(request, tmp_path_factory):
    """One nightly run for stops, arrests, incidents and complaints (disjoint agencies and
    datasets)."""
    yield from shared_run(request, tmp_path_factory, "real_run_a")


@pytest.fixture(scope="session")
def real_run_b(request, tmp_path_factory):
    """One nightly run for the use-of-force modules and the fatal-force reference (Seattle's and
    Chicago's force records land once for all of them)."""
    yield from shared_run(request, tmp_path_factory, "real_run_b")
