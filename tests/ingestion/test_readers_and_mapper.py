"""Reading delivered files and mapping them: every row accepted or rejected with its line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ingestion import config
from ingestion.mapper import ContractViolation, map_file
from ingestion.readers import UnreadableFile, read_csv, read_excel, read_jsonl

LINEAGE = {
    "agency_id": "test_pd",
    "dataset": "stops",
    "source_file": "test_pd/stops/a.csv",
    "file_hash": "h",
    "loaded_at": "2024-01-01 00:00:00+00",
    "load_id": "L1",
}


def write_agency(root: Path, mapping: str) -> None:
    folder = root / "test_pd"
    folder.mkdir(parents=True)
    (folder / "agency.yml").write_text(
        textwrap.dedent(
            """\
            agency_id: test_pd
            name: Test PD
            time_zone: America/Chicago
            population:
              2023: {white: 1000, black: 500}
            """
        )
    )
    (folder / "stops.yml").write_text(textwrap.dedent(mapping))


MAPPING = """\
    dataset: stops
    format: csv
    encoding: cp1252
    columns:
      source_record_id: "Incident #"
      stop_date: "Stop Date"
      stop_time: "Stop Time"
      subject_race: Race
      subject_age: Age
      search_conducted: Searched
      officer_id: Badge
    formats:
      stop_date: "%m/%d/%Y"
      stop_time: "%I:%M %p"
    values:
      subject_race: {W: white, B: black}
    personal_data:
      Badge: hash
      Name: drop
"""


def test_cp1252_with_bom_malformed_rows_and_line_numbers(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(
        b"\xef\xbb\xbfIncident #,Stop Date,Stop Time,Race,Age,Searched,Badge,Name\n"
        b"1,01/02/2023,01:30 PM,W,34,Y,123,Jos\xe9\n"
        b"2,01/02/2023,01:30 PM,B,x\n"  # too few fields
        b"\n"
        b"3,01/03/2023,02:00 PM,B,40,N,124,Ann,extra\n"  # too many fields
        b"4,13/45/2023,09:00 AM,W,22,N,125,Al\n"  # unparseable required date
        b'5,01/04/2023,09:00 AM,B,abc,N,126,"Multi\nLine"\n'
        b"6,01/05/2023,10:15 AM,W,51,N,127,Bo\n"
    )
    parsed = read_csv(path, encoding="cp1252")
    assert parsed.rows_raw == 6
    write_agency(tmp_path / "agencies", MAPPING)
    mapping = config.load_mapping("test_pd", "stops", root=tmp_path / "agencies")
    mapped = map_file(parsed, mapping, config.dataset_spec("stops"), lineage=LINEAGE, salt="s")
    cursor = parsed.con.execute("select * from mapped where _reject_reason is null")
    names = [d[0] for d in cursor.description]
    rows = {r[0]: dict(zip(names, r, strict=True)) for r in cursor.fetchall()}
    assert sorted(rows) == ["1", "5", "6"]
    assert rows["1"]["stop_date"] == "2023-01-02" and rows["1"]["stop_time"] == "13:30:00"
    assert (
        rows["1"]["_source_row"] == 2
        and rows["5"]["_source_row"] == 7
        and rows["6"]["_source_row"] == 9
    )
    assert rows["5"]["subject_age"] is None  # not a number: kept the stop, nulled the age
    assert any("not a whole number 'abc'" in note for note in mapped.notes)
    # personal data: hashed officer id, no name column at all
    assert rows["1"]["officer_id_hash"] and rows["1"]["officer_id_hash"] != "123"
    assert not any("name" in column for column in rows["1"])
    rejected = {r.source_row: r for r in mapped.rejects}
    assert sorted(rejected) == [3, 5, 6]
    assert "MISSING COLUMNS" in rejected[3].reason
    assert "TOO MANY COLUMNS" in rejected[5].reason
    assert "column 'Stop Date' (stop_date): unparseable date '13/45/2023'" in rejected[6].reason
    assert rejected[6].column_name == "Stop Date"
    assert parsed.rows_raw == mapped.rows_accepted + len(mapped.rejects)


def test_undecodable_line_is_rejected_not_dropped(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b"a,b\n1,ok\n2,caf\xe9\n3,fine\n")
    parsed = read_csv(path, encoding="utf-8")
    assert parsed.rows_raw == 3 and parsed.rows_parsed == 2
    assert [r.source_row for r in parsed.rejects] == [3]
    assert "undecodable" in parsed.rejects[0].reason


def test_missing_required_column_is_a_contract_violation(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b"Incident #,Stop Date,Stop Time,Searched\n1,01/02/2023,01:30 PM,Y\n")
    write_agency(tmp_path / "agencies", MAPPING.replace("encoding: cp1252", "encoding: utf-8"))
    mapping = config.load_mapping("test_pd", "stops", root=tmp_path / "agencies")
    with pytest.raises(ContractViolation, match=r"required column 'Race' \(subject_race\) missing"):
        map_file(read_csv(path), mapping, config.dataset_spec("stops"), lineage=LINEAGE, salt="s")


def test_hostile_column_names_never_reach_sql_unquoted(tmp_path):
    evil = 'x"); drop table src; --'
    path = tmp_path / "a.csv"
    path.write_text(
        f'Incident #,Stop Date,Race,Searched,"{evil.replace(chr(34), chr(34) * 2)}"\n1,2023-01-02,W,Y,v\n'
    )
    write_agency(
        tmp_path / "agencies",
        """\
        dataset: stops
        format: csv
        columns: {source_record_id: "Incident #", stop_date: "Stop Date", subject_race: Race, search_conducted: Searched}
        """,
    )
    mapping = config.load_mapping("test_pd", "stops", root=tmp_path / "agencies")
    parsed = read_csv(path)
    mapped = map_file(parsed, mapping, config.dataset_spec("stops"), lineage=LINEAGE, salt="s")
    assert mapped.rows_accepted == 1
    assert parsed.con.execute("select count(*) from src").fetchone()[0] == 1


def test_config_errors_name_file_line_and_key(tmp_path):
    write_agency(
        tmp_path / "agencies",
        """\
        dataset: stops
        format: csv
        columns:
          source_record_id: id
          stop_date: date
          subject_race: race
          search_conducted: searched
        values:
          subject_race:
            W: purple
        """,
    )
    with pytest.raises(config.ConfigError, match=r"stops.yml:10: values.subject_race.W: 'purple'"):
        config.load_mapping("test_pd", "stops", root=tmp_path / "agencies")
    with pytest.raises(config.ConfigError, match="invalid agency id"):
        config.load_mapping("../etc", "stops", root=tmp_path / "agencies")


def test_jsonl_broken_lines_rejected_with_line_numbers(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"id": 1, "searched": true}\n{"id": 2, "sear\n\n{"id": 3, "age": 41.0}\n')
    parsed = read_jsonl(path)
    assert parsed.rows_raw == 3
    assert [r.source_row for r in parsed.rejects] == [2]
    rows = parsed.con.execute(
        "select id, searched, age, _source_row from src order by 4"
    ).fetchall()
    assert rows == [("1", "true", None, 1), ("3", None, "41", 4)]


def test_excel_cells_as_text_with_offsets_blank_rows_and_extra_cells(tmp_path):
    """The sheet starts at B3 under a title row, has a blank row, a row with a cell beyond the
    header and every kind of cell value; each is read as the text an analyst would type."""
    import datetime as dt

    import openpyxl

    book = openpyxl.Workbook()
    ws = book.active
    ws["B1"] = "Stops export"
    header = ["id", "when", "age", "ok", None, "note"]
    records = [
        [1, dt.datetime(2023, 5, 1, 14, 30), 41.0, True, None, "a"],
        [2, dt.date(2023, 5, 2), 41.5, False, None, ""],
        [None, None, None, None, None, None],
        [3, dt.time(8, 5), 1e20, None, None, "x", "spill"],
        [4, "2023-05-04", 0.1, None, "  ", None],
    ]
    for r, values in enumerate([header, *records], start=3):
        for c, value in enumerate(values, start=2):
            ws.cell(row=r, column=c, value=value)
    path = tmp_path / "a.xlsx"
    book.save(path)
    parsed = read_excel(path, skip_rows=2)
    # column A is empty but part of the sheet: a blank header cell gets a name
    assert parsed.columns == ["column1", "id", "when", "age", "ok", "column6", "note"]
    assert parsed.rows_raw == 4  # the blank row is not a record
    assert [(r.source_row, r.reason) for r in parsed.rejects] == [
        (7, "too many cells: expected 7, found 8")
    ]
    assert parsed.rejects[0].raw_text == "\t3\t08:05:00\t100000000000000000000\t\t\tx\tspill"
    rows = parsed.con.execute(
        'select id, "when", age, ok, column6, note, _source_row from src order by _source_row'
    ).fetchall()
    assert rows == [
        ("1", "2023-05-01 14:30:00", "41", "true", None, "a", 4),
        ("2", "2023-05-02", "41.5", "false", None, None, 5),
        ("4", "2023-05-04", "0.1", None, None, None, 8),
    ]


def test_excel_rows_keep_their_spreadsheet_numbers_under_blank_leading_rows(tmp_path):
    """Nothing in rows 1-3 and columns A-B: the header is found in row 4 (by name, for a
    mapping's header detection, and as the first non-empty row), and every record and reject
    names its own spreadsheet row."""
    import openpyxl

    from ingestion.readers import find_header_row

    book = openpyxl.Workbook()
    ws = book.active
    for r, values in enumerate(
        [["id", "when", "age"], [1, "2023-05-01", 41], [2, "2023-05-02", None, "spill"]],
        start=4,
    ):
        for c, value in enumerate(values, start=3):
            ws.cell(row=r, column=c, value=value)
    ws["C9"] = 3
    path = tmp_path / "a.xlsx"
    book.save(path)
    assert find_header_row(path, None, {"id", "when", "age"}) == 4
    parsed = read_excel(path)
    assert parsed.columns == ["column1", "column2", "id", "when", "age"]
    assert [(r.source_row, r.reason) for r in parsed.rejects] == [
        (6, "too many cells: expected 5, found 6")
    ]
    rows = parsed.con.execute("select id, _source_row from src order by _source_row").fetchall()
    assert rows == [("1", 5), ("3", 9)]
    assert read_excel(path, skip_rows=3).columns == parsed.columns


def test_empty_file_is_unreadable(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b"")
    with pytest.raises(UnreadableFile, match="empty"):
        read_csv(path)


def test_flag_sets_constants_empty_defaults_null_values_and_gzip(tmp_path):
    import gzip

    path = tmp_path / "a.csv.gz"
    path.write_bytes(
        gzip.compress(
            b"ID,DATE,RACE,SEARCHED,ARRESTED,WEAPON,OTHER\n"
            b"1,2018-01-02,BLACK,Y,,Y,\n"
            b"2,2018-01-02,(null),N,Y,,Y\n"
            b"3,2018-01-03,WHITE,N,,,\n"
        )
    )
    write_agency(
        tmp_path / "agencies",
        """\
        dataset: stops
        format: csv
        null_values: ["(null)"]
        columns:
          source_record_id: ID
          stop_date: DATE
          subject_race: RACE
          search_conducted: SEARCHED
          arrest_made: ARRESTED
          contraband_found: {any_of: [WEAPON, OTHER]}
        constants: {stop_type: pedestrian}
        empty_as: {arrest_made: false}
        """,
    )
    mapping = config.load_mapping("test_pd", "stops", root=tmp_path / "agencies")
    parsed = read_csv(path)
    mapped = map_file(parsed, mapping, config.dataset_spec("stops"), lineage=LINEAGE, salt="s")
    assert mapped.rows_accepted == 3 and not mapped.rejects
    rows = parsed.con.execute(
        "select source_record_id, subject_race, stop_type, arrest_made, contraband_found "
        "from mapped order by 1"
    ).fetchall()
    assert rows == [
        ("1", "BLACK", "pedestrian", "false", "true"),
        ("2", None, "pedestrian", "Y", "true"),
        ("3", "WHITE", "pedestrian", "false", None),
    ]
    columns = [
        c for (c,) in parsed.con.execute("select name from pragma_table_info('mapped')").fetchall()
    ]
    assert "src_weapon" not in columns  # flag columns feed the field, not a passthrough copy


def test_not_recorded_fields_satisfy_the_contract_and_stay_empty(tmp_path):
    write_agency(
        tmp_path / "agencies",
        """\
        dataset: stops
        format: csv
        columns: {source_record_id: id, stop_date: date, subject_race: race}
        not_recorded: [search_conducted]
        """,
    )
    mapping = config.load_mapping("test_pd", "stops", root=tmp_path / "agencies")
    assert mapping.not_recorded == ["search_conducted"]
    path = tmp_path / "a.csv"
    path.write_text("id,date,race\n1,2023-01-02,W\n")
    parsed = read_csv(path)
    mapped = map_file(parsed, mapping, config.dataset_spec("stops"), lineage=LINEAGE, salt="s")
    assert mapped.rows_accepted == 1
    assert parsed.con.execute("select search_conducted from mapped").fetchone() == (None,)
    # without the declaration, the unmapped required field is a configuration error
    (tmp_path / "agencies" / "test_pd" / "stops.yml").write_text(
        "dataset: stops\nformat: csv\ncolumns: {source_record_id: id, stop_date: date, subject_race: race}\n"
    )
    with pytest.raises(config.ConfigError, match="required field 'search_conducted' is not mapped"):
        config.load_mapping("test_pd", "stops", root=tmp_path / "agencies")
