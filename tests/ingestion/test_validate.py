"""`lantern validate`: an export checked against its mapping, without loading anything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dagster_project import cli
from ingestion import demo

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real"


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("landing")
    return root, demo.generate(root, rows=2_000)


def test_demo_export_is_loadable_and_rejected_rows_are_listed(landing, capsys):
    root, manifest = landing
    path = root / "alder_pd" / "stops" / "alder_stops_2023H2.csv"
    assert cli.main(["validate", "alder_pd", str(path), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    (file_report,) = report["files"]
    assert report["loadable"] and file_report["loadable"]
    expected = next(
        f for f in manifest["agencies"]["alder_pd"]["files"] if f["path"].endswith("H2.csv")
    )
    assert [r["row"] for r in file_report["rejected"]] == [m["line"] for m in expected["malformed"]]
    assert file_report["rows_raw"] == expected["data_rows"]
    assert file_report["rows_accepted"] + file_report["rows_rejected"] == expected["data_rows"]


def test_renamed_required_column_is_named(landing, tmp_path, capsys):
    root, _ = landing
    source = root / "alder_pd" / "stops" / "alder_stops_2023H1.csv"
    raw = source.read_bytes()
    header, rest = raw.split(b"\r\n", 1)
    broken = tmp_path / "alder_stops_2024H1.csv"
    broken.write_bytes(header.replace(b"Race", b"Race Code") + b"\r\n" + rest)
    assert cli.main(["validate", "alder_pd", str(broken)]) == 1
    out = capsys.readouterr().out
    assert "NOT LOADABLE" in out
    assert "required column 'Race' (subject_race) (renamed to 'Race Code'?) missing" in out


def test_unmapped_codes_are_counted_with_rows(landing, tmp_path, capsys):
    root, _ = landing
    source = root / "cedar_pd" / "stops" / "cedar_stops_2023Q1.jsonl"
    lines = source.read_text().splitlines()
    lines[2] = (
        lines[2].replace('"race": "', '"race": "martian-').replace('"race":"', '"race":"martian-')
    )
    changed = tmp_path / "cedar_stops_2024Q1.jsonl"
    changed.write_text("\n".join(lines) + "\n")
    assert cli.main(["validate", "cedar_pd", str(changed), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)["files"][0]
    unmapped = [u for u in report["unmapped_codes"] if u["field"] == "subject_race"]
    assert unmapped and unmapped[0]["value"].startswith("martian-") and unmapped[0]["rows"] == [3]


def test_unknown_agency_is_a_usage_error(tmp_path, capsys):
    assert cli.main(["validate", "no_such_agency", str(tmp_path)]) == 2
    assert "no_such_agency" in capsys.readouterr().err


@pytest.mark.skipif(not REAL.is_dir(), reason=f"real exports not found at {REAL}")
def test_real_nypd_export_validates_and_a_renamed_copy_does_not(tmp_path, capsys):
    real = REAL / "nypd-sqf-2018" / "2018_sqf_database.csv"
    assert cli.main(["validate", "nypd", str(real)]) == 0
    copy = tmp_path / "2018_sqf_database.csv"
    data = real.read_bytes()
    header, rest = data.split(b"\n", 1)
    copy.write_bytes(header.replace(b"SUSPECT_RACE_DESCRIPTION", b"SUSPECT_RACE") + b"\n" + rest)
    capsys.readouterr()
    assert cli.main(["validate", "nypd", str(copy)]) == 1
    assert "'SUSPECT_RACE_DESCRIPTION' (subject_race)" in capsys.readouterr().out
