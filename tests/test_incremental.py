"""Incremental nights equal a full rebuild (issue 7, point 3), with the real nightly job.

One module-scoped history in a temporary data folder: the demo exports arrive over three nights
(the real Dagster job each night: dlt -> incremental dbt -> quality gate -> publication):
1. most files;
2. every export of cedar_pd; a byte-identical copy of a loaded file under a new name (skipped as
   a duplicate); an arrests correction file with one corrected arrest and one re-sent arrest
   whose date does not parse (rejected: the earlier version stays);
3. stops only, so a narrow night (defs/automation.py: what the stops feed is rebuilt, the rest
   carried from the release before): a correction file re-sending two alder stops with another
   stop type, and a later-named file of the same load correcting the first back; alder's H2
   export re-sent under its name, shrunk (three records left out, which stay) and with one stop
   corrected.
Then `lantern run --full-refresh` (no new files) rebuilds every incremental model from all of raw
and every table, and every table of the narrow night's release and the rebuild's must be
identical, row for row.

Last, on that state, one more load (real dlt) corrects one stop and one arrest, and `dbt run` of
the incremental facts must touch those two rows only: a row of an older load that was altered in
the warehouse by hand keeps its alteration (a rebuild would have overwritten it).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from dagster_project import cli, reports
from dagster_project.defs import transform
from dagster_project.publication import current_release, published_tables, table_files
from ingestion import demo, pipeline, settings

ROWS = 400
SALT = "incremental-salt"
CRLF = b"\r\n"
H1 = "alder_pd/stops/alder_stops_2023H1.csv"
H2 = "alder_pd/stops/alder_stops_2023H2.csv"
H1_RESENT = "alder_pd/stops/alder_stops_2023H1_resent.csv"  # the demo's identical copy of H1
ARRESTS = "alder_pd/arrests/alder_arrests_2023.csv"
STOP_CORRECTIONS = "alder_pd/stops/alder_stops_2023H1_corrections.csv"
ARREST_CORRECTIONS = "alder_pd/arrests/alder_arrests_2023_corrections.csv"
STOP_CORRECTIONS_B = "alder_pd/stops/alder_stops_2023H1_corrections_b.csv"
# Night 2 brings all of cedar_pd (its record types reference one another: arrests and recordings
# their stops, complaints their recordings) and the duplicate copy of alder's H1.
LATER_AGENCY = "cedar_pd/"
LEFT_OUT = 3
# Column 3 of both alder exports is a code field before any quoted (comma-holding) field.
TYPE_COLUMN = 3
SWAP = {b"P": b"V", b"V": b"P", b"T": b"O", b"O": b"T", b"S": b"T"}


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().removesuffix(CRLF).split(CRLF)


def _good_lines(source: Path, manifest: dict, relative: str) -> list[bytes]:
    """The data lines of a generated alder export that load (not the malformed ones)."""
    entry = next(
        f
        for agency in manifest["agencies"].values()
        for f in agency["files"]
        if f["path"] == relative
    )
    bad = {m["line"] for m in entry["malformed"]}
    lines = _lines(source / relative)
    return [line for number, line in enumerate(lines, start=1) if number > 1 and number not in bad]


def _corrected(line: bytes) -> bytes:
    fields = line.split(b",")
    fields[TYPE_COLUMN] = SWAP[fields[TYPE_COLUMN]]
    return b",".join(fields)


def _record_id(line: bytes) -> str:
    return line.split(b",")[0].decode()


def _write(path: Path, header: bytes, lines: list[bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(CRLF.join([header, *lines]) + CRLF)


def query(warehouse: Path, sql: str, params=None) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def release_tables(release: Path) -> dict[str, tuple[list, list]]:
    """table -> (column names and types, every row sorted) of each published Parquet file."""
    out = {}
    con = duckdb.connect()
    try:
        for table, files in published_tables(release).items():  # parts included
            relation = con.read_parquet([str(f) for f in files])
            schema = list(zip(relation.columns, map(str, relation.types), strict=True))
            rows = sorted(relation.fetchall(), key=repr)
            out[table] = (schema, rows)
    finally:
        con.close()
    return out


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    root = tmp_path_factory.mktemp("incremental")
    source, data = root / "generated", root / "data"
    landing = data / "landing"
    manifest = demo.generate(source, rows=ROWS)
    mp = pytest.MonkeyPatch()
    for key, value in {
        "LANTERN_DATA_DIR": str(data),
        "LANTERN_WAREHOUSE": str(data / "warehouse.duckdb"),
        "DAGSTER_HOME": str(data / "dagster_home"),
        "LANTERN_SALT": SALT,
        # the freshness report measures from this moment, not from each run's clock
        "LANTERN_FRESHNESS_AS_OF": datetime.now(UTC).isoformat(),
    }.items():
        mp.setenv(key, value)
    for key in ("LANTERN_LANDING_DIR", "LANTERN_PUBLISH_DIR", "LANTERN_AGENCIES_DIR"):
        mp.delenv(key, raising=False)
    mp.delenv("LANTERN_FAULT_AT", raising=False)
    warehouse = data / "warehouse.duckdb"
    out = {"data": data, "warehouse": warehouse, "rc": [], "releases": [], "loads": []}
    out["summaries"] = []

    def deliver(relative: str) -> None:
        (landing / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / relative, landing / relative)

    def night(full_refresh: bool = False) -> None:
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            out["rc"].append(cli.run_pipeline(full_refresh=full_refresh))
        text = printed.getvalue()
        out["summaries"].append(text[text.rfind("Lantern run") :])
        out["releases"].append(current_release(data / "publish"))
        out["loads"].append(query(warehouse, "select max(_load_id) from raw.stops")[0][0])

    # Every export but the empty ones (cedar's use of force at this size): an empty file is
    # quarantined and tried again on every run, which the quality report records run by run.
    every = sorted(
        str(p.relative_to(source)) for p in source.rglob("*") if p.is_file() and p.stat().st_size
    )
    try:
        # night 1: every export but the later ones
        for relative in every:
            if "/" in relative and relative != H1_RESENT and not relative.startswith(LATER_AGENCY):
                deliver(relative)
        night()

        # night 2: the later exports and a byte-identical copy of H1 (a duplicate); an arrest
        # corrected and an arrest re-sent with a date that does not parse (rejected)
        for relative in [H1_RESENT, *(r for r in every if r.startswith(LATER_AGENCY))]:
            deliver(relative)
        arrests = _good_lines(source, manifest, ARRESTS)
        fixed = _corrected(arrests[0])
        broken = arrests[1].split(b",")
        broken[1] = b"13/45/2023"
        _write(
            landing / ARREST_CORRECTIONS, _lines(source / ARRESTS)[0], [fixed, b",".join(broken)]
        )
        out["corrected_arrest"] = _record_id(fixed)
        out["rejected_arrest"] = _record_id(arrests[1])
        night()

        # night 3, stops only (a narrow night): two H1 stops corrected, the first of them
        # corrected back in a later-named file of the same load; H2 re-sent under its name,
        # shrunk and with one stop corrected
        h1 = _good_lines(source, manifest, H1)
        corrected_h1 = [_corrected(line) for line in h1[:2]]
        _write(landing / STOP_CORRECTIONS, _lines(source / H1)[0], corrected_h1)
        _write(landing / STOP_CORRECTIONS_B, _lines(source / H1)[0], [h1[0]])
        out["corrected_h1"] = [_record_id(line) for line in corrected_h1]
        h2 = _good_lines(source, manifest, H2)
        kept = h2[:-LEFT_OUT]
        kept[5] = _corrected(kept[5])
        _write(landing / H2, _lines(source / H2)[0], kept)
        out["corrected_h2"] = _record_id(kept[5])
        out["left_out"] = [_record_id(line) for line in h2[-LEFT_OUT:]]
        night()

        # the full rebuild: nothing new to load, every incremental model rebuilt from raw
        night(full_refresh=True)
        yield out
    finally:
        mp.undo()
        shutil.rmtree(root, ignore_errors=True)


def test_every_night_published(history):
    assert history["rc"] == [0, 0, 0, 0], "\n".join(history["summaries"])
    assert len(set(history["releases"])) == 4
    # three loads of stops; the rebuild loaded nothing
    loads = history["loads"]
    assert len(set(loads[:3])) == 3 and loads[2] == loads[3]


def test_the_history_holds_every_case(history):
    """The nights delivered what the scenario says: a duplicate, corrections, a shrink, a reject."""
    warehouse = history["warehouse"]
    statuses = dict(
        query(warehouse, "select source_file, status from raw.files where status <> 'loaded'")
    )
    assert statuses == {H1_RESENT: "duplicate"}
    shrunk = query(
        warehouse,
        "select records_missing from raw.files where source_file = ? order by loaded_at",
        [H2],
    )
    assert shrunk == [(None,), (LEFT_OUT,)]
    rejected = query(
        warehouse, "select source_row from raw.rejects where source_file = ?", [ARREST_CORRECTIONS]
    )
    assert rejected == [(3,)]
    arrest_versions = query(
        warehouse,
        "select source_record_id, version_count from intermediate.int_record_versions"
        " where is_current and dataset = 'arrests' and agency_id = 'alder_pd'",
    )
    assert arrest_versions == [(history["corrected_arrest"], 2)]


def test_a_stops_only_night_is_narrow(history):
    """Night 3 brought stops only: it rebuilt and checked again what the stops feed, and took
    every other table (hard links) and check from night 2's release."""
    summary, before, after = history["summaries"][2], *history["releases"][1:3]
    assert "narrow:    only files of stops changed" in summary
    assert "narrow:" not in history["summaries"][3]  # the rebuild is a full night

    def inodes(release: Path, table: str) -> dict[str, int]:
        """file (a part's name for a table published in parts) -> inode, Parquet and CSV"""
        files = table_files(release, table) + table_files(release, table, "csv")
        assert files, table
        return {f.relative_to(release).as_posix(): f.stat().st_ino for f in files}

    for table in ("fct_calls_for_service", "fct_arrests", "fct_bwc_recordings", "dim_agencies"):
        assert inodes(before, table) == inodes(after, table), table
    for table in ("mart_quality_record_versions", "mart_quality_files"):
        earlier, later = inodes(before, table), inodes(after, table)
        assert set(earlier) == set(later) and all(earlier[f] != later[f] for f in later), table
    # fct_stops is published in parts by agency and year: the night changed alder's stops only,
    # so alder's parts were written again and every other agency's linked from night 2
    stops_before, stops_after = inodes(before, "fct_stops"), inodes(after, "fct_stops")
    alder = {f for f in stops_after if f.startswith("data/fct_stops/alder_pd-")}
    others = set(stops_after) - alder
    assert alder and others and set(stops_before) == set(stops_after)
    assert all(stops_before[f] != stops_after[f] for f in alder)
    assert all(stops_before[f] == stops_after[f] for f in others)
    checks = json.loads((after / "checks.json").read_text())
    carried = {c["asset_key"] for c in checks if c.get("carried_from_release") == before.name}
    checked = {c["asset_key"] for c in checks if "carried_from_release" not in c}
    assert {"marts/fct_calls_for_service", "marts/fct_arrests"} <= carried
    assert {"marts/fct_stops", "marts/mart_search_rates", "raw/files"} <= checked
    assert not carried & checked
    every = {(c["asset_key"], c["check_name"]) for c in checks}
    assert every == {
        (c["asset_key"], c["check_name"])
        for c in json.loads((history["releases"][3] / "checks.json").read_text())
    }


def test_incremental_history_equals_full_rebuild(history):
    """Every published table (facts, dimensions, analytics, quality report) of the narrow third
    night's incremental release equals the full rebuild's, column types and rows."""
    incremental = release_tables(history["releases"][2])
    rebuilt = release_tables(history["releases"][3])
    assert len(incremental) >= 40
    assert sorted(incremental) == sorted(rebuilt)
    differing = [name for name in incremental if incremental[name] != rebuilt[name]]
    assert differing == []
    assert {"fct_stops", "fct_arrests", "mart_search_rates"} <= set(incremental)


def test_reports_answered_from_the_night_before_equal_fresh_ones(history):
    """Each night's annual reports answer the queries whose files kept their fingerprints from
    the night before's results (reports.QueryCache, beside the releases): every published report
    of nights 2 to 4 equals the one rendered again from its release's files alone."""
    cache = reports.QueryCache(history["data"] / "publish" / reports.REPORT_CACHE)
    assert cache.entries  # the last night's results, for the next
    compared = 0
    for release in history["releases"][1:]:
        whole = reports.ReleaseData(release)
        try:
            targets = reports.report_targets(whole)
        finally:
            whole.close()
        assert {agency for agency, _ in targets} >= {"alder_pd", "cedar_pd"}
        for agency, year in targets:
            own = reports.ReleaseData(release, agency=agency, year=year)  # no cache
            try:
                fresh = reports.render_annual_report(own, settings.agencies_dir(), agency, year)
            finally:
                own.close()
            published = release / reports.RELEASE_REPORTS / agency / f"{year}.html"
            assert published.read_text(encoding="utf-8") == fresh, (release.name, agency, year)
            compared += 1
    assert compared >= 9


def test_incremental_facts_hold_the_latest_versions(history):
    """The versions the full-build dedup decides: the later load, then the later file name; never
    a rejected row; records left out of a re-send kept."""
    warehouse = history["warehouse"]
    first, second = history["corrected_h1"]
    stops = {
        record: (source_file, load_id)
        for record, source_file, load_id in query(
            warehouse,
            "select source_record_id, source_file, load_id from marts.fct_stops"
            " where agency_id = 'alder_pd' and source_record_id in (select unnest(?))",
            [[first, second, history["corrected_h2"], *history["left_out"]]],
        )
    }
    night_1, night_3 = history["loads"][0], history["loads"][2]
    assert stops[first] == (STOP_CORRECTIONS_B, night_3)
    assert stops[second] == (STOP_CORRECTIONS, night_3)
    assert stops[history["corrected_h2"]] == (H2, night_3)
    assert {stops[r] for r in history["left_out"]} == {(H2, night_1)}  # kept, from the first H2
    arrests = dict(
        query(
            warehouse,
            "select source_record_id, source_file from marts.fct_arrests"
            " where agency_id = 'alder_pd' and source_record_id in (?, ?)",
            [history["corrected_arrest"], history["rejected_arrest"]],
        )
    )
    assert arrests == {
        history["corrected_arrest"]: ARREST_CORRECTIONS,
        history["rejected_arrest"]: ARRESTS,
    }


INCREMENTAL_FACTS = ("int_stops_deduplicated", "fct_stops", "fct_arrests")


def snapshot(warehouse: Path) -> dict[str, dict[str, tuple]]:
    keys = {"fct_stops": "stop_person_id", "fct_arrests": "arrest_person_id"}
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return {
            table: {
                row[0]: row[1:]
                for row in con.execute(f"select {key}, * from marts.{table}").fetchall()
            }
            for table, key in keys.items()
        }
    finally:
        con.close()


def test_a_night_touches_only_the_rows_of_its_load(history, tmp_path):
    """One more load, then `dbt run` of the incremental facts: only the two re-sent records'
    rows change; a row altered by hand in the warehouse, from an older load, stays altered."""
    data, warehouse = history["data"], history["warehouse"]
    con = duckdb.connect(str(warehouse))
    try:
        altered = con.execute(
            "update marts.fct_stops set district = 'ALTERED' where stop_person_id = ("
            " select min(stop_person_id) from marts.fct_stops where agency_id = 'birch_so')"
            " returning stop_person_id"
        ).fetchone()[0]
    finally:
        con.close()
    before = snapshot(warehouse)

    landing = data / "landing"
    stop = _corrected(_lines(landing / STOP_CORRECTIONS)[2])  # its second record, swapped back
    _write(landing / "alder_pd/stops/alder_stops_2023H1_fix2.csv", _lines(landing / H1)[0], [stop])
    arrest = _corrected(_lines(landing / ARREST_CORRECTIONS)[1])
    _write(
        landing / "alder_pd/arrests/alder_arrests_fix2.csv", _lines(landing / ARRESTS)[0], [arrest]
    )
    env = {
        "LANTERN_DATA_DIR": str(data),
        "LANTERN_WAREHOUSE": str(warehouse),
        "LANTERN_SALT": SALT,
    }
    mp = pytest.MonkeyPatch()
    for key, value in env.items():
        mp.setenv(key, value)
    try:
        result = pipeline.ingest(("stops", "arrests"))
    finally:
        mp.undo()
    transform.seed_parse_state(tmp_path / "target")
    completed = subprocess.run(
        [
            sys.executable, "-c", "import sys; from dbt.cli.main import cli; sys.exit(cli())",
            "run", "--select", *INCREMENTAL_FACTS,
            "--project-dir", str(settings.DBT_PROJECT_DIR),
            "--profiles-dir", str(settings.DBT_PROJECT_DIR),
            "--target-path", str(tmp_path / "target"),
            "--log-path", str(tmp_path / "logs"),
        ],
        env={**os.environ, **env, **transform.dbt_child_environment(warehouse)},
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout + completed.stderr
    after = snapshot(warehouse)

    for table, record in (("fct_stops", _record_id(stop)), ("fct_arrests", _record_id(arrest))):
        changed = {
            key
            for key in before[table].keys() | after[table].keys()
            if before[table].get(key) != after[table].get(key)
        }
        columns = [
            r[0]
            for r in query(
                warehouse,
                "select column_name from information_schema.columns where table_schema = 'marts'"
                " and table_name = ? order by ordinal_position",
                [table],
            )
        ]
        new_rows = [dict(zip(columns, after[table][key], strict=True)) for key in changed]
        assert len(changed) == 1, table
        assert [(r["source_record_id"], r["load_id"]) for r in new_rows] == [
            (record, result.load_id)
        ]
        assert len(after[table]) == len(before[table])
    district = query(
        warehouse, "select district from marts.fct_stops where stop_person_id = ?", [altered]
    )
    assert district == [("ALTERED",)]
