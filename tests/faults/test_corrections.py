"""Corrections, re-sends and freshness (issue 4, points 3 and 6), on a copy of the baseline.

alder_pd re-sends its export alder_stops_2023H2.csv under the same name, corrected: one stop's
race changed, three stops left out. It also re-sends H1 unchanged under a new name. The run is
checked 60 days in the future (LANTERN_FRESHNESS_AS_OF), with cedar_pd's stops declared yearly.

Expected: the corrected stop replaces its earlier version and both versions are kept; the three
left-out stops stay published and the shrink is reported; the unchanged copy is skipped; every
monthly dataset is stale (a warn check, publication goes on), cedar_pd's yearly stops are fresh.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta

import pytest

from dagster_project import cli
from dagster_project.publication import current_release
from ingestion import settings

H1 = "alder_pd/stops/alder_stops_2023H1.csv"
H2 = "alder_pd/stops/alder_stops_2023H2.csv"
H1_COPY = "alder_pd/stops/alder_stops_2023H1_again.csv"
LEFT_OUT = 3


@pytest.fixture(scope="module")
def corrected(baseline, lantern, tmp_path_factory):
    root = tmp_path_factory.mktemp("corrections")
    data = lantern.copy_state(baseline["data"], root / "data")
    agencies = root / "agencies"
    shutil.copytree(settings.AGENCIES_DIR, agencies)
    cedar = agencies / "cedar_pd" / "stops.yml"
    cedar.write_text(cedar.read_text() + "expected_cadence: yearly\n")
    landing = data / "landing"

    entry = next(
        f for f in baseline["manifest"]["agencies"]["alder_pd"]["files"] if f["path"] == H2
    )
    bad = {m["line"] for m in entry["malformed"]}
    lines = (landing / H2).read_bytes().removesuffix(b"\r\n").split(b"\r\n")
    header = lines[0].split(b",")
    race = header.index(b"Race") - len(header)  # from the end: Officer Name holds a comma
    good = [line for number, line in enumerate(lines, start=1) if number > 1 and number not in bad]
    target = next(i for i, line in enumerate(good) if line.split(b",")[race] == b"W")
    fields = good[target].split(b",")
    fields[race] = b"B"
    good[target] = b",".join(fields)
    corrected_id = fields[0].decode()
    left_out = [line.split(b",")[0].decode() for line in good[-LEFT_OUT:]]
    (landing / H2).write_bytes(b"\r\n".join([lines[0], *good[:-LEFT_OUT]]) + b"\r\n")
    shutil.copyfile(landing / H1, landing / H1_COPY)

    as_of = (datetime.now(UTC) + timedelta(days=60)).isoformat()
    with lantern.lantern_at(data):
        mp = pytest.MonkeyPatch()
        mp.setenv("LANTERN_AGENCIES_DIR", str(agencies))
        mp.setenv("LANTERN_FRESHNESS_AS_OF", as_of)
        try:
            rc = cli.run_pipeline()
            rc_status, status = lantern.status_json(data)
        finally:
            mp.undo()
    yield {
        "data": data,
        "rc": rc,
        "status": status,
        "release": current_release(data / "publish"),
        "corrected_id": corrected_id,
        "left_out": left_out,
    }
    shutil.rmtree(root, ignore_errors=True)


def test_publication_goes_on(corrected, baseline, lantern):
    assert corrected["rc"] == 0 and corrected["release"] != baseline["release"]
    gaps = [r for r in lantern.reconciliation_gaps(corrected["data"]) if r[2] != sum(r[3:6])]
    assert gaps == []


def test_the_latest_version_of_a_corrected_record_wins(corrected, baseline, lantern):
    (race, source_file, count) = lantern.query(
        corrected["data"],
        "select subject_race, source_file, (select count(*) from marts.fct_stops) "
        "from marts.fct_stops where agency_id = 'alder_pd' and source_record_id = ?",
        [corrected["corrected_id"]],
    )[0]
    assert (race, source_file) == ("black", H2)
    baseline_stops = baseline["numbers"]["fct_stops"]
    now_stops = lantern.published_numbers(corrected["release"])["fct_stops"]
    assert now_stops[0] == baseline_stops[0] == count  # nothing deleted, nothing doubled
    changed = set(now_stops[1]) - set(baseline_stops[1])
    gone = set(baseline_stops[1]) - set(now_stops[1])
    assert len(changed) == len(gone) == 1  # exactly the corrected stop differs
    assert corrected["corrected_id"] in next(iter(changed)) and "'black'" in next(iter(changed))


def test_every_version_is_kept_and_published(corrected):
    versions = [
        r
        for r in _quality(corrected, "mart_quality_record_versions")
        if r["source_record_id"] == corrected["corrected_id"]
    ]
    assert [(v["version_number"], v["is_current"], v["source_file"]) for v in versions] == [
        ("1", "false", H2),
        ("2", "true", H2),
    ]
    assert versions[0]["loaded_at"] < versions[1]["loaded_at"]


def test_a_shrinking_resend_is_reported_not_applied(corrected, lantern):
    (status, missing, notes) = lantern.query(
        corrected["data"],
        "select status, records_missing, notes from raw.files where source_file = ? "
        "order by loaded_at desc limit 1",
        [H2],
    )[0]
    assert status == "loaded" and missing == LEFT_OUT
    assert f"shrank: {LEFT_OUT} record(s) of the previous version" in notes
    for record_id in corrected["left_out"]:
        assert record_id in notes or len(corrected["left_out"]) > 5
        (kept,) = lantern.query(
            corrected["data"],
            "select count(*) from marts.fct_stops where agency_id = 'alder_pd' "
            "and source_record_id = ?",
            [record_id],
        )[0]
        assert kept == 1, record_id
    published = {r["source_file"]: r for r in _quality(corrected, "mart_quality_files")}
    assert published[H2]["records_missing"] == str(LEFT_OUT)
    shown = {f["file"]: f for f in corrected["status"]["files"]}
    assert shown[H2]["records_missing"] == LEFT_OUT


def test_an_unchanged_resend_is_skipped(corrected, lantern):
    (status, reason, accepted) = lantern.query(
        corrected["data"],
        "select status, reason, rows_accepted from raw.files where source_file = ?",
        [H1_COPY],
    )[0]
    assert status == "duplicate" and accepted == 0 and H1 in reason
    (loaded,) = lantern.query(
        corrected["data"], "select count(*) from raw.stops where _source_file = ?", [H1_COPY]
    )[0]
    assert loaded == 0


def test_freshness_is_judged_against_each_cadence(corrected, lantern):
    published = {
        (r["agency_id"], r["dataset"]): r for r in _quality(corrected, "mart_quality_freshness")
    }
    assert published[("alder_pd", "stops")]["freshness_status"] == "stale"
    assert published[("alder_pd", "stops")]["days_since_last_received"] in ("59", "60")
    assert published[("cedar_pd", "stops")]["freshness_status"] == "fresh"
    assert published[("cedar_pd", "stops")]["expected_cadence"] == "yearly"
    assert published[("nypd", "stops")]["freshness_status"] == "never_received"
    shown = {(f["agency_id"], f["dataset"]): f for f in corrected["status"]["freshness"]}
    assert shown[("alder_pd", "stops")]["freshness_status"] == "stale"
    assert shown[("alder_pd", "stops")]["last_received_at"]
    checks = [c for c in corrected["status"]["checks"] if c["check"] == "assert_datasets_are_fresh"]
    assert checks and checks[0]["passed"] is False and checks[0]["severity"] == "warn"


def _quality(corrected, table: str) -> list[dict]:
    import csv

    with (corrected["release"] / "data" / f"{table}.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))
