"""One demo release for every test in tests/reports: the real nightly job (dlt, dbt, the quality
gate, publication with its annual-reports hook) run once into a temporary data folder."""

from __future__ import annotations

import pytest

from dagster_project import cli
from dagster_project.publication import current_release
from ingestion import demo

ROWS = 6_000


@pytest.fixture(scope="session")
def demo_release(tmp_path_factory):
    data = tmp_path_factory.mktemp("lantern-reports")
    mp = pytest.MonkeyPatch()
    mp.setenv("LANTERN_DATA_DIR", str(data))
    mp.setenv("LANTERN_WAREHOUSE", str(data / "warehouse.duckdb"))
    mp.setenv("DAGSTER_HOME", str(data / "dagster_home"))
    mp.setenv("LANTERN_SALT", "test-salt")
    mp.setenv("LANTERN_REPORT_PDF", "latest")  # the nightly default (tests/conftest.py: none)
    demo.generate(data / "landing", rows=ROWS)
    assert cli.run_pipeline() == 0
    release = current_release(data / "publish")
    assert release is not None
    yield release
    mp.undo()
