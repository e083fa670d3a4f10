"""The nightly path end to end, on the demo agencies: dlt -> dbt -> quality gate -> publication.

One module-scoped scenario runs the real Dagster job several times in a temporary data folder:
1. a clean first run publishes; 2. the same files again change nothing; 3. a file without a
required column is quarantined, and the rest is published with the quarantine reported.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from dagster_project import cli
from dagster_project.defs import transform
from dagster_project.publication import current_release, table_files, verify_release
from ingestion import demo, settings

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
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        out["run_ids"] = [run.run_id for run in instance.get_runs()]
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
    accepted = " + ".join(
        f"(select count(*) from raw.{dataset} where _file_hash = files.file_hash)"
        for dataset in settings.DATASETS
    )
    rows = query(
        scenario["warehouse"],
        f"""
        select files.source_file, files.rows_raw,
               {accepted},
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


def test_a_second_night_with_nothing_new_is_quiet(scenario):
    """Run 2 had no new file and no change: it rebuilt the freshness mart only and published a
    release whose other tables, reports and checks are the first release's (hard links)."""
    first, second = scenario["release1"], scenario["release2"]
    assert second != first and verify_release(second) == []
    rebuilt = {"data/mart_quality_freshness.csv", "data/mart_quality_freshness.parquet"}
    fixed = {"checks.json", "release.json", "datapackage.json", "SHA256SUMS"}
    files = {p.relative_to(first).as_posix() for p in first.rglob("*") if p.is_file()}
    assert files == {p.relative_to(second).as_posix() for p in second.rglob("*") if p.is_file()}
    assert any(f.startswith("reports/") for f in files)
    for name in sorted(files - fixed - rebuilt):
        assert (first / name).stat().st_ino == (second / name).stat().st_ino, name
    for name in rebuilt:
        assert (first / name).stat().st_ino != (second / name).stat().st_ino, name
    fresh = [json.loads((r / "release.json").read_text())["row_counts"] for r in (first, second)]
    assert fresh[0] == fresh[1]
    # freshness was checked again, later, with the same outcome
    checked = [
        query(
            scenario["warehouse"],
            f"select max(checked_at) from read_csv('{r}/data/mart_quality_freshness.csv')",
        )[0][0]
        for r in (first, second)
    ]
    assert checked[1] > checked[0]
    # the gate: every check of the first release, carried over, and the freshness tests anew
    checks = [json.loads((r / "checks.json").read_text()) for r in (first, second)]
    outcome = [{(c["asset_key"], c["check_name"]): c["passed"] for c in cs} for cs in checks]
    assert outcome[1] == outcome[0] and len(checks[1]) == len(checks[0])
    anew = {c["check_name"] for c in checks[1] if "carried_from_release" not in c}
    assert anew and all(
        c["asset_key"] == "marts/mart_quality_freshness"
        for c in checks[1]
        if "carried_from_release" not in c
    ), anew
    assert {c["carried_from_release"] for c in checks[1] if "carried_from_release" in c} == {
        first.name
    }
    # run 3 brought a new stops file only: a narrow night, the stops' checks run again, the
    # others carried from release 2, which had carried them from release 1, where they ran
    third = json.loads((scenario["release3"] / "checks.json").read_text())
    anew = {c["asset_key"] for c in third if "carried_from_release" not in c}
    carried = {c["asset_key"] for c in third if "carried_from_release" in c}
    assert {"raw/files", "marts/fct_stops", "marts/mart_quality_files"} <= anew
    assert "marts/fct_calls_for_service" in carried and not anew & carried
    assert {c["carried_from_release"] for c in third if "carried_from_release" in c} == {first.name}


def test_no_dbt_target_folder_is_left_per_run(scenario):
    """dagster-dbt makes a target folder per invocation (~20 MB); each run removes its own and
    keeps the last run_results.json in dbt/target/last_run/."""
    from dagster_project.defs.transform import LAST_RUN, TARGET_DIR

    runs = [f"lantern_dbt-{run_id[:7]}-" for run_id in scenario["run_ids"]]
    assert len(runs) == 3
    left = [p.name for p in TARGET_DIR.iterdir() if p.name.startswith(tuple(runs))]
    assert left == []
    assert json.loads((LAST_RUN / "run_results.json").read_text())["results"]


def test_dbt_unit_tests_pass_on_the_built_warehouse(scenario, tmp_path):
    """The nights leave dbt's unit tests out (fixed inputs, not the night's data); they run here,
    every one of them, against the warehouse the nights built."""
    import subprocess
    import sys

    from ingestion import settings

    manifest = json.loads((settings.DBT_PROJECT_DIR / "target" / "manifest.json").read_text())
    unit_tests = {key.rsplit(".", 1)[-1] for key in manifest["unit_tests"]}
    assert len(unit_tests) >= 10
    transform.seed_parse_state(tmp_path / "target")
    done = subprocess.run(
        [
            sys.executable, "-c", "import sys; from dbt.cli.main import cli; sys.exit(cli())",
            "test", "--select", "resource_type:unit_test",
            "--project-dir", str(settings.DBT_PROJECT_DIR),
            "--profiles-dir", str(settings.DBT_PROJECT_DIR),
            "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs"),
        ],
        env={**os.environ, **transform.dbt_child_environment(scenario["warehouse"])},
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
    results = [r for r in results if r["unique_id"].startswith("unit_test.")]
    assert {r["unique_id"].rsplit(".", 1)[-1] for r in results} == unit_tests
    assert {r["status"] for r in results} == {"pass"}


def test_release_is_complete(scenario):
    release = scenario["release1"]
    assert release is not None and verify_release(release) == []
    package = json.loads((release / "datapackage.json").read_text())
    paths = {r["path"] for r in package["resources"]}
    stops = table_files(release, "fct_stops", "csv")  # in parts, by agency and year
    assert len(stops) >= 3 and all(f.parent.name == "fct_stops" for f in stops)
    assert {f.relative_to(release).as_posix() for f in stops} <= paths
    assert "data/mart_search_hit_rates.csv" in paths
    for path in paths:
        assert (release / path).exists(), path
    header = stops[0].read_text().splitlines()[0].split(",")
    assert all(f.read_text().splitlines()[0].split(",") == header for f in stops)
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
    (first, *_) = table_files(release, "fct_arrests", "csv")
    header = first.read_text().splitlines()[0].split(",")
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


# --- disparity and performance marts ------------------------------------------------------------

MEASURE_MARTS = (
    "mart_benchmark_rates", "mart_relative_rate_index", "mart_search_rates", "mart_hit_rates",
    "mart_use_of_force_rates", "mart_complaint_outcomes", "mart_bwc_compliance",
    "mart_school_contacts", "mart_survey_scores", "mart_response_times",
)  # fmt: skip
ANALYTICS_MARTS = (*MEASURE_MARTS, "mart_performance_measures", "mart_decision_log")


def _measure(warehouse, mart, agency, measure, group="black"):
    (row,) = query(
        warehouse,
        f"select ratio, ratio_lower, ratio_upper, is_disparity from marts.{mart}"
        " where agency_id = ? and measure = ? and group_name = ? and unit = 'all'",
        [agency, measure, group],
    )
    return row


def test_demo_effects_come_back_out_of_the_analytics_marts(scenario):
    effects = scenario["manifest"]["effects"]["alder_pd"]
    search = effects["search_probability"]["black"] / effects["search_probability"]["white"]
    hit = effects["hit_probability"]["black"] / effects["hit_probability"]["white"]
    share = effects["share_by_race"]
    # alder_pd's agency.yml: 105,000 white and 22,500 black residents
    stops = (share["black"] / 22_500) / (share["white"] / 105_000)
    # the search basis is drawn independently of race: each discretion split keeps the 1.8x
    for mart, measure, truth in (
        ("mart_benchmark_rates", "stops_per_1000_residents", stops),
        ("mart_search_rates", "search_rate", search),
        ("mart_search_rates", "search_rate_higher_discretion", search),
        ("mart_search_rates", "search_rate_lower_discretion", search),
        ("mart_relative_rate_index", "rri_search", search),
        ("mart_hit_rates", "hit_rate", hit),
        ("mart_hit_rates", "hit_rate_district_average", hit),
    ):
        ratio, lower, upper, flagged = _measure(scenario["warehouse"], mart, "alder_pd", measure)
        assert lower <= truth <= upper, (measure, truth, ratio, lower, upper)
        assert flagged, measure


def test_agency_without_search_or_hit_disparity_flags_none(scenario):
    flagged = query(
        scenario["warehouse"],
        """
        select measure, group_name, ratio, ratio_lower, ratio_upper from marts.mart_search_rates
        where agency_id = 'birch_so' and unit = 'all' and is_disparity
        union all
        select measure, group_name, ratio, ratio_lower, ratio_upper from marts.mart_hit_rates
        where agency_id = 'birch_so' and unit = 'all' and is_disparity
        """,
    )
    assert flagged == []


def test_analytics_marts_are_published_without_small_counts(scenario):
    import csv

    release = scenario["release1"]
    package = json.loads((release / "datapackage.json").read_text())
    paths = {r["path"] for r in package["resources"]}
    for mart in ANALYTICS_MARTS:
        assert f"data/{mart}.csv" in paths, mart
    for mart in MEASURE_MARTS:
        with (release / "data" / f"{mart}.csv").open() as handle:
            rows = list(csv.DictReader(handle))
        for row in rows:
            for column in ("numerator", "comparison_numerator"):
                assert not (row[column] and 1 <= int(row[column]) <= 9), (mart, row)
    with (release / "data" / "mart_search_rates.csv").open() as handle:
        assert any(row["flag"] == "suppressed" for row in csv.DictReader(handle))


# --- body-worn cameras, schools, surveys, calls (the demo's record effects) ----------------------


def _cell(warehouse, mart, agency, measure, unit="all", group="all", period=2023):
    """The mart row of one agency-year-unit-measure-group, as a dict."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        frame = con.execute(
            f"select * from marts.{mart} where agency_id = ? and measure = ? and unit = ?"
            " and group_name = ? and period = ?",
            [agency, measure, unit, group, period],
        ).df()
    finally:
        con.close()
    assert len(frame) == 1, (mart, agency, measure, unit, group, frame)
    return {k: (None if pd.isna(v) else v) for k, v in frame.iloc[0].to_dict().items()}


def _effects(scenario, agency):
    return scenario["manifest"]["agencies"][agency]["record_effects"]


def test_bwc_activation_compliance_and_late_activations_equal_the_demo(scenario):
    for agency in ("alder_pd", "birch_so", "cedar_pd"):
        truth = _effects(scenario, agency)["bwc_activation"]
        row = _cell(
            scenario["warehouse"], "mart_bwc_compliance", agency, "bwc_force_incidents_recorded"
        )
        assert row["numerator"] == truth["force_incidents_with_recording"], (agency, row)
        assert row["denominator"] == truth["force_incidents"], (agency, row)
        assert row["lower"] <= truth["compliance"] <= row["upper"], (agency, row)
        # late: only force-incident recordings start after the arrival (other call recordings
        # start up to 2 minutes before it)
        late = _cell(
            scenario["warehouse"], "mart_bwc_compliance", agency, "bwc_late_activation",
            group="use_of_force",
        )  # fmt: skip
        assert late["denominator"] == truth["force_incidents_with_recording"], (agency, late)
        if truth["late_activations"] >= 10:
            assert late["numerator"] == truth["late_activations"], (agency, late)
            share = truth["late_activations"] / truth["force_incidents_with_recording"]
            assert late["estimate"] == pytest.approx(share, abs=1e-6)
            assert late["lower"] < share < late["upper"]
        else:  # birch 2, cedar 3: suppressed, and the all-category total with them
            assert late["numerator"] is None and late["flag"] == "suppressed", (agency, late)
            total = _cell(
                scenario["warehouse"], "mart_bwc_compliance", agency, "bwc_late_activation"
            )
            assert total["numerator"] is None, (agency, total)
    alder = _effects(scenario, "alder_pd")["bwc_activation"]
    total = _cell(scenario["warehouse"], "mart_bwc_compliance", "alder_pd", "bwc_late_activation")
    assert total["numerator"] == alder["late_activations"] and total["flag"] == "ok"


def test_bwc_stop_coverage_and_retention_equal_the_demo(scenario):
    for agency in ("alder_pd", "birch_so", "cedar_pd"):
        links = scenario["manifest"]["agencies"][agency]["links"]
        ((stops, non_evidence),) = query(
            scenario["warehouse"],
            "select (select count(distinct stop_id) from marts.fct_stops where agency_id = $1"
            " and stop_year = 2023), (select count(*) from marts.fct_bwc_recordings where"
            " agency_id = $1 and category = 'non_evidence' and year(started_date) = 2023)",
            [agency],
        )
        row = _cell(scenario["warehouse"], "mart_bwc_compliance", agency, "bwc_stops_recorded")
        assert (row["numerator"], row["denominator"]) == (links["recordings_with_stop"], stops)
        # The demo deletes every non-evidence recording on the day its 180 days end, keeps the
        # others (longer or indefinite retention): nothing early, nothing kept past its end.
        early = _cell(
            scenario["warehouse"], "mart_bwc_compliance", agency, "bwc_deleted_before_retention"
        )
        assert early["numerator"] == 0 and early["denominator"] > non_evidence, (agency, early)
        kept = _cell(
            scenario["warehouse"], "mart_bwc_compliance", agency, "bwc_kept_past_retention"
        )
        assert (kept["numerator"], kept["denominator"]) == (0, non_evidence), (agency, kept)
        assert kept["upper"] < 0.01


def test_school_discipline_share_equals_the_demo(scenario):
    for agency in ("alder_pd", "birch_so", "cedar_pd"):
        truth = _effects(scenario, agency)["school_discipline"]
        row = _cell(
            scenario["warehouse"], "mart_school_contacts", agency, "school_discipline_share"
        )
        assert (row["numerator"], row["denominator"]) == (
            truth["discipline_matters"],
            truth["contacts"],
        )
        assert row["lower"] <= truth["share"] <= row["upper"], (agency, row)
    # arrests and referrals by race: the demo draws outcomes independently of race, so no
    # published ratio may be flagged; each has its comparison group's counts beside it
    rows = query(
        scenario["warehouse"],
        "select agency_id, measure, group_name, numerator, denominator, ratio, ratio_lower,"
        " ratio_upper, is_disparity, comparison_group from marts.mart_school_contacts"
        " where group_type = 'race'",
    )
    measures = {r[1] for r in rows}
    assert measures == {"school_arrest_rate", "school_justice_referral_rate"}
    assert all(r[9] == "white" for r in rows)
    assert not any(r[8] for r in rows), [r for r in rows if r[8]]
    ratios = [r for r in rows if r[6] is not None and r[2] != "white"]
    assert ratios and all(low < ratio < high for *_, ratio, low, high, _, _ in ratios)


def test_survey_construct_scores_find_the_demo_unit(scenario):
    for agency in ("alder_pd", "birch_so", "cedar_pd"):
        truth = _effects(scenario, agency)["survey_unit_effect"]
        measure = f"officer_climate_{truth['construct']}"
        rows = {
            unit: _cell(scenario["warehouse"], "mart_survey_scores", agency, measure, unit=unit)
            for unit in truth["mean_scored_value_by_unit"]
        }
        for unit, mean in truth["mean_scored_value_by_unit"].items():
            row = rows[unit]
            assert row["unit_type"] == "organizational_unit" and row["flag"] == "ok"
            assert row["numerator"] >= 10
            # the manifest's mean pools items; the mart averages respondents' item means
            assert row["estimate"] == pytest.approx(mean, abs=0.05), (agency, unit, row)
            assert row["lower"] <= mean <= row["upper"], (agency, unit, row)
        effect = rows[truth["unit"]]
        others = [row for unit, row in rows.items() if unit != truth["unit"]]
        if truth["latent_shift"] < 0:
            assert all(effect["upper"] < row["lower"] for row in others), agency
        else:
            assert all(effect["lower"] > row["upper"] for row in others), agency
    # every published survey cell holds at least 10 respondents
    (small,) = query(
        scenario["warehouse"],
        "select count(*) from marts.mart_survey_scores where numerator < 10"
        " or (numerator is null and estimate is not null)",
    )[0]
    assert small == 0


def test_response_time_medians_by_priority_equal_the_demo(scenario):
    for agency in ("alder_pd", "birch_so", "cedar_pd"):
        truth = _effects(scenario, agency)["response_seconds_median_by_priority"]["generated"]
        total = 0
        for priority, seconds in truth.items():
            row = _cell(
                scenario["warehouse"], "mart_response_times", agency, "response_minutes_median",
                group=priority,
            )  # fmt: skip
            assert row["estimate"] == pytest.approx(seconds / 60, abs=1e-5), (agency, priority)
            assert row["lower"] < row["estimate"] < row["upper"]
            total += row["numerator"]
        everything = _cell(
            scenario["warehouse"], "mart_response_times", agency, "response_minutes_median"
        )
        assert everything["numerator"] == total
        # the designed response times rise with priority; so do the measured means
        means = [
            _cell(
                scenario["warehouse"], "mart_response_times", agency, "response_minutes_mean",
                group=p,
            )["estimate"]
            for p in sorted(truth)
        ]  # fmt: skip
        assert means == sorted(means)
    (beats,) = query(
        scenario["warehouse"],
        "select count(distinct unit) from marts.mart_response_times where agency_id = 'alder_pd'"
        " and unit_type = 'beat'",
    )[0]
    assert beats == 20  # 5 districts x 4 beats


def test_new_measure_families_join_the_performance_table_and_decision_log(scenario):
    sources = {
        source: n
        for source, n in query(
            scenario["warehouse"],
            "select source_model, count(*) from marts.mart_performance_measures group by 1",
        )
    }
    for mart in (
        "mart_bwc_compliance",
        "mart_school_contacts",
        "mart_survey_scores",
        "mart_response_times",
    ):
        assert sources.get(mart, 0) > 0, mart
    (row,) = query(
        scenario["warehouse"],
        "select value, numerator, denominator, lower, upper from marts.mart_performance_measures"
        " where agency_id = 'alder_pd' and measure = 'bwc_force_incidents_recorded'"
        " and unit = 'all' and group_name = 'all'",
    )
    source = _cell(
        scenario["warehouse"], "mart_bwc_compliance", "alder_pd", "bwc_force_incidents_recorded"
    )
    assert row == (
        source["estimate"],
        source["numerator"],
        source["denominator"],
        source["lower"],
        source["upper"],
    )
    log = {
        (analysis, rule): (before, after)
        for analysis, rule, before, after in query(
            scenario["warehouse"],
            "select analysis, rule, rows_before, rows_after from marts.mart_decision_log"
            " where agency_id = 'alder_pd' and period = 2023",
        )
    }
    facts = scenario["manifest"]["agencies"]["alder_pd"]["facts"]
    assert (
        log[("mart_response_times", "response time recorded")][0] == facts["fct_calls_for_service"]
    )
    assert log[("mart_bwc_compliance", "force incidents: district recorded (district rows)")] == (
        facts["fct_use_of_force_incidents"],
        facts["fct_use_of_force_incidents"],
    )
    assert log[
        ("mart_school_contacts", "discipline matter recorded (school_discipline_share)")
    ] == (
        facts["fct_school_incidents"],
        facts["fct_school_incidents"],
    )
    assert (
        log[("mart_survey_scores", "questionnaire with a scored item")][0]
        == facts["fct_survey_responses"]
    )
    for mart in (
        "mart_bwc_compliance",
        "mart_school_contacts",
        "mart_survey_scores",
        "mart_response_times",
    ):
        assert (mart, "small numbers suppressed (rows)") in log, mart


# --- model fits (dagster_project/defs/analytics.py) ----------------------------------------------


def test_demo_veil_of_darkness_fits_exist_without_a_flag(scenario):
    rows = query(
        scenario["warehouse"],
        """
        select agency_id, analysis, n, n_black + n_white, coefficient, std_error, odds_ratio,
               odds_ratio_lower, odds_ratio_upper, p_value, district_fixed_effects
        from marts.mart_veil_of_darkness where agency_id in ('alder_pd', 'birch_so')
        """,
    )
    fits = {(r[0], r[1]): r for r in rows}
    for agency in ("alder_pd", "birch_so"):
        for analysis in ("veil_of_darkness", "veil_of_darkness_dst"):
            _, _, n, total, beta, se, ratio, low, high, p, _ = fits[(agency, analysis)]
            assert n == total > 100 and 0 < se < 1
            assert low < ratio < high and math.isclose(ratio, math.exp(beta))
            # The demo injects no darkness effect: nothing near significance.
            assert p > 0.001, (agency, analysis, beta, se)
    assert fits[("alder_pd", "veil_of_darkness")][-1]  # alder records districts
    # The sample size is the last filter's rows_after in the decision log.
    (after,) = query(
        scenario["warehouse"],
        """
        select rows_after from marts.mart_decision_log_fits
        where analysis = 'veil_of_darkness' and agency_id = 'alder_pd'
          and rule = 'sunset to dusk dropped'
        """,
    )
    assert after[0] == fits[("alder_pd", "veil_of_darkness")][2]


def test_demo_threshold_test_finds_alders_lower_bar_for_black_drivers(scenario):
    rows = query(
        scenario["warehouse"],
        """
        select "group", any_value(group_threshold), any_value(group_threshold_lower),
               any_value(group_threshold_upper), min(threshold_lower <= threshold
               and threshold <= threshold_upper and threshold between 0 and 1),
               max(max_rhat), count(*)
        from marts.mart_threshold_test where agency_id = 'alder_pd' group by 1
        """,
    )
    by_group = {r[0]: r[1:] for r in rows}
    # alder_pd: black drivers searched 1.8x as often with a lower hit rate (ingestion/demo.py).
    assert by_group["black"][0] < by_group["white"][0]
    for mean, low, high, cells_ok, rhat, cells in by_group.values():
        assert low < mean < high and cells_ok and rhat < 1.1 and cells >= 3
    # birch_so has too few searches per district for a fit: logged, not silently missing.
    (reason,) = query(
        scenario["warehouse"],
        """
        select reason from marts.mart_decision_log_fits
        where analysis = 'threshold_test' and agency_id = 'birch_so' and rows_after = 0
        """,
    )
    assert "no fit" in reason[0]


def test_fits_are_published(scenario):
    release = scenario["release1"]
    package = json.loads((release / "datapackage.json").read_text())
    paths = {r["path"] for r in package["resources"]}
    for name in ("mart_veil_of_darkness", "mart_threshold_test", "mart_decision_log_fits"):
        assert f"data/{name}.csv" in paths and f"data/{name}.parquet" in paths
    fields = {
        r["name"]: [f["name"] for f in r["schema"]["fields"]]
        for r in package["resources"]
        if r["name"] == "mart_threshold_test"
    }["mart_threshold_test"]
    assert {"threshold", "threshold_lower", "threshold_upper", "is_small_numbers"} <= set(fields)


# --- every other record type (ingestion/demo_records.py) ---------------------------------------


def _per_agency(scenario, sql: str, params=None) -> dict:
    return {
        row[0]: row[1:] if len(row) > 2 else row[1]
        for row in query(scenario["warehouse"], sql, params)
    }


def test_every_fact_holds_the_rows_the_manifest_expects(scenario):
    expected = scenario["manifest"]["expected_facts"]
    for fact in expected["alder_pd"]:
        in_mart = _per_agency(
            scenario,
            f"select agency_id, count(*) from marts.{fact} "
            "where agency_id in ('alder_pd', 'birch_so', 'cedar_pd') group by 1",
        )
        assert in_mart == {agency: facts[fact] for agency, facts in expected.items()}, fact
    assert expected["alder_pd"]["fct_calls_for_service"] > 0


def test_links_between_record_types_resolve(scenario):
    manifest = scenario["manifest"]["agencies"]
    (unlinked_force, force_calls) = query(
        scenario["warehouse"],
        """
        select count(*) filter (where calls.call_id is null), count(calls.call_id)
        from marts.fct_use_of_force_incidents as force
        left join marts.fct_calls_for_service as calls using (call_id)
        where force.agency_id in ('alder_pd', 'birch_so', 'cedar_pd')
        """,
    )[0]
    assert unlinked_force == 0
    assert force_calls == sum(a["links"]["force_incidents_with_call"] for a in manifest.values())
    # a force incident's call ended in an arrest
    (not_arrest,) = query(
        scenario["warehouse"],
        """
        select count(*) from marts.fct_use_of_force_incidents as force
        join marts.fct_calls_for_service as calls using (call_id)
        where calls.disposition != 'arrest'
        """,
    )[0]
    assert not_arrest == 0
    linked = query(
        scenario["warehouse"],
        """
        select
            count(calls.call_id), count(recordings.call_id),
            count(stops.stop_id), count(recordings.stop_id),
            count(force.uof_id), count(recordings.uof_id),
            count(complaints.complaint_id), count(recordings.complaint_id)
        from marts.fct_bwc_recordings as recordings
        left join marts.fct_calls_for_service as calls using (call_id)
        left join (select distinct stop_id from marts.fct_stops) as stops using (stop_id)
        left join marts.fct_use_of_force_incidents as force using (uof_id)
        left join marts.fct_complaints as complaints using (complaint_id)
        """,
    )[0]
    for resolved, named in zip(linked[::2], linked[1::2], strict=True):
        assert resolved == named > 0
    totals = {
        key: sum(a["links"][key] for a in manifest.values())
        for key in manifest["alder_pd"]["links"]
    }
    assert linked[1::2] == (
        totals["recordings_with_call"],
        totals["recordings_with_stop"],
        totals["recordings_with_force_incident"],
        totals["recordings_with_complaint"],
    )
    # a complaint's footage is the recording that names the complaint back
    (complaints_with_footage, mismatched) = query(
        scenario["warehouse"],
        """
        select count(*), count(*) filter (where recordings.complaint_id != complaints.complaint_id)
        from marts.fct_complaints as complaints
        join marts.fct_bwc_recordings as recordings
            on complaints.bwc_recording_id = recordings.recording_id
        """,
    )[0]
    assert complaints_with_footage == totals["complaints_with_recording"] > 0
    assert mismatched == 0


def test_force_per_arrest_disparity_as_injected(scenario):
    rows = query(
        scenario["warehouse"],
        """
        with force as (
            select agency_id, subject_race, count(*) as subjects
            from marts.fct_use_of_force_subjects group by all
        ),
        arrests as (
            select agency_id, subject_race, count(*) as arrests
            from marts.fct_arrests group by all
        )
        select agency_id, subject_race, coalesce(subjects, 0), arrests
        from arrests left join force using (agency_id, subject_race)
        where agency_id in ('alder_pd', 'birch_so', 'cedar_pd')
        """,
    )
    effects = {
        a: e["record_effects"]["force_per_arrest"]
        for a, e in scenario["manifest"]["agencies"].items()
    }
    for agency, race, subjects, arrests in rows:
        assert subjects == effects[agency]["force_subjects_by_race"][race], (agency, race)
        assert arrests == effects[agency]["accepted_arrests_by_race"][race], (agency, race)
    rate = {(a, r): s / n for a, r, s, n in rows}
    alder = rate[("alder_pd", "black")] / rate[("alder_pd", "white")]
    assert 1.4 < alder < 1.6  # injected 1.5
    birch = rate[("birch_so", "black")] / rate[("birch_so", "white")]
    assert 0.9 < birch < 1.1  # none injected


def test_bwc_activation_compliance_and_late_activations(scenario):
    rows = _per_agency(
        scenario,
        """
        with recorded as (
            select force.agency_id, force.uof_id,
                min(recordings.started_at) as first_start,
                any_value(calls.arrived_at) as arrived_at
            from marts.fct_use_of_force_incidents as force
            join marts.fct_calls_for_service as calls using (call_id)
            left join marts.fct_bwc_recordings as recordings using (uof_id)
            group by all
        )
        select agency_id, count(*), count(first_start),
            count(*) filter (where first_start > arrived_at + interval 30 second)
        from recorded
        where agency_id in ('alder_pd', 'birch_so', 'cedar_pd')
        group by 1
        """,
    )
    for agency, entry in scenario["manifest"]["agencies"].items():
        truth = entry["record_effects"]["bwc_activation"]
        incidents, with_recording, late = rows[agency]
        assert (incidents, with_recording, late) == (
            truth["force_incidents"],
            truth["force_incidents_with_recording"],
            truth["late_activations"],
        )
        # the designed share, rounded to whole incidents
        assert abs(with_recording / incidents - truth["compliance"]) <= 0.5 / incidents + 1e-9
    assert rows["alder_pd"][1] < rows["alder_pd"][0]  # some force incidents have no recording


def test_sustained_rate_by_complainant_race(scenario):
    rows = query(
        scenario["warehouse"],
        """
        select allegations.agency_id,
            case when complainants.subject_race in ('white', 'black')
                then complainants.subject_race else 'other' end as complainant_group,
            count(*), count(*) filter (where allegations.final_finding = 'sustained')
        from marts.fct_allegations as allegations
        join marts.fct_complainants as complainants
            on allegations.complaint_id = complainants.complaint_id
            and complainants.complainant_seq = 1
        where allegations.final_outcome_class != 'open'
            and allegations.agency_id in ('alder_pd', 'birch_so', 'cedar_pd')
        group by all
        """,
    )
    manifest = scenario["manifest"]["agencies"]
    for agency, group, closed, sustained in rows:
        truth = manifest[agency]["record_effects"]["sustained_by_complainant_race"][group]
        assert (closed, sustained) == (truth["closed_allegations"], truth["sustained"])
    alder = {
        group: sustained / closed
        for agency, group, closed, sustained in rows
        if agency == "alder_pd"
    }
    assert alder["black"] < alder["white"]


def test_school_discipline_share_and_survey_unit_effect(scenario):
    shares = _per_agency(
        scenario,
        """
        select agency_id, count(*), count(*) filter (where is_school_discipline_matter)
        from marts.fct_school_incidents group by 1
        """,
    )
    manifest = scenario["manifest"]["agencies"]
    for agency, entry in manifest.items():
        truth = entry["record_effects"]["school_discipline"]
        assert shares[agency] == (truth["contacts"], truth["discipline_matters"])
        assert abs(shares[agency][1] / shares[agency][0] - truth["share"]) < 0.01
    for agency, entry in manifest.items():
        effect = entry["record_effects"]["survey_unit_effect"]
        means = dict(
            query(
                scenario["warehouse"],
                """
                select responses.unit, round(avg(items.scored_value), 6)
                from marts.fct_survey_item_responses as items
                join marts.fct_survey_responses as responses using (response_id)
                where items.agency_id = ? and items.construct = ?
                    and responses.survey_type = 'officer_climate'
                group by 1
                """,
                [agency, effect["construct"]],
            )
        )
        assert means == effect["mean_scored_value_by_unit"]
        others = [m for unit, m in means.items() if unit != effect["unit"]]
        if effect["latent_shift"] < 0:
            assert means[effect["unit"]] < min(others)
        else:
            assert means[effect["unit"]] > max(others)


def test_response_time_medians_by_priority(scenario):
    rows = query(
        scenario["warehouse"],
        """
        select agency_id, priority, median(response_seconds)
        from marts.fct_calls_for_service
        where agency_id in ('alder_pd', 'birch_so', 'cedar_pd')
        group by all
        """,
    )
    manifest = scenario["manifest"]["agencies"]
    for agency, priority, median in rows:
        generated = manifest[agency]["record_effects"]["response_seconds_median_by_priority"]
        # generated on the local clock; a call spanning a DST change moves by an hour at most,
        # which cannot move a median of thousands of calls by more than a few seconds
        assert abs(median - generated["generated"][str(priority)]) <= 5, (agency, priority)
        designed = generated["designed"][str(priority)]
        assert abs(median - designed) / designed < 0.1
    ordered = sorted((p, m) for a, p, m in rows if a == "alder_pd")
    assert [m for _, m in ordered] == sorted(m for _, m in ordered)


def test_every_record_type_is_published_without_personal_columns(scenario):
    release = scenario["release1"]
    package = json.loads((release / "datapackage.json").read_text())
    paths = {r["path"] for r in package["resources"]}
    for fact in scenario["manifest"]["expected_facts"]["alder_pd"]:
        files = table_files(release, fact, "csv")  # one file, or its parts
        assert files and {f.relative_to(release).as_posix() for f in files} <= paths, fact
        for file in files:
            header = file.read_text().splitlines()[0].split(",")
            assert not {"officer_id", "subject_id", "actor_id"} & set(header), fact
    checks = dict(
        query(
            scenario["warehouse"],
            """
            select check_name, passed from quality.check_results
            where run_id = (select run_id from quality.check_results order by checked_at limit 1)
                and (check_name like 'relationships_fct_bwc%'
                    or check_name like 'relationships_fct_use_of_force_incidents_call_id%'
                    or check_name like 'relationships_fct_complaints_bwc%')
            """,
        )
    )
    assert len(checks) >= 7 and all(checks.values())


def test_a_broken_link_fails_its_relationships_test(scenario, tmp_path):
    """The relationships tests can fail: on a copy of the warehouse, a recording that names a
    call the warehouse does not hold, and a force incident whose call is gone, fail theirs."""
    import os
    import subprocess
    import sys

    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(scenario["warehouse"], copy)
    con = duckdb.connect(str(copy))
    try:
        con.execute(
            "update marts.fct_bwc_recordings set call_id = md5('no such call') "
            "where recording_id = (select min(recording_id) from marts.fct_bwc_recordings "
            "where call_id is not null)"
        )
        con.execute(
            "delete from marts.fct_calls_for_service where call_id = "
            "(select min(call_id) from marts.fct_use_of_force_incidents)"
        )
    finally:
        con.close()
    project = Path(__file__).resolve().parents[1] / "dbt"
    transform.seed_parse_state(tmp_path / "target")
    completed = subprocess.run(
        [
            sys.executable, "-c", "import sys; from dbt.cli.main import cli; sys.exit(cli())",
            "test", "--select",
            "test_name:relationships",
            "--project-dir", str(project), "--profiles-dir", str(project),
            "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs"),
        ],
        env={**os.environ, **transform.dbt_child_environment(copy), "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"},
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    results = json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
    statuses = {r["unique_id"].split(".")[2]: r["status"] for r in results}
    failed = sorted(name for name, status in statuses.items() if status == "fail")
    assert completed.returncode != 0
    assert [name.split("__")[0] for name in failed] == [
        "relationships_fct_bwc_recordings_call_id",
        "relationships_fct_use_of_force_incidents_call_id",
    ], statuses


def test_stops_suite_in_parts_equals_the_suite_on_the_whole_batch(scenario):
    """A full night's batch is all history: the stops suite validates it in parts of whole
    agency-months (bounded memory); the merged result is the one-part result."""
    from dagster_project.defs import quality

    con = duckdb.connect(str(scenario["warehouse"]), read_only=True)
    try:
        months = con.execute(quality.BATCH_MONTHS_SQL).fetchall()
        whole = quality.validate_stops_batch(con, part_rows=10**9)
        logged = []
        parted = quality.validate_stops_batch(con, part_rows=4_000, log=logged.append)
    finally:
        con.close()
    assert sum(m[2] for m in months) == whole.row_count == parted.row_count > 30_000
    assert len(logged) == len(quality.batch_parts(months, 4_000)) >= 8
    assert [(r.name, r.success, r.unexpected_count) for r in parted.results] == [
        (r.name, r.success, r.unexpected_count) for r in whole.results
    ]
    assert parted.success_blocking and whole.success_blocking
