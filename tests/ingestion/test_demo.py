"""Tests of the demo data generator (ingestion/demo.py) and the three demo agencies' configs."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import zipfile
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
import yaml

from ingestion import demo, demo_records

ROOT = Path(__file__).resolve().parents[2]
AGENCIES_DIR = ROOT / "ingestion" / "agencies"
CANONICALS = {
    dataset: yaml.safe_load((ROOT / "ingestion" / "canonical" / f"{dataset}.yml").read_text())[
        "fields"
    ]
    for dataset in ("stops", "arrests")
}
CANONICAL = CANONICALS["stops"]
BOOLEAN_SPELLINGS = {"true", "false", "t", "f", "yes", "no", "y", "n", "1", "0"}
ROWS = 20_000

EXPECTED_FILES = {
    "alder_pd": [
        "alder_stops_2023H1.csv",
        "alder_stops_2023H1_resent.csv",
        "alder_stops_2023H2.csv",
    ],
    "birch_so": ["BCSO_Stops_2023.xlsx"],
    "cedar_pd": [f"cedar_stops_2023Q{q}.jsonl" for q in range(1, 5)],
}
EXPECTED_ARREST_FILES = {
    "alder_pd": ["alder_arrests_2023.csv"],
    "birch_so": ["BCSO_Arrests_2023.xlsx"],
    "cedar_pd": ["cedar_arrests_2023.jsonl"],
}
# How each agency's stops export says a person was arrested, and which column of its arrests
# export holds the stop's id.
ARRESTED = {
    "alder_pd": ("Result", "ARR"),
    "birch_so": ("Arrest", "1"),
    "cedar_pd": ("arrested", "true"),
}
STOP_LINK = {"alder_pd": "Stop Incident #", "birch_so": "StopID", "cedar_pd": "stop_id"}


# --- reading the generated files the way ingestion sees them -----------------------------------


def _text(value) -> str | None:
    """A cell / JSON value as ingestion turns it into text."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_records(path: Path) -> tuple[list[str], list[tuple[int, dict | None, str]]]:
    """(header, [(line or row number, record or None when unparseable, raw text)])."""
    if path.suffix == ".csv":
        data = path.read_bytes()
        assert data.startswith(demo.UTF8_BOM)
        text = data[len(demo.UTF8_BOM) :].decode("cp1252")
        rows = list(csv.reader(io.StringIO(text, newline="")))
        header = rows[0]
        out = []
        for number, row in enumerate(rows[1:], start=2):
            record = dict(zip(header, row, strict=True)) if len(row) == len(header) else None
            out.append((number, record, ",".join(row)))
        return header, out
    if path.suffix == ".xlsx":
        book = openpyxl.load_workbook(path, read_only=True)
        try:
            rows = list(book.worksheets[0].iter_rows(values_only=True))
        finally:
            book.close()
        header = [str(h) for h in rows[0]]
        out = []
        for number, row in enumerate(rows[1:], start=2):
            record = {h: _text(v) for h, v in zip(header, row, strict=False)}
            out.append((number, record, repr(row)))
        return header, out
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "", "a JSON-lines file ends with a newline"
    out, header = [], None
    for number, line in enumerate(lines[:-1], start=1):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            out.append((number, None, line))
            continue
        header = header or list(obj)
        assert list(obj) == header, f"{path.name}:{number} keys differ"
        out.append((number, {k: _text(v) for k, v in obj.items()}, line))
    return header, out


def load_config(agency_id: str, dataset: str = "stops") -> tuple[dict, dict]:
    folder = AGENCIES_DIR / agency_id
    return (
        yaml.safe_load((folder / "agency.yml").read_text()),
        yaml.safe_load((folder / f"{dataset}.yml").read_text()),
    )


def files_of(entry: dict, dataset: str) -> list[dict]:
    return [f for f in entry["files"] if f["dataset"] == dataset]


def _norm(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip().lower()


def _parse_datetime(mapping: dict, record: dict) -> bool:
    """True when the record's stop (arrest) date and time parse with the agency's formats."""
    cols, fmts = mapping["columns"], mapping.get("formats", {})
    event = {"stops": "stop", "arrests": "arrest"}[mapping["dataset"]]
    try:
        if f"{event}_datetime" in cols:
            datetime.strptime(record[cols[f"{event}_datetime"]], fmts[f"{event}_datetime"])
        else:
            datetime.strptime(record[cols[f"{event}_date"]], fmts[f"{event}_date"])
            if record.get(cols.get(f"{event}_time")):
                datetime.strptime(record[cols[f"{event}_time"]], fmts[f"{event}_time"])
    except (TypeError, ValueError):
        return False
    return True


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, dict]:
    landing = tmp_path_factory.mktemp("landing_a")
    return landing, demo.generate(landing, rows=ROWS)


@pytest.fixture(scope="module")
def records(generated) -> dict[str, dict[str, tuple[list[str], list]]]:
    landing, manifest = generated
    out: dict[str, dict] = {}
    for agency_id, entry in manifest["agencies"].items():
        out[agency_id] = {f["path"]: read_records(landing / f["path"]) for f in entry["files"]}
    return out


def accepted(records, manifest, agency_id: str, dataset: str = "stops") -> list[dict]:
    """Records ingestion should load: not malformed, not in a re-sent copy."""
    rows = []
    for file in files_of(manifest["agencies"][agency_id], dataset):
        if file["resend_of"]:
            continue
        bad = {m["line"] for m in file["malformed"]}
        rows += [r for n, r, _ in records[agency_id][file["path"]][1] if n not in bad]
    return rows


# --- determinism ------------------------------------------------------------------------------


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_same_seed_and_rows_give_byte_identical_files(generated, tmp_path):
    landing, manifest = generated
    second = demo.generate(tmp_path, rows=ROWS)
    first_tree, second_tree = _tree(landing), _tree(tmp_path)
    assert sorted(first_tree) == sorted(second_tree)
    for name, data in first_tree.items():
        assert data == second_tree[name], f"{name} differs between two runs"
    assert second["expected_accepted_person_stops"] == manifest["expected_accepted_person_stops"]


def test_chunk_size_does_not_change_the_bytes(generated, tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "CHUNK_ROWS", 997)
    demo.generate(tmp_path, rows=ROWS)
    assert _tree(tmp_path) == _tree(generated[0])


def test_agencies_written_in_two_processes_give_the_same_bytes(generated, tmp_path, monkeypatch):
    """Large demos write the agencies in two processes at once (PARALLEL_MIN_ROWS): the files
    and the manifest are those of one process."""
    monkeypatch.setattr(demo, "PARALLEL_MIN_ROWS", 0)
    manifest = demo.generate(tmp_path, rows=ROWS)
    assert _tree(tmp_path) == _tree(generated[0])
    assert manifest == generated[1]


def test_other_seed_gives_other_data(tmp_path):
    a = demo.generate(tmp_path / "a", rows=3_000, seed=1)
    b = demo.generate(tmp_path / "b", rows=3_000, seed=2)
    sha = lambda m: [f["sha256"] for e in m["agencies"].values() for f in e["files"]]  # noqa: E731
    assert not set(sha(a)) & set(sha(b))


def test_rerun_leaves_identical_files_untouched(tmp_path):
    demo.generate(tmp_path, rows=3_000, seed=5)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    past = 1_600_000_000_000_000_000  # 2020-09-13, so a rewrite would be visible
    for p in files:
        os.utime(p, ns=(past, past))
    manifest = demo.generate(tmp_path, rows=3_000, seed=5)
    assert all(p.stat().st_mtime_ns == past for p in files)
    assert not any(f["written"] for e in manifest["agencies"].values() for f in e["files"])
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == sorted(
        p.name for p in files
    ), "no temporary files left behind"


def test_xlsx_has_fixed_timestamps(generated):
    landing, manifest = generated
    path = landing / manifest["agencies"]["birch_so"]["files"][0]["path"]
    with zipfile.ZipFile(path) as zf:
        assert {info.date_time for info in zf.infolist()} == {demo._XLSX_ZIP_TIME}
        core = zf.read("docProps/core.xml").decode()
    assert demo._XLSX_DOC_TIME in core


# --- files and formats ------------------------------------------------------------------------


def test_file_layout(generated):
    landing, manifest = generated
    assert (landing / demo.MANIFEST_NAME).is_file()
    assert json.loads((landing / demo.MANIFEST_NAME).read_text()) == {
        **manifest,
        "agencies": {
            a: {**e, "files": [{k: v for k, v in f.items() if k != "written"} for f in e["files"]]}
            for a, e in manifest["agencies"].items()
        },
    }
    for dataset, expected in (("stops", EXPECTED_FILES), ("arrests", EXPECTED_ARREST_FILES)):
        for agency_id, names in expected.items():
            on_disk = sorted(p.name for p in (landing / agency_id / dataset).iterdir())
            assert on_disk == sorted(names)
            files = files_of(manifest["agencies"][agency_id], dataset)
            assert sorted(Path(f["path"]).name for f in files) == sorted(names)
            for f in files:
                assert f["path"].startswith(f"{agency_id}/{dataset}/")
                digest = hashlib.sha256((landing / f["path"]).read_bytes()).hexdigest()
                assert f["sha256"] == digest
    for entry in manifest["agencies"].values():
        assert sorted(entry["files"], key=lambda f: f["dataset"] != "stops") == entry["files"]
    assert sorted(p.name for p in landing.iterdir() if p.is_file()) == [demo.MANIFEST_NAME]


def test_row_split_between_agencies(generated):
    _, manifest = generated
    counts = {a: e["person_stops"] for a, e in manifest["agencies"].items()}
    assert counts == {"alder_pd": 10_000, "birch_so": 5_000, "cedar_pd": 5_000}
    assert demo.split_rows(3_001) == {"alder_pd": 1_500, "birch_so": 750, "cedar_pd": 751}


def test_alder_csv_is_cp1252_behind_a_bom(generated):
    landing, _ = generated
    data = (landing / "alder_pd/stops/alder_stops_2023H1.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    body = data[3:]
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")  # the text itself is cp1252, not UTF-8
    text = body.decode("cp1252")
    assert {"é", "ñ", "’"} <= set(text)
    assert text.startswith(",".join(demo.ALDER_COLUMNS) + "\r\n")
    assert text.count("\r\n") == text.count("\n"), "CRLF line ends throughout"
    assert '"' in text  # quoted names ("Last, First") and locations with commas or quotes


def test_resent_file_is_a_byte_copy(generated):
    landing, manifest = generated
    files = manifest["agencies"]["alder_pd"]["files"]
    resent = [f for f in files if f["resend_of"]]
    assert len(resent) == 1
    original = landing / resent[0]["resend_of"]
    assert (landing / resent[0]["path"]).read_bytes() == original.read_bytes()
    assert resent[0]["sha256"] == next(
        f["sha256"] for f in files if f["path"] == resent[0]["resend_of"]
    )


def test_birch_workbook_opens_with_sheet_and_value_types(generated):
    landing, _ = generated
    book = openpyxl.load_workbook(landing / "birch_so/stops/BCSO_Stops_2023.xlsx")
    assert book.sheetnames == ["Stops"]
    assert book.properties.created == datetime(2024, 1, 16, 7, 30)
    sheet = book["Stops"]
    assert [c.value for c in sheet[1]] == demo.BIRCH_COLUMNS
    rows = list(sheet.iter_rows(min_row=2, max_row=400, values_only=True))
    col = {name: i for i, name in enumerate(demo.BIRCH_COLUMNS)}
    assert all(isinstance(r[col["StopID"]], int) for r in rows)
    assert all(isinstance(r[col["StopDateTime"]], str) for r in rows)
    assert {r[col["Searched"]] for r in rows} <= {0, 1}
    assert all(r[col["Age"]] is None or isinstance(r[col["Age"]], int) for r in rows)
    assert max(r[col["PersonNum"]] for r in rows) > 1, "some stops have several persons"


def test_cedar_jsonl_lines(generated):
    landing, manifest = generated
    for f in files_of(manifest["agencies"]["cedar_pd"], "stops"):
        raw = (landing / f["path"]).read_bytes()
        assert not raw.startswith(demo.UTF8_BOM)
        _, rows = read_records(landing / f["path"])
        for _, record, _ in rows:
            if record is not None:
                assert list(record) == demo.CEDAR_KEYS
        parsed = json.loads(raw.split(b"\n")[0])
        assert isinstance(parsed["searched"], bool) and isinstance(parsed["officer"], str)
        assert parsed["age"] is None or isinstance(parsed["age"], int)


def test_excel_split_into_workbooks_at_stop_boundaries(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "EXCEL_MAX_ROWS", 1_000)
    manifest = demo.generate(tmp_path, rows=10_000)
    files = files_of(manifest["agencies"]["birch_so"], "stops")
    assert [Path(f["path"]).name for f in files] == [
        f"BCSO_Stops_2023_part{i:02d}.xlsx" for i in range(1, 4)
    ]
    assert sum(f["data_rows"] for f in files) == 2_500
    stops_seen: list[set] = []
    for f in files:
        assert f["data_rows"] <= 1_000
        _, rows = read_records(tmp_path / f["path"])
        assert len(rows) == f["data_rows"]
        assert rows[0][1]["PersonNum"] == "1"
        stops_seen.append({r["StopID"] for _, r, _ in rows})
    assert not (stops_seen[0] & stops_seen[1]) and not (stops_seen[1] & stops_seen[2])


# --- manifest ground truth --------------------------------------------------------------------


def test_manifest_counts_match_files(generated, records):
    landing, manifest = generated
    for agency_id, entry in manifest["agencies"].items():
        _, mapping = load_config(agency_id)
        total, expected = 0, 0
        for f in files_of(entry, "stops"):
            header, rows = records[agency_id][f["path"]]
            assert f["data_rows"] == len(rows), f["path"]
            if f["format"] == "csv":
                physical = (landing / f["path"]).read_bytes().count(b"\n")
                assert physical == len(rows) + 1
            unparseable = {n for n, r, _ in rows if r is None or not _parse_datetime(mapping, r)}
            assert {m["line"] for m in f["malformed"]} == unparseable, f["path"]
            assert all(m["reason"] for m in f["malformed"])
            if not f["resend_of"]:
                total += len(rows)
                expected += len(rows) - len(f["malformed"])
        assert total == entry["person_stops"]
        assert expected == entry["expected_accepted_person_stops"]
        assert manifest["expected_accepted_person_stops"][agency_id] == expected
    bad = {
        a: sum(len(f["malformed"]) for f in files_of(e, "stops") if not f["resend_of"])
        for a, e in manifest["agencies"].items()
    }
    assert bad == {"alder_pd": 5, "birch_so": 3, "cedar_pd": 2}


def test_malformed_rows_are_the_kinds_announced(generated, records):
    _, manifest = generated
    for agency_id, entry in manifest["agencies"].items():
        for f in entry["files"]:
            rows = {n: (r, raw) for n, r, raw in records[agency_id][f["path"]][1]}
            for m in f["malformed"]:
                record, raw = rows[m["line"]]
                assert m["source_record_id"] in raw
                if agency_id == "birch_so" and f["dataset"] == "arrests":
                    assert record["ArrestDateTime"] in demo.BIRCH_ARREST_BAD_DATES
                    assert "ArrestDateTime" in m["reason"]
                elif agency_id == "birch_so":
                    assert record["StopDateTime"] in demo.BIRCH_BAD_DATES
                    assert "StopDateTime" in m["reason"]
                else:
                    assert record is None  # wrong field count / broken JSON


def test_accepted_person_stops_are_distinct(generated, records):
    _, manifest = generated
    for agency_id in demo.AGENCIES:
        _, mapping = load_config(agency_id)
        cols = mapping["columns"]
        rows = accepted(records, manifest, agency_id)
        keys = {(r[cols["source_record_id"]], r.get(cols.get("person_seq"), "1")) for r in rows}
        assert len(keys) == len(rows) == manifest["expected_accepted_person_stops"][agency_id]


# --- injected effects -------------------------------------------------------------------------


def _rates(rows: list[dict], mapping: dict) -> dict[str, dict[str, float]]:
    cols, values = mapping["columns"], mapping["values"]
    race_map = {_norm(k): v for k, v in values["subject_race"].items()}
    bool_map = {_norm(k): _norm(v) for k, v in values.get("search_conducted", {}).items()}
    stats: dict[str, Counter] = {}
    for r in rows:
        race = race_map.get(_norm(r[cols["subject_race"]]), _norm(r[cols["subject_race"]]))
        c = stats.setdefault(race, Counter())
        c["n"] += 1
        searched = bool_map.get(
            _norm(r[cols["search_conducted"]]), _norm(r[cols["search_conducted"]])
        )
        if searched == "true":
            c["searched"] += 1
            hit = _norm(r[cols["contraband_found"]] or "")
            c["hit"] += hit in ("y", "1", "true")
    return {
        race: {
            "share": c["n"] / len(rows),
            "search": c["searched"] / c["n"],
            "hit": c["hit"] / max(c["searched"], 1),
        }
        for race, c in stats.items()
    }


def test_alder_disparity_as_designed(generated, records):
    _, manifest = generated
    _, mapping = load_config("alder_pd")
    rates = _rates(accepted(records, manifest, "alder_pd"), mapping)
    ratio = rates["black"]["search"] / rates["white"]["search"]
    assert 1.4 <= ratio <= 2.3
    assert rates["black"]["hit"] < rates["white"]["hit"]
    assert 0.22 <= rates["black"]["share"] <= 0.28
    fx = manifest["effects"]["alder_pd"]
    assert fx["search_probability"]["black"] / fx["search_probability"]["white"] == pytest.approx(
        1.8
    )
    assert fx["hit_probability"]["black"] < fx["hit_probability"]["white"]


def test_alder_stops_black_residents_at_a_higher_rate(generated):
    _, manifest = generated
    agency, _ = load_config("alder_pd")
    population = agency["population"][2023]
    share = manifest["effects"]["alder_pd"]["share_by_race"]
    per_resident = {race: share[race] / population[race] for race in ("white", "black")}
    assert per_resident["black"] > 1.5 * per_resident["white"]
    assert population["black"] / sum(population.values()) == pytest.approx(0.15)


def test_birch_has_no_disparity(generated, records):
    _, manifest = generated
    _, mapping = load_config("birch_so")
    rates = _rates(accepted(records, manifest, "birch_so"), mapping)
    assert 0.7 <= rates["black"]["search"] / rates["white"]["search"] <= 1.4
    assert 0.6 <= rates["black"]["hit"] / rates["white"]["hit"] <= 1.6
    fx = manifest["effects"]["birch_so"]
    assert len(set(fx["search_probability"].values())) == 1
    assert len(set(fx["hit_probability"].values())) == 1


def test_cedar_modest_disparity_and_mostly_pedestrian(generated, records):
    _, manifest = generated
    _, mapping = load_config("cedar_pd")
    rows = accepted(records, manifest, "cedar_pd")
    rates = _rates(rows, mapping)
    assert 0.95 <= rates["black"]["search"] / rates["white"]["search"] <= 1.9
    fx = manifest["effects"]["cedar_pd"]
    assert fx["search_probability"]["black"] / fx["search_probability"]["white"] == pytest.approx(
        1.3
    )
    kinds = Counter(r["kind"] for r in rows)
    assert kinds["pedestrian"] > kinds["vehicle"] > kinds["bicycle"]


def test_time_of_day_is_realistic(generated, records):
    _, manifest = generated
    hours = Counter(int(r["occurred_at"][11:13]) for r in accepted(records, manifest, "cedar_pd"))
    assert hours[16] > 3 * hours[4]
    dates = {r["Stop Date"][-4:] for r in accepted(records, manifest, "alder_pd")}
    assert dates == {"2023"}


# --- arrests ---------------------------------------------------------------------------------


def test_arrests_manifest_counts_match_files(generated, records):
    landing, manifest = generated
    for agency_id, entry in manifest["agencies"].items():
        _, mapping = load_config(agency_id, "arrests")
        (f,) = files_of(entry, "arrests")
        header, rows = records[agency_id][f["path"]]
        assert f["data_rows"] == len(rows) == entry["arrests"]
        if f["format"] == "csv":
            assert (landing / f["path"]).read_bytes().startswith(demo.UTF8_BOM)
            assert (landing / f["path"]).read_bytes().count(b"\r\n") == len(rows) + 1
        unparseable = {n for n, r, _ in rows if r is None or not _parse_datetime(mapping, r)}
        assert {m["line"] for m in f["malformed"]} == unparseable, f["path"]
        assert 1 <= len(f["malformed"]) <= 2
        assert entry["expected_accepted_arrests"] == len(rows) - len(f["malformed"])
        assert manifest["expected_accepted_arrests"][agency_id] == len(rows) - len(f["malformed"])
        keys = {
            (
                r[mapping["columns"]["source_record_id"]],
                r.get(mapping["columns"].get("arrestee_seq"), "1"),
            )
            for r in accepted(records, manifest, agency_id, "arrests")
        }
        assert len(keys) == entry["expected_accepted_arrests"], "arrestee keys are distinct"


def test_every_arrested_stop_person_has_one_arrest_row(generated, records):
    """Each arrested person of an accepted stop row has exactly one accepted arrest row carrying
    the stop's id; the arrests not made at a stop have no stop id."""
    _, manifest = generated
    for agency_id, entry in manifest["agencies"].items():
        _, stops_mapping = load_config(agency_id)
        stop_key = stops_mapping["columns"]["source_record_id"]
        flag, value = ARRESTED[agency_id]
        arrested = Counter(
            r[stop_key] for r in accepted(records, manifest, agency_id) if r[flag] == value
        )
        arrests = accepted(records, manifest, agency_id, "arrests")
        linked = Counter(r[STOP_LINK[agency_id]] for r in arrests if r[STOP_LINK[agency_id]])
        assert linked == arrested, agency_id
        assert sum(linked.values()) == entry["arrests_from_stops"]
        assert len(arrests) - sum(linked.values()) >= demo.ARRESTS_NOT_FROM_STOPS_MIN - 2


def test_arrestee_matches_the_person_stopped(generated, records):
    _, manifest = generated
    stops = {r["Incident #"]: r for r in accepted(records, manifest, "alder_pd")}
    arrests = [
        r for r in accepted(records, manifest, "alder_pd", "arrests") if r["Stop Incident #"]
    ]
    assert arrests
    for arrest in arrests:
        stop = stops[arrest["Stop Incident #"]]
        assert (arrest["Race"], arrest["Gender"], arrest["Age"]) == (
            stop["Race"],
            stop["Gender"],
            stop["Age"],
        )
        assert arrest["Stop Reason"] == stop["Reason"]
        assert datetime.strptime(arrest["Arrest Date"], "%m/%d/%Y") >= datetime.strptime(
            stop["Stop Date"], "%m/%d/%Y"
        )


def test_birch_arrestees_of_one_stop_share_one_arrest(generated, records):
    _, manifest = generated
    rows = accepted(records, manifest, "birch_so", "arrests")
    by_arrest: dict[str, list[dict]] = {}
    for r in rows:
        by_arrest.setdefault(r["ArrestNum"], []).append(r)
    assert any(len(group) > 1 for group in by_arrest.values()), "some arrests have 2+ arrestees"
    for group in by_arrest.values():
        assert [r["ArresteeSeq"] for r in group] == [str(i) for i in range(1, len(group) + 1)]
        assert len({r["StopID"] for r in group}) == 1
    stop_arrests = Counter(r["StopID"] for r in rows if r["StopID"])
    arrest_of_stop = {r["StopID"]: r["ArrestNum"] for r in rows if r["StopID"]}
    assert len(arrest_of_stop) == len(stop_arrests)


def test_arrests_codes_and_types(generated, records):
    _, manifest = generated
    cedar = accepted(records, manifest, "cedar_pd", "arrests")
    assert {r["type"] for r in cedar} <= set(demo.CEDAR_ARREST_TYPE)
    assert {r["offense_class"] for r in cedar} <= set(demo.CEDAR_OFFENSE_CLASS)
    assert all(r["type"] == "on-view" and r["incident_id"] for r in cedar if not r["stop_id"])
    alder = accepted(records, manifest, "alder_pd", "arrests")
    warrants = [r for r in alder if r["Stop Reason"] == "WAR"]
    assert all(r["Warrant"] == "Y" and r["Arrest Type"] == "T" for r in warrants)
    assert {r["Charge Code"] for r in alder} <= {o[0] for o in demo.OFFENSES}


# --- configuration ----------------------------------------------------------------------------


@pytest.mark.parametrize("agency_id", demo.AGENCIES)
def test_agency_config(agency_id):
    agency, mapping = load_config(agency_id)
    assert agency["agency_id"] == agency_id
    assert agency["name"] == demo.AGENCY_NAMES[agency_id]
    assert len(str(agency["ori"])) == 9
    assert agency["reference_group"] == "white"
    races = CANONICAL["subject_race"]["domain"]
    assert set(agency["population"][2023]) <= set(races)
    assert mapping["dataset"] == "stops"


@pytest.mark.parametrize("dataset", ["stops", "arrests"])
@pytest.mark.parametrize("agency_id", demo.AGENCIES)
def test_mapping_covers_generated_files(agency_id, dataset, generated, records):
    _, manifest = generated
    _, mapping = load_config(agency_id, dataset)
    assert mapping["dataset"] == dataset
    CANONICAL = CANONICALS[dataset]  # noqa: N806 (the module constant, for this dataset)
    columns, values = mapping["columns"], mapping.get("values", {})
    files = files_of(manifest["agencies"][agency_id], dataset)
    headers = {tuple(records[agency_id][f["path"]][0]) for f in files}
    assert len(headers) == 1
    header = list(headers.pop())
    for f in files:
        assert Path(f["path"]).match(mapping["file_pattern"])

    for canonical, source in columns.items():
        assert canonical in CANONICAL, canonical
        assert source in header, f"{agency_id}: {source!r} is not a column of the files"
    for source in mapping.get("personal_data", {}):
        assert source in header
    officer = columns.get("officer_id")
    assert officer and mapping["personal_data"][officer] == "hash"
    for name, spec in CANONICAL.items():
        if spec.get("required"):
            combined = name.replace("_date", "_datetime")
            assert name in columns or (name.endswith("_date") and combined in columns)

    rows = accepted(records, manifest, agency_id, dataset)
    for canonical, source in columns.items():
        spec = CANONICAL[canonical]
        if spec["type"] not in ("code", "boolean"):
            continue
        domain = set(spec["domain"]) if spec["type"] == "code" else {"true", "false"}
        table = {_norm(k): _norm(v) for k, v in values.get(canonical, {}).items()}
        assert set(table.values()) <= domain, f"{agency_id}.{canonical} maps outside the domain"
        emitted = {_norm(r[source]) for r in rows if r[source] not in (None, "")}
        assert emitted, f"{agency_id}.{canonical}: no values generated"
        known = set(table) | domain | (BOOLEAN_SPELLINGS if spec["type"] == "boolean" else set())
        assert emitted <= known, f"{agency_id}.{canonical}: unmapped {sorted(emitted - known)}"
        if spec["type"] == "code":
            assert emitted <= set(table), f"{agency_id}.{canonical}: map lists every code"


def test_configs_load_with_the_ingestion_loader():
    config = pytest.importorskip("ingestion.config")
    for agency_id in demo.AGENCIES:
        agency = config.load_agency(agency_id, root=AGENCIES_DIR)
        assert agency.agency_id == agency_id
        for dataset in ("stops", "arrests"):
            mapping = config.load_mapping(agency_id, dataset, root=AGENCIES_DIR)
            assert mapping.dataset == dataset


# --- API and CLI ------------------------------------------------------------------------------


def test_too_few_rows_rejected(tmp_path):
    with pytest.raises(ValueError):
        demo.generate(tmp_path, rows=10)


def test_cli(tmp_path, capsys):
    assert demo.main(["--rows", "3000", "--out", str(tmp_path), "--seed", "7"]) == 0
    out = capsys.readouterr().out.strip()
    assert out.count("\n") == 0 and "44 files" in out
    manifest = json.loads((tmp_path / demo.MANIFEST_NAME).read_text())
    assert manifest["seed"] == 7 and manifest["rows"] == 3000
    assert sum(e["person_stops"] for e in manifest["agencies"].values()) == 3000


# --- every other record type (ingestion/demo_records.py) --------------------------------------


def _rows(records, manifest, agency_id: str, dataset: str) -> list[dict]:
    (file,) = files_of(manifest["agencies"][agency_id], dataset)
    rows = [r for _, r, _ in records[agency_id][file["path"]][1]]
    assert None not in rows, f"{file['path']}: every line parses"
    return rows


@pytest.mark.parametrize("dataset", demo_records.DATASETS)
@pytest.mark.parametrize("agency_id", demo.AGENCIES)
def test_record_mapping_covers_generated_file(agency_id, dataset, generated, records):
    from ingestion import config

    _, manifest = generated
    mapping = config.load_mapping(agency_id, dataset, root=AGENCIES_DIR)
    spec = config.dataset_spec(dataset)
    (file,) = files_of(manifest["agencies"][agency_id], dataset)
    assert Path(file["path"]).match(mapping.file_pattern)
    header, lines = records[agency_id][file["path"]]
    assert len(lines) == file["data_rows"] > 0 and file["malformed"] == []
    sources = {**mapping.columns, **{f: c for f, cols in mapping.list_of.items() for c in cols}}
    for source in [*sources.values(), *mapping.personal_data]:
        assert source in header, f"{agency_id}/{dataset}: {source!r} not in the file"
    for name, field in spec.fields.items():
        if field.required:
            assert name in mapping.columns or name.replace("_date", "_datetime") in mapping.columns
    rows = [r for _, r, _ in lines]
    for name, field in spec.fields.items():
        if field.type != "code" or name not in mapping.columns and name not in mapping.list_of:
            continue
        table = {_norm(k): _norm(v) for k, v in mapping.values.get(name, {}).items()}
        domain = set(field.domain)
        assert set(table.values()) <= domain
        columns = mapping.list_of.get(name) or [mapping.columns[name]]
        emitted = {_norm(r[c]) for r in rows for c in columns if r[c] not in (None, "")}
        assert emitted and emitted <= set(table) | domain, f"{agency_id}.{dataset}.{name}"


@pytest.mark.parametrize("agency_id", demo.AGENCIES)
def test_records_link_consistently(agency_id, generated, records):
    _, manifest = generated
    entry = manifest["agencies"][agency_id]

    def rows(dataset: str) -> list[dict]:
        mapping = load_config(agency_id, dataset)[1]
        inverse = {field: source for field, source in mapping["columns"].items()}
        return [
            {field: r[source] for field, source in inverse.items() if isinstance(source, str)}
            for r in _rows(records, manifest, agency_id, dataset)
        ]

    calls = {r["source_record_id"]: r for r in rows("calls_for_service")}
    force = rows("use_of_force")
    recordings = rows("bwc_recordings")
    complaints = {r["source_record_id"]: r for r in rows("complaints")}
    # force incidents come from calls that ended in an arrest
    assert force and all(
        calls[r["call_record_id"]]["disposition"] in ("ARR", "Arrest", "arrest") for r in force
    )
    incidents = {r["incident_record_id"] for r in force}
    recorded = {r["use_of_force_record_id"] for r in recordings if r["use_of_force_record_id"]}
    assert recorded < incidents  # some force incidents have a recording, some do not
    effect = entry["record_effects"]["bwc_activation"]
    assert len(recorded) == effect["force_incidents_with_recording"]
    assert (
        len(incidents) == effect["force_incidents"] == entry["facts"]["fct_use_of_force_incidents"]
    )
    # the designed share of the incidents, rounded to whole incidents
    compliance = demo_records.BWC_COMPLIANCE[agency_id]
    assert abs(len(recorded) / len(incidents) - compliance) <= 0.5 / len(incidents) + 1e-9
    # recordings name calls, stops that ended in an arrest, and complaints that exist
    stop_link = STOP_LINK[agency_id]
    arrest_stops = {
        r[stop_link] for r in accepted(records, manifest, agency_id, "arrests") if r[stop_link]
    }
    for r in recordings:
        assert not r["call_record_id"] or r["call_record_id"] in calls
        assert not r["stop_record_id"] or r["stop_record_id"] in arrest_stops
        assert not r["complaint_record_id"] or r["complaint_record_id"] in complaints
    by_id = {r["source_record_id"]: r for r in recordings}
    footage = [c for c in complaints.values() if c["bwc_recording_record_id"]]
    assert footage and len(footage) < len(complaints)
    for complaint in footage:
        assert (
            by_id[complaint["bwc_recording_record_id"]]["complaint_record_id"]
            == complaint["source_record_id"]
        )
    assert len(recordings) == entry["facts"]["fct_bwc_recordings"]


def test_record_effects_as_designed(generated):
    _, manifest = generated
    alder = manifest["agencies"]["alder_pd"]["record_effects"]
    force = alder["force_per_arrest"]
    rate = {
        race: force["force_subjects_by_race"][race] / force["accepted_arrests_by_race"][race]
        for race in ("white", "black")
    }
    assert 1.35 < rate["black"] / rate["white"] < 1.65
    school = alder["school_discipline"]
    assert school["discipline_matters"] / school["contacts"] == pytest.approx(0.60, abs=0.005)
    survey = alder["survey_unit_effect"]
    means = survey["mean_scored_value_by_unit"]
    assert means["Patrol South"] < min(m for u, m in means.items() if u != "Patrol South") - 0.5
    medians = alder["response_seconds_median_by_priority"]["generated"]
    assert [medians[p] for p in "1234"] == sorted(medians[p] for p in "1234")
    sustained = alder["sustained_by_complainant_race"]
    assert (
        sustained["black"]["sustained"] / sustained["black"]["closed_allegations"]
        < sustained["white"]["sustained"] / sustained["white"]["closed_allegations"]
    )
    assert manifest["expected_facts"]["alder_pd"] == manifest["agencies"]["alder_pd"]["facts"]


def test_spans_across_the_spring_forward_hour_keep_their_elapsed_time():
    """A CAD call received at 01:50 and answered 30 minutes later reads 03:20 on the clock: in
    the agency's zone the UTC difference is the elapsed time, never negative (a 1M-row demo once
    had calls cleared before the unit arrived, 02:xx being read as 03:xx)."""
    from zoneinfo import ZoneInfo

    import numpy as np

    zone = ZoneInfo("America/Los_Angeles")
    rng = np.random.default_rng(5)
    start = datetime(2023, 3, 12, 0, 0)
    for offset, seconds in zip(
        rng.integers(0, 4 * 3600, 500), rng.integers(0, 5 * 3600, 500), strict=True
    ):
        moment = demo_records._no_gap(start + timedelta(seconds=int(offset)))
        later = demo_records._later(moment, int(seconds))
        utc = lambda m: m.replace(tzinfo=zone).astimezone(UTC)  # noqa: E731
        assert (utc(later) - utc(moment)).total_seconds() == seconds, (moment, seconds, later)
        assert demo_records._elapsed(moment, later) == seconds
        assert not (later.date() == date(2023, 3, 12) and later.hour == 2)
