"""JSON documents (`format: json`): the answer of an agency's open-data API, loaded as the same
rows its CSV download gives, every element of its array of records accepted or rejected."""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

import pytest
import yaml

from dagster_project import cli
from ingestion import config, validate
from ingestion.mapper import map_file
from ingestion.readers import UnreadableFile, read_csv, read_json

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real"
TERRY = REAL / "seattle-terry-stops-2017snap" / "Terry_Stops.csv"
LINEAGE = {
    "agency_id": "new_agency",
    "dataset": "stops",
    "source_file": "new_agency/stops/a.json",
    "file_hash": "h",
    "loaded_at": "2024-01-01 00:00:00+00",
    "load_id": "L1",
}


def rows(parsed) -> list[tuple]:
    return parsed.con.execute("select * from src order by _source_row").fetchall()


def test_an_array_of_objects_is_read_as_text_in_key_order(tmp_path):
    path = tmp_path / "a.json"
    records = [
        {"id": 1, "when": "2023-05-01", "age": 41.0, "ok": True, "tags": {"b": 2, "a": [1]}},
        {"when": "2023-05-02", "id": "2", "note": "é", "age": 41.5, "ok": None},
        ["not", "an", "object"],
        {"id": 12345678901234567890, "age": 1e20, "ok": False},
    ]
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    parsed = read_json(path)
    assert parsed.columns == ["id", "when", "age", "ok", "tags", "note"]
    assert parsed.rows_raw == 4
    assert [(r.source_row, r.reason, r.raw_text) for r in parsed.rejects] == [
        (3, "record 3 is not a JSON object", '["not", "an", "object"]')
    ]
    assert rows(parsed) == [
        ("1", "2023-05-01", "41", "true", '{"a": [1], "b": 2}', None, 1),
        ("2", "2023-05-02", "41.5", None, None, "é", 2),
        ("12345678901234567890", None, "100000000000000000000", "false", None, None, 4),
    ]


def test_records_found_at_a_path_or_as_the_only_array(tmp_path):
    path = tmp_path / "a.json"
    path.write_text(
        json.dumps({"meta": {"n": 2}, "result": {"records": [{"id": "a"}, {"id": "b"}]}})
    )
    assert [r[0] for r in rows(read_json(path, records="result.records"))] == ["a", "b"]
    with pytest.raises(UnreadableFile, match="no key 'rows' under 'result' .its keys: records"):
        read_json(path, records="result.rows")
    with pytest.raises(UnreadableFile, match="its keys: meta, result.*set json: .records"):
        read_json(path)
    path.write_text(json.dumps({"data": [{"id": "a"}], "meta": {"view": "x"}}))
    assert rows(read_json(path)) == [("a", 1)]
    path.write_text(json.dumps({"a": [{"id": 1}], "b": [{"id": 2}]}))
    with pytest.raises(UnreadableFile, match="arrays of objects under: a, b"):
        read_json(path)


def test_arcgis_features_are_read_from_their_attributes(tmp_path):
    path = tmp_path / "a.json"
    path.write_text(
        json.dumps(
            {
                "fields": [{"name": "OBJECTID"}, {"name": "RACE"}],
                "features": [
                    {"attributes": {"OBJECTID": 1, "RACE": "W"}, "geometry": {"x": 1}},
                    {"geometry": {"x": 2}},
                    {"attributes": {"OBJECTID": 3, "RACE": "B"}},
                ],
            }
        )
    )
    parsed = read_json(path, records="features", record_key="attributes")
    assert rows(parsed) == [("1", "W", 1), ("3", "B", 3)]
    assert [(r.source_row, r.reason) for r in parsed.rejects] == [
        (2, "record 2 holds no object under 'attributes'")
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"[]", "the array of records is empty"),
        (b'[{"id": 1},\n {"id": 2,}]', r"line 2, column 11: invalid JSON: Expecting property name"),
        (b'"text"', "the document is a text, not an array of records"),
        (b'[{"id": "\xe9"}]', "line 1: undecodable bytes for encoding utf-8"),
    ],
)
def test_unreadable_documents_name_the_problem(tmp_path, content, message):
    path = tmp_path / "a.json"
    path.write_bytes(content)
    with pytest.raises(UnreadableFile, match=message):
        read_json(path)


def test_a_mapping_names_where_the_records_are(tmp_path):
    folder = tmp_path / "new_agency"
    folder.mkdir()
    (folder / "stops.yml").write_text(
        "dataset: stops\nformat: json\njson: {records: features, record_key: attributes}\n"
        "columns: {source_record_id: id, stop_date: d, subject_race: r}\n"
        "not_recorded: [search_conducted]\n"
    )
    mapping = config.load_mapping("new_agency", "stops", root=tmp_path)
    assert mapping.format == "json"
    assert mapping.json == {"records": "features", "record_key": "attributes"}
    (folder / "stops.yml").write_text(
        "dataset: stops\nformat: json\njson: {path: features}\n"
        "columns: {source_record_id: id, stop_date: d, subject_race: r}\n"
    )
    with pytest.raises(config.ConfigError, match="path"):
        config.load_mapping("new_agency", "stops", root=tmp_path)


def reviewed(draft: dict) -> dict:
    """The draft as a reviewer leaves it: codes it could not place ("???") left to map to
    unknown, and the field Seattle does not record (searches) declared so."""
    values = {
        field: {code: value for code, value in codes.items() if value != "???"}
        for field, codes in (draft.get("values") or {}).items()
    }
    return draft | {"values": values, "not_recorded": ["search_conducted"]}


def terry_rows(limit: int) -> tuple[list[str], list[dict]]:
    with TERRY.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(itertools.islice(reader, limit))


@pytest.mark.skipif(not TERRY.is_file(), reason=f"real export not found at {TERRY}")
@pytest.mark.parametrize("layout", ["socrata", "arcgis"])
def test_real_stops_as_an_api_answer_map_as_their_csv_does(tmp_path, layout):
    """Seattle's Terry stops (the real CSV in ../shared), their first 2,000 rows sent as an
    open-data API answers (Socrata: an array of objects; ArcGIS: features with attributes):
    `lantern onboard` drafts the same columns and says where the records are, and the reviewed
    draft maps the JSON to exactly the rows and rejects of the CSV."""
    header, records = terry_rows(2_000)
    sample_csv = tmp_path / "Terry_Stops.csv"
    with sample_csv.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, header)
        writer.writeheader()
        writer.writerows(records)
    sample = tmp_path / "Terry_Stops.json"
    document = (
        records
        if layout == "socrata"
        else {
            "fields": [{"name": n} for n in header],
            "features": [{"attributes": r} for r in records],
        }
    )
    sample.write_text(json.dumps(document), encoding="utf-8")

    drafts = {}
    for name, path in (("csv", sample_csv), ("json", sample)):
        out = tmp_path / f"{name}.yml"
        argv = ["onboard", "new_agency", str(path), "--dataset", "stops", "--out", str(out)]
        assert cli.main(argv) == 0
        drafts[name] = yaml.safe_load(out.read_text())
    assert drafts["json"]["format"] == "json"
    assert drafts["json"].get("json", {}) == (
        {} if layout == "socrata" else {"records": "features", "record_key": "attributes"}
    )
    assert drafts["json"]["columns"] == drafts["csv"]["columns"]

    root = tmp_path / "agencies"
    (root / "new_agency").mkdir(parents=True)
    mapped = {}
    for name, path in (("csv", sample_csv), ("json", sample)):
        (root / "new_agency" / "stops.yml").write_text(yaml.safe_dump(reviewed(drafts[name])))
        mapping = config.load_mapping("new_agency", "stops", root=root)
        parsed = read_csv(path) if name == "csv" else read_json(path, **mapping.json)
        result = map_file(parsed, mapping, config.dataset_spec("stops"), lineage=LINEAGE, salt="s")
        accepted = parsed.con.execute(
            "select * exclude (_source_row) from mapped order by _source_row"
        ).fetchall()
        numbers = parsed.con.execute("select list(_source_row order by 1) from mapped").fetchone()[
            0
        ]
        rejected = [r.source_row for r in result.rejects]
        mapped[name] = (result.rows_accepted, rejected, numbers, accepted)
        report = validate.validate_file("new_agency", path, mapping)
        assert report.rows_raw == 2_000 and report.rows_accepted == result.rows_accepted
    assert mapped["json"][0] > 1_900
    # a CSV row's number counts its header line: record n is line n + 1
    assert mapped["json"][1] == [row - 1 for row in mapped["csv"][1]]
    assert mapped["json"][2] == [row - 1 for row in mapped["csv"][2]]
    assert mapped["json"][3] == mapped["csv"][3]
