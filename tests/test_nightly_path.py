"""The nightly path end to end, on the demo agencies: dlt -> dbt -> quality gate -> publication.

One module-scoped scenario runs the real Dagster job several times in a temporary data folder:
1. a clean first run publishes; 2. the same files again change nothing; 3. a file without a
required column is quarantined, and the rest is published with the quarantine reported.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import duckdb
import pytest

from dagster_project import cli
from dagster_project.publication import current_release, verify_release
from ingestion import demo

ROWS = 40_000


def counts(warehouse: Path) -> dict[str, int]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return {
            table: con.execute(f"select count(*) from {table}").fetchone()[0]
            for table in ("raw.stops", "raw.rejects", "raw.files", "marts.fct_stops")
        }
    finally:
        con.close()


def query(warehouse: Path, sql: str, params=None) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    data = tmp_path_factory.mktemp("lantern")
    mp = pytest.MonkeyPatch()
    mp.setenv("LANTERN_DATA_DIR", str(data))
    mp.setenv("LANTERN_WAREHOUSE", str(data / "warehouse.duckdb"))
    mp.setenv("DAGSTER_HOME", str(data / "dagster_home"))
    mp.setenv("LANTERN_SALT", "test-salt")
    landing = data / "landing"
    manifest = demo.generate(landing, rows=ROWS)
    warehouse = data / "warehouse.duckdb"
    out = {"data": data, "landing": landing, "manifest": manifest, "warehouse": warehouse}

    out["rc1"] = cli.run_pipeline()
    out["release1"] = current_release(data / "publish")
    out["counts1"] = counts(warehouse)

    out["rc2"] = cli.run_pipeline()
    out["release2"] = current_release(data / "publish")
    out["counts2"] = counts(warehouse)

    # An export whose Race column was renamed: the contract is broken.
    good = landing / "alder_pd" / "stops" / "alder_stops_2023H2.csv"
    bad = landing / "alder_pd" / "stops" / "alder_stops_2024H1.csv"
    raw = good.read_bytes()
    header, rest = raw.split(b"\r\n", 1)
    bad.write_bytes(header.replace(b"Race", b"Ethnicity") + b"\r\n" + rest)
    out["rc3"] = cli.run_pipeline()
    out["release3"] = current_release(data / "publish")
    out["counts3"] = counts(warehouse)
    out["status_json"] = status_json(data, mp)
    yield out
    mp.undo()
    shutil.rmtree(data, ignore_errors=True)


def status_json(data: Path, mp) -> dict:
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        rc = cli.status(as_json=True)
    result = json.loads(buffer.getvalue())
    result["_rc"] = rc
    return result


def test_first_run_publishes_every_accepted_stop(scenario):
    assert scenario["rc1"] == 0
    expected = sum(scenario["manifest"]["expected_accepted_person_stops"].values())
    assert scenario["counts1"]["marts.fct_stops"] == expected
    assert scenario["counts1"]["raw.stops"] == expected


def test_every_malformed_row_is_rejected_with_its_reason(scenario):
    rejected = {
        (file, row): reason
        for file, row, reason in query(
            scenario["warehouse"], "select source_file, source_row, reason from raw.rejects"
        )
    }
    wanted = set()
    for agency in scenario["manifest"]["agencies"].values():
        for file in agency["files"]:
            if file["resend_of"]:
                continue
            for bad in file["malformed"]:
                wanted.add((file["path"], bad["line"]))
    assert set(rejected) == wanted
    assert all(reason for reason in rejected.values())


def test_raw_rows_equal_accepted_plus_rejected_per_file(scenario):
    rows = query(
        scenario["warehouse"],
        """
        select files.source_file, files.rows_raw,
               (select count(*) from raw.stops where _file_hash = files.file_hash)
               + (select count(*) from raw.arrests where _file_hash = files.file_hash),
               (select count(*) from raw.rejects where file_hash = files.file_hash)
        from raw.files as files where status = 'loaded'
        """,
    )
    manifest_rows = {
        f["path"]: f["data_rows"]
        for a in scenario["manifest"]["agencies"].values()
        for f in a["files"]
    }
    assert rows
    for file, raw, accepted, rejected in rows:
        assert raw == accepted + rejected == manifest_rows[file], file


def test_resent_file_and_second_run_change_no_count(scenario):
    assert scenario["rc2"] == 0
    assert scenario["counts2"] == scenario["counts1"]
    statuses = dict(query(scenario["warehouse"], "select source_file, status from raw.files"))
    assert statuses["alder_pd/stops/alder_stops_2023H1_resent.csv"] == "duplicate"


def test_release_is_complete(scenario):
    release = scenario["release1"]
    assert release is not None and verify_release(release) == []
    package = json.loads((release / "datapackage.json").read_text())
    paths = {r["path"] for r in package["resources"]}
    assert "data/fct_stops.csv" in paths and "data/mart_search_hit_rates.csv" in paths
    for path in paths:
        assert (release / path).exists(), path
    header = (release / "data" / "fct_stops.csv").read_text().splitlines()[0].split(",")
    assert "officer_id_hash" in header
    assert not {"officer_id", "officer_name", "officer_name_hash"} & set(header)


def test_broken_contract_quarantines_the_file_and_publishes_the_rest(scenario):
    # A quarantined file loads nothing, so the night's release holds exactly the other files'
    # data, and names the quarantined file in its quality report (issue 4).
    assert scenario["rc3"] == 0
    assert scenario["release3"] != scenario["release2"]
    assert scenario["counts3"]["marts.fct_stops"] == scenario["counts1"]["marts.fct_stops"]
    assert scenario["counts3"]["raw.stops"] == scenario["counts1"]["raw.stops"]
    import csv

    with (scenario["release3"] / "data" / "mart_quality_files.csv").open() as handle:
        published = {row["source_file"]: row for row in csv.DictReader(handle)}
    quarantined = published["alder_pd/stops/alder_stops_2024H1.csv"]
    assert quarantined["status"] == "quarantined"
    assert "'Race' (subject_race)" in quarantined["reason"]
    status = scenario["status_json"]
    assert status["_rc"] == 1
    failures = [f for f in status["failures"] if f.get("file")]
    assert failures and failures[0]["file"] == "alder_pd/stops/alder_stops_2024H1.csv"
    assert "'Race' (subject_race)" in failures[0]["reason"]
    contract = [c for c in status["checks"] if c["check"] == "contract"]
    assert contract and contract[0]["passed"] is False and contract[0]["severity"] == "warn"


def _ratio(warehouse, agency, race, column):
    (row,) = query(
        warehouse,
        f"""
        select {column}, {column}_lower, {column}_upper from marts.mart_search_hit_rates
        where agency_id = ? and subject_race = ?
        """,
        [agency, race],
    )
    return row


def test_injected_search_disparity_comes_back_within_its_interval(scenario):
    effects = scenario["manifest"]["effects"]["alder_pd"]
    true_ratio = effects["search_probability"]["black"] / effects["search_probability"]["white"]
    ratio, lower, upper = _ratio(scenario["warehouse"], "alder_pd", "black", "search_rate_ratio")
    assert lower <= true_ratio <= upper
    assert lower > 1.0  # the disparity is detected: its interval excludes parity
    hit_true = effects["hit_probability"]["black"] / effects["hit_probability"]["white"]
    hit, hit_lower, hit_upper = _ratio(scenario["warehouse"], "alder_pd", "black", "hit_rate_ratio")
    assert hit_lower <= hit_true <= hit_upper and hit < 1


def test_agency_without_disparity_shows_none(scenario):
    ratio, lower, upper = _ratio(scenario["warehouse"], "birch_so", "black", "search_rate_ratio")
    assert lower <= 1.0 <= upper
    assert not math.isclose(lower, upper)


# --- arrests ------------------------------------------------------------------------------------


def test_every_arrested_stop_person_has_exactly_one_linked_arrest(scenario):
    (mismatched, linked) = query(
        scenario["warehouse"],
        """
        with arrested as (
            select stop_id, count(*) filter (where arrest_made) as persons
            from marts.fct_stops group by stop_id
        ),
        linked as (
            select stop_id, count(*) as arrestees
            from marts.fct_arrests where stop_id is not null group by stop_id
        )
        select
            count(*) filter (where coalesce(persons, 0) != coalesce(arrestees, 0)),
            sum(arrestees)
        from arrested full join linked using (stop_id)
        """,
    )[0]
    assert mismatched == 0
    manifest = scenario["manifest"]["agencies"]
    assert linked == sum(a["arrests_from_stops"] for a in manifest.values())
    # one person per stop in alder_pd and cedar_pd: the arrestee is the person stopped
    (differ,) = query(
        scenario["warehouse"],
        """
        select count(*) from marts.fct_arrests as arrests
        join marts.fct_stops as stops using (stop_id)
        where arrests.agency_id in ('alder_pd', 'cedar_pd')
            and (arrests.subject_race != stops.subject_race
                or arrests.subject_sex != stops.subject_sex
                or arrests.subject_age is distinct from stops.subject_age
                or arrests.reason_for_stop != stops.reason_for_stop)
        """,
    )[0]
    assert differ == 0


def test_arrests_counts_equal_the_manifest(scenario):
    expected = scenario["manifest"]["expected_accepted_arrests"]
    in_mart = dict(
        query(scenario["warehouse"], "select agency_id, count(*) from marts.fct_arrests group by 1")
    )
    assert in_mart == expected
    (in_raw,) = query(scenario["warehouse"], "select count(*) from raw.arrests")[0]
    assert in_raw == sum(expected.values())
    not_from_stops = dict(
        query(
            scenario["warehouse"],
            "select agency_id, count(*) from marts.fct_arrests where stop_id is null group by 1",
        )
    )
    assert all(not_from_stops[agency] > 0 for agency in expected)


def test_arrests_pass_the_gate_and_are_published(scenario):
    release = scenario["release1"]
    header = (release / "data" / "fct_arrests.csv").read_text().splitlines()[0].split(",")
    assert {"arrest_person_id", "stop_id", "officer_id_hash", "subject_race"} <= set(header)
    assert not {"officer_id", "officer_name", "arrestee_name", "dob"} & set(header)
    checks = query(
        scenario["warehouse"],
        """
        select check_name, passed from quality.check_results
        where asset_key = 'marts/fct_arrests'
            and run_id = (select run_id from quality.check_results order by checked_at limit 1)
        """,
    )
    names = {name for name, _ in checks}
    assert "gx_arrests_suite.arrest_person_id_unique" in names
    assert any(name.startswith("relationships_fct_arrests_stop_id") for name in names)
    assert all(passed for _, passed in checks)


def test_quality_report_is_published_without_raw_rows(scenario):
    data = scenario["release1"] / "data"
    import csv

    with (data / "mart_quality_rejects.csv").open() as handle:
        rejects = list(csv.DictReader(handle))
    malformed = sum(
        len(f["malformed"])
        for agency in scenario["manifest"]["agencies"].values()
        for f in agency["files"]
        if not f["resend_of"]
    )
    assert sum(int(r["rejected_rows"]) for r in rejects) >= malformed > 0
    assert "raw_text" not in rejects[0]
    with (data / "mart_quality_files.csv").open() as handle:
        files = list(csv.DictReader(handle))
    assert {f["status"] for f in files} == {"loaded", "duplicate"}
    for f in files:
        assert (
            int(f["rows_raw"])
            == int(f["rows_accepted"]) + int(f["rows_rejected"]) + int(f["rows_quarantined"])
            or f["status"] == "duplicate"
        )
