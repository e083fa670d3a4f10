"""The run history storage (dagster_project/instance.py): the project's dagster.yaml selects it,
it writes the default SQLite files that Dagster's own storage (the UI, the daemon) reads, and it
keeps a bounded number of connections."""

from __future__ import annotations

import shutil
import sqlite3

import dagster as dg
import pytest
from dagster._core.storage.event_log import SqliteEventLogStorage

from dagster_project import instance as lantern_instance
from ingestion import settings


@dg.asset
def numbers() -> int:
    return 3


@dg.asset_check(asset=numbers)
def numbers_positive() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


JOB = dg.define_asset_job("numbers_job", selection=[numbers])
DEFS = dg.Definitions(assets=[numbers], asset_checks=[numbers_positive], jobs=[JOB])


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    shutil.copyfile(
        settings.PROJECT_ROOT / "dagster_project" / "dagster.yaml", tmp_path / "dagster.yaml"
    )
    return tmp_path


def run_once(instance: dg.DagsterInstance) -> str:
    result = DEFS.resolve_job_def("numbers_job").execute_in_process(instance=instance)
    assert result.success
    return result.run_id


def test_the_project_instance_uses_it_and_dagsters_own_storage_reads_its_runs(home):
    with dg.DagsterInstance.get() as instance:
        storage = instance.event_log_storage
        assert isinstance(storage, lantern_instance.LanternEventLogStorage)
        run_id = run_once(instance)
        written = [e.dagster_event_type for e in instance.all_logs(run_id) if e.is_dagster_event]
        with storage.run_connection(run_id) as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    assert (home / "history" / "runs" / f"{run_id}.db").is_file()

    stock = SqliteEventLogStorage(str(home / "history" / "runs"))
    try:
        read = [e.dagster_event_type for e in stock.get_logs_for_run(run_id) if e.is_dagster_event]
        assert read == written
        assert dg.DagsterEventType.ASSET_MATERIALIZATION in read
        assert dg.DagsterEventType.ASSET_CHECK_EVALUATION in read
        materialized = stock.get_latest_materialization_events([dg.AssetKey("numbers")])
        assert materialized[dg.AssetKey("numbers")].run_id == run_id
    finally:
        stock.dispose()


def test_connections_are_bounded_and_every_run_stays_whole(home):
    with dg.DagsterInstance.get() as instance:
        storage = instance.event_log_storage
        runs = [run_once(instance) for _ in range(lantern_instance.KEEP_ENGINES + 2)]
        assert len(storage._engines) <= lantern_instance.KEEP_ENGINES
        assert runs[0] not in storage._engines  # the oldest run's connections were closed

        instance.delete_run(runs[-1])
        assert {r.run_id for r in instance.get_runs()} == set(runs[:-1])
        assert not instance.all_logs(runs[-1])
        # every kept run is whole: its database opens and holds its success event
        con = sqlite3.connect(home / "history" / "runs" / f"{runs[0]}.db")
        try:
            types = {t for (t,) in con.execute("select dagster_event_type from event_logs")}
        finally:
            con.close()
        assert "PIPELINE_SUCCESS" in types


def test_a_table_found_is_asked_of_sqlite_once_and_a_missing_one_every_time(home, monkeypatch):
    asked = []
    stock_has_table = SqliteEventLogStorage.has_table

    def counting(self, table_name):
        asked.append(table_name)
        return stock_has_table(self, table_name)

    monkeypatch.setattr(SqliteEventLogStorage, "has_table", counting)
    with dg.DagsterInstance.get() as instance:
        storage = instance.event_log_storage
        run_once(instance)
        run_once(instance)  # a check evaluation stored in each run asks for its table
        assert storage.supports_asset_checks
        assert asked.count("asset_check_executions") == 1
        assert not storage.has_table("no_such_table")
        assert not storage.has_table("no_such_table")
        assert asked.count("no_such_table") == 2
        storage.wipe()  # forgets what it found: a wiped index is asked again
        assert storage.has_table("asset_check_executions")
        assert asked.count("asset_check_executions") == 2
