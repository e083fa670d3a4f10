"""Agency partitions (issue 7, point 4): one agency's new file or broken file touches no other.

One module-scoped history on the demo agencies, with the real Dagster job (dlt -> dbt -> checks ->
publication) launched through Dagster's API the way the UI and `dagster asset materialize` do:
1. the nightly run (every agency partition, one run), with three exports held back;
2. alder_pd's held-back arrests export lands and only partition alder_pd is materialised;
3. a broken alder_pd arrests export (record id column renamed) and birch_so's arrests land, and a backfill
   over the partitions alder_pd..birch_so runs as one run (the single-run backfill policy);
4. in a second warehouse, one nightly run over the same final landing zone.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from dagster_project import cli
from dagster_project.definitions import defs
from dagster_project.defs.ingestion import partition_keys, partition_range_tags
from dagster_project.publication import current_release
from ingestion import config, demo

ROWS = 400
ALDER, BIRCH = "alder_pd", "birch_so"
# Arrests are held back: no other record type refers to them, so the first night's data is whole.
ALDER_NEW = "alder_pd/arrests/alder_arrests_2023.csv"
ALDER_BROKEN = "alder_pd/arrests/alder_arrests_2024.csv"
BIRCH_NEW = "birch_so/arrests/BCSO_Arrests_2023.xlsx"
HELD_BACK = (ALDER_NEW, BIRCH_NEW)
# Columns that name a load or the moment of a run: they differ between two histories of the same
# files, never in what the files say.
LOAD_COLUMNS = {
    "load_id",
    "loaded_at",
    "_load_id",
    "_loaded_at",
    "first_loaded_at",
    "last_loaded_at",
}


def tables(warehouse: Path, *, except_agency: str | None = None, drop=frozenset()) -> dict:
    """schema.table -> sorted rows of every raw and marts table (an agency's rows left out)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    out = {}
    try:
        relations = con.execute(
            "select table_schema, table_name, list(column_name order by ordinal_position)"
            " from information_schema.columns where table_schema in ('raw', 'marts')"
            " and table_name not like '\\_dlt%' escape '\\' group by all"
        ).fetchall()
        for schema, table, columns in relations:
            agency = next((c for c in ("agency_id", "_agency_id") if c in columns), None)
            kept = [c for c in columns if c not in drop]
            where = f' where "{agency}" is distinct from ?' if except_agency and agency else ""
            params = [except_agency] if where else []
            select = ", ".join(f'"{c}"' for c in kept)
            rows = con.execute(f'select {select} from {schema}."{table}"{where}', params).fetchall()
            out[f"{schema}.{table}"] = sorted(rows, key=repr)
    finally:
        con.close()
    return out


def query(warehouse: Path, sql: str, params=None) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def environment(mp: pytest.MonkeyPatch, data: Path) -> None:
    for key, value in {
        "LANTERN_DATA_DIR": str(data),
        "LANTERN_WAREHOUSE": str(data / "warehouse.duckdb"),
        "DAGSTER_HOME": str(data / "dagster_home"),
    }.items():
        mp.setenv(key, value)


def launch(**kwargs) -> dg.ExecuteInProcessResult:
    """The nightly job's graph over a partition (`partition_key`) or a range (`tags`)."""
    cli.ensure_dagster_home()
    job = defs().resolve_job_def("nightly")
    with dg.DagsterInstance.get() as instance:
        return job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
            **kwargs,
        )


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    root = tmp_path_factory.mktemp("partitions")
    source, data, nightly = root / "generated", root / "data", root / "nightly"
    demo.generate(source, rows=ROWS)
    mp = pytest.MonkeyPatch()
    mp.setenv("LANTERN_SALT", "partitions-salt")
    mp.setenv("LANTERN_FRESHNESS_AS_OF", datetime.now(UTC).isoformat())
    for key in ("LANTERN_LANDING_DIR", "LANTERN_PUBLISH_DIR", "LANTERN_AGENCIES_DIR"):
        mp.delenv(key, raising=False)
    mp.delenv("LANTERN_FAULT_AT", raising=False)
    environment(mp, data)
    landing, warehouse = data / "landing", data / "warehouse.duckdb"
    out = {"warehouse": warehouse, "publish": data / "publish", "runs": []}

    def deliver(relative: str) -> None:
        (landing / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / relative, landing / relative)

    every = sorted(
        str(p.relative_to(source)) for p in source.rglob("*") if p.is_file() and p.stat().st_size
    )
    try:
        # 1. the nightly run, without the held-back exports
        for relative in every:
            if "/" in relative and relative not in HELD_BACK:
                deliver(relative)
        out["runs"].append(cli.run_pipeline() == 0)
        out["before_alder"] = tables(warehouse, except_agency=ALDER)
        out["alder_after_1"] = query(
            warehouse, "select count(*) from marts.fct_arrests where agency_id = ?", [ALDER]
        )[0][0]

        # 2. alder's arrests export lands; only partition alder_pd is materialised
        deliver(ALDER_NEW)
        result = launch(partition_key=ALDER)
        out["runs"].append(result.success)
        out["partition_run_tags"] = dict(result.dagster_run.tags)
        out["after_alder"] = tables(warehouse, except_agency=ALDER)
        out["alder_rows_2"] = tables(warehouse)
        out["release_2"] = current_release(data / "publish")

        # 3. a broken alder export and birch's arrests land; a backfill over alder_pd..birch_so
        raw = (source / ALDER_NEW).read_bytes()
        header, rest = raw.split(b"\r\n", 1)
        (landing / ALDER_BROKEN).write_bytes(
            header.replace(b"Arrest #", b"Arrest Number") + b"\r\n" + rest
        )
        deliver(BIRCH_NEW)
        before_birch = tables(warehouse, except_agency=BIRCH)
        result = launch(tags=partition_range_tags([ALDER, BIRCH]))
        out["runs"].append(result.success)
        out["backfill_tags"] = dict(result.dagster_run.tags)
        after = tables(warehouse, except_agency=BIRCH)
        out["alder_changed_3"] = [
            t for t in after.keys() | before_birch.keys() if after.get(t) != before_birch.get(t)
        ]
        out["release_3"] = current_release(data / "publish")
        out["partitioned"] = tables(warehouse, drop=LOAD_COLUMNS)

        # 4. the same final landing zone, loaded by one nightly run into a new warehouse
        shutil.copytree(landing, nightly / "landing")
        environment(mp, nightly)
        out["runs"].append(cli.run_pipeline() == 0)
        out["nightly"] = tables(nightly / "warehouse.duckdb", drop=LOAD_COLUMNS)
        yield out
    finally:
        mp.undo()
        shutil.rmtree(root, ignore_errors=True)


def test_definitions_declare_the_agency_partitions(tmp_path, monkeypatch):
    """Keys = the configured agencies and reference sources; backfills run as one run; the
    schedule asks for one run over every partition (a full night: no release yet)."""
    monkeypatch.setenv("LANTERN_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("LANTERN_PUBLISH_DIR", raising=False)
    expected = sorted(set(config.agency_ids()) | set(config.reference_sources()))
    assert {ALDER, BIRCH, "cedar_pd", "wapo"} <= set(expected)
    definitions = defs()
    raw = definitions.resolve_assets_def(dg.AssetKey(["raw", "stops"]))
    assert raw.partitions_def.get_partition_keys() == expected == partition_keys()
    assert raw.backfill_policy == dg.BackfillPolicy.single_run()
    # the dbt models stay unpartitioned: a run rebuilds from whatever raw holds
    assert (
        definitions.resolve_assets_def(dg.AssetKey(["marts", "fct_stops"])).partitions_def is None
    )
    schedule = definitions.resolve_schedule_def("nightly_schedule")
    with dg.build_schedule_context() as context:
        request = schedule.evaluate_tick(context).run_requests[0]
    range_tags = {k: v for k, v in request.tags.items() if "partition" in k}
    assert (
        range_tags
        == partition_range_tags()
        == {
            "dagster/asset_partition_range_start": expected[0],
            "dagster/asset_partition_range_end": expected[-1],
        }
    )


def test_every_run_succeeded(history):
    assert history["runs"] == [True, True, True, True]
    assert history["partition_run_tags"]["dagster/partition"] == ALDER
    assert history["backfill_tags"]["dagster/asset_partition_range_start"] == ALDER
    assert history["backfill_tags"]["dagster/asset_partition_range_end"] == BIRCH


def test_one_partition_changes_only_its_agency(history):
    """After partition alder_pd: every row of every other agency, in every raw and marts table,
    is what it was; alder's new arrests are in the facts and the release."""
    before, after = history["before_alder"], history["after_alder"]
    assert len(before) >= 60
    assert sorted(before) == sorted(after)
    assert [t for t in before if before[t] != after[t]] == []
    assert sum(len(rows) for rows in after.values()) > 1000
    warehouse = history["warehouse"]
    loads = query(
        warehouse,
        "select load_id, list(distinct agency_id), list(source_file order by source_file)"
        " from raw.files group by load_id order by load_id",
    )
    assert len(loads) == 3
    assert loads[1][1:] == ([ALDER], [ALDER_NEW])  # the partition run read alder's file only
    new_arrests = query(
        warehouse,
        "select count(*) from marts.fct_arrests where agency_id = ? and source_file = ?",
        [ALDER, ALDER_NEW],
    )[0][0]
    assert new_arrests > 0
    published = duckdb.sql(
        f"select count(*) from '{history['release_2']}/data/fct_arrests/*.parquet'"
        f" where agency_id = '{ALDER}'"
    ).fetchone()[0]
    assert published == history["alder_after_1"] + new_arrests


def test_broken_file_of_one_agency_does_not_hold_back_another(history):
    """The backfill over alder_pd..birch_so: alder's broken export is quarantined and loads
    nothing (alder's records are as after step 2); birch's arrests are loaded and published."""
    # alder's rows changed only where the quarantine is recorded: the file ledger and the
    # quality marts; never in raw records or facts
    changed = set(history["alder_changed_3"])
    assert "raw.files" in changed
    assert {t for t in changed if not t.startswith("marts.mart_quality_")} == {"raw.files"}
    warehouse = history["warehouse"]
    third = query(
        warehouse,
        "select source_file, status from raw.files"
        " where load_id = (select max(load_id) from raw.files) order by source_file",
    )
    assert third == [(ALDER_BROKEN, "quarantined"), (BIRCH_NEW, "loaded")]
    birch = query(
        warehouse,
        "select count(*) from marts.fct_arrests where agency_id = ? and source_file = ?",
        [BIRCH, BIRCH_NEW],
    )[0][0]
    assert birch > 0
    published = duckdb.sql(
        f"select count(*) from '{history['release_3']}/data/fct_arrests/*.parquet'"
        f" where agency_id = '{BIRCH}'"
    ).fetchone()[0]
    assert published == birch
    quarantine = duckdb.sql(
        f"select count(*) from '{history['release_3']}/data/mart_quality_files.parquet'"
        f" where source_file = '{ALDER_BROKEN}' and status = 'quarantined'"
    ).fetchone()[0]
    assert quarantine == 1


def test_partition_runs_equal_one_nightly_run(history):
    """Three runs (nightly, one partition, a two-agency backfill) and one nightly run over the
    same files hold the same rows in every raw and marts table, load ids and times aside (and
    the freshness report, which dates deliveries by their load)."""
    partitioned, nightly = history["partitioned"], history["nightly"]
    assert sorted(partitioned) == sorted(nightly)
    differing = [t for t in partitioned if partitioned[t] != nightly[t]]
    # the freshness report dates each agency-dataset by when its files were received (their
    # load), which is the history itself: alder's arrests arrived a run later in one of them
    assert differing in ([], ["marts.mart_quality_freshness"])
    assert len(partitioned["marts.fct_stops"]) > 300
    assert len(partitioned["marts.fct_arrests"]) > 20
