"""Dates written as numbers: ArcGIS's milliseconds since 1970 (an instant, shown in the agency's
time zone) and Excel's serial days (a date cell exported as a number)."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from dagster_project import cli
from ingestion import config
from ingestion.mapper import map_file
from ingestion.readers import read_csv, read_json

LINEAGE = {
    "agency_id": "test_pd",
    "dataset": "stops",
    "source_file": "test_pd/stops/a",
    "file_hash": "h",
    "loaded_at": "2024-01-01 00:00:00+00",
    "load_id": "L1",
}
AGENCY = """\
    agency_id: test_pd
    name: Test PD
    time_zone: America/Chicago
    population:
      2023: {white: 1000, black: 500}
    """


def agency(root: Path, mapping: str, with_agency: bool = True) -> Path:
    folder = root / "test_pd"
    folder.mkdir(parents=True, exist_ok=True)
    if with_agency:
        (folder / "agency.yml").write_text(textwrap.dedent(AGENCY))
    (folder / "stops.yml").write_text(textwrap.dedent(mapping))
    return root


def epoch_ms(local: str) -> int:
    moment = datetime.fromisoformat(local).replace(tzinfo=ZoneInfo("America/Chicago"))
    return int(moment.astimezone(UTC).timestamp() * 1000)


def test_arcgis_milliseconds_are_the_agencys_local_date_and_time(tmp_path):
    """Summer (CDT) and winter (CST) instants, a day boundary in UTC that is not one locally,
    and values that are no date: a reject when the field is required."""
    features = [
        {"attributes": {"ID": 1, "RACE": "W", "OCCURRED": epoch_ms("2023-07-04T22:30:00")}},
        {"attributes": {"ID": 2, "RACE": "B", "OCCURRED": epoch_ms("2023-01-15T19:05:00")}},
        {"attributes": {"ID": 3, "RACE": "B", "OCCURRED": "not a date"}},
        {"attributes": {"ID": 4, "RACE": "W", "OCCURRED": 99999999999999999}},
    ]
    path = tmp_path / "stops.json"
    path.write_text(json.dumps({"fields": [], "features": features}))
    root = agency(
        tmp_path / "agencies",
        """\
        dataset: stops
        format: json
        json: {records: features, record_key: attributes}
        columns: {source_record_id: ID, stop_datetime: OCCURRED, subject_race: RACE}
        formats: {stop_datetime: epoch_ms}
        values: {subject_race: {W: white, B: black}}
        not_recorded: [search_conducted]
        """,
    )
    mapping = config.load_mapping("test_pd", "stops", root=root)
    assert mapping.time_zone == "America/Chicago"
    parsed = read_json(path, **mapping.json)
    mapped = map_file(parsed, mapping, config.dataset_spec("stops"), lineage=LINEAGE, salt="s")
    rows = parsed.con.execute(
        "select source_record_id, stop_date, stop_time from mapped"
        " where _reject_reason is null order by 1"
    ).fetchall()
    assert rows == [("1", "2023-07-04", "22:30:00"), ("2", "2023-01-15", "19:05:00")]
    assert [(r.source_row, r.reason) for r in mapped.rejects] == [
        (3, "column 'OCCURRED' (stop_datetime): unparseable datetime 'not a date' (expected epoch_ms)"),
        (4, "column 'OCCURRED' (stop_datetime): unparseable datetime '99999999999999999' (expected epoch_ms)"),
    ]  # fmt: skip


def test_excel_serial_days_with_the_time_as_fraction(tmp_path):
    path = tmp_path / "stops.csv"
    path.write_text("id,day,race\n1,45000,W\n2,45123.75,B\n3,45123.5,B\n")
    root = agency(
        tmp_path / "agencies",
        """\
        dataset: stops
        format: csv
        columns: {source_record_id: id, stop_datetime: day, subject_race: race}
        formats: {stop_datetime: [excel_serial]}
        values: {subject_race: {W: white, B: black}}
        not_recorded: [search_conducted]
        """,
    )
    mapping = config.load_mapping("test_pd", "stops", root=root)
    parsed = read_csv(path)
    map_file(parsed, mapping, config.dataset_spec("stops"), lineage=LINEAGE, salt="s")
    rows = parsed.con.execute("select stop_date, stop_time from mapped order by 1, 2").fetchall()
    # 45000 is 2023-03-15 in Excel (days since 1899-12-30), 45123 2023-07-16
    assert rows == [
        ("2023-03-15", "00:00:00"),
        ("2023-07-16", "12:00:00"),
        ("2023-07-16", "18:00:00"),
    ]


def test_an_epoch_format_needs_the_agencys_time_zone(tmp_path):
    root = agency(
        tmp_path / "agencies",
        """\
        dataset: stops
        format: csv
        columns: {source_record_id: id, stop_datetime: t, subject_race: race}
        formats: {stop_datetime: epoch_s}
        not_recorded: [search_conducted]
        """,
        with_agency=False,
    )
    with pytest.raises(config.ConfigError, match="needs the agency's time_zone"):
        config.load_mapping("test_pd", "stops", root=root)
    (root / "test_pd" / "stops.yml").write_text(
        "dataset: stops\nformat: csv\ncolumns: {source_record_id: id, stop_date: t, "
        "subject_race: race}\nformats: {stop_date: epoch}\nnot_recorded: [search_conducted]\n"
    )
    with pytest.raises(config.ConfigError, match="epoch_ms, epoch_s, excel_serial"):
        config.load_mapping("test_pd", "stops", root=root)


def test_onboard_proposes_milliseconds_for_an_arcgis_date(tmp_path):
    features = [
        {
            "attributes": {
                "INCIDENT_NUM": f"2023-{n:05d}",
                "STOP_DATE": epoch_ms(f"2023-03-{1 + n % 28:02d}T{n % 24:02d}:15:00"),
                "RACE": "W" if n % 3 else "B",
            }
        }
        for n in range(60)
    ]
    sample = tmp_path / "Stops.json"
    sample.write_text(json.dumps({"features": features}))
    out = tmp_path / "draft.yml"
    argv = ["onboard", "new_agency", str(sample), "--dataset", "stops", "--out", str(out)]
    assert cli.main(argv) == 0
    draft = yaml.safe_load(out.read_text())
    assert draft["json"] == {"records": "features", "record_key": "attributes"}
    date_field = next(f for f, c in draft["columns"].items() if c == "STOP_DATE")
    assert draft["formats"][date_field] == "epoch_ms"
