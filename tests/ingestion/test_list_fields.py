"""Mapping features the use-of-force exports need, each general and configured, never a special
case for one file:

- `columns: {force_types: {list_of: [TYPE1, ..., TYPE10]}}`: several columns each holding one
  element of a list (Dallas TYPE_OF_FORCE_USED1..10) land in raw as the non-empty elements in
  column order joined with '|'; value maps apply per element (in dbt; the maps are loaded here);
- `columns: {officer_subject_seq: {sequence_within: COL}}`: a row's 1-based order among the
  file's rows with the same value of COL (Dallas repeats a report number without numbering);
- `formats: {incident_date: [F1, F2]}`: formats tried in order (Dallas writes both 09/03/2016
  and 3/22/16 in one column);
- `column_null_values: {COL: ["0"]}`: texts meaning "empty" in one column only (Dallas
  SUBJECT_ID 0 is "no id", while 0 is a real count elsewhere).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ingestion import config
from ingestion.mapper import ContractViolation, map_file
from ingestion.pipeline import config_tables
from ingestion.readers import read_csv

LINEAGE = {
    "agency_id": "test_pd",
    "dataset": "use_of_force",
    "source_file": "test_pd/use_of_force/a.csv",
    "file_hash": "h",
    "loaded_at": "2024-01-01 00:00:00+00",
    "load_id": "L1",
}

MAPPING = """\
    dataset: use_of_force
    format: csv
    columns:
      source_record_id: NUM
      officer_subject_seq: {sequence_within: NUM}
      incident_record_id: NUM
      incident_date: DATE
      subject_race: RACE
      officer_id: OFFICER
      force_types: {list_of: [F1, F2, F3]}
    formats:
      incident_date: ["%m/%d/%y", "%m/%d/%Y"]
    values:
      force_types: {"Taser": ecd_deploy, "Take Down - Arm": physical_takedown}
    personal_data:
      OFFICER: hash
    """

CSV = """\
NUM,DATE,RACE,OFFICER,F1,F2,F3
10,09/03/2016,Black,7,Taser,,Verbal Command
11,3/22/16,White,8,,,
11,3/23/16,White,9,Take Down - Arm,Taser,
12,OCCURRED_D,White,9,Taser,,
"""


def write_mapping(tmp_path: Path, mapping: str = MAPPING) -> Path:
    root = tmp_path / "agencies"
    folder = root / "test_pd"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "agency.yml").write_text(
        "agency_id: test_pd\nname: Test PD\ntime_zone: America/Chicago\n"
    )
    (folder / "use_of_force.yml").write_text(textwrap.dedent(mapping))
    return root


def mapped_rows(tmp_path: Path, mapping: str = MAPPING, text: str = CSV):
    root = write_mapping(tmp_path, mapping)
    path = tmp_path / "a.csv"
    path.write_text(text)
    parsed = read_csv(path)
    result = map_file(
        parsed,
        config.load_mapping("test_pd", "use_of_force", root=root),
        config.dataset_spec("use_of_force"),
        lineage=LINEAGE,
        salt="s",
    )
    return parsed, result


def test_list_columns_become_one_raw_column_of_the_non_empty_elements(tmp_path):
    parsed, result = mapped_rows(tmp_path)
    rows = parsed.con.execute(
        "select source_record_id, force_types from mapped where _reject_reason is null "
        "order by _source_row"
    ).fetchall()
    assert rows == [("10", "Taser|Verbal Command"), ("11", None), ("11", "Take Down - Arm|Taser")]
    columns = {
        c for (c,) in parsed.con.execute("select name from pragma_table_info('mapped')").fetchall()
    }
    assert not {"src_f1", "src_f2", "src_f3"} & columns  # the elements are not passed through


def test_sequence_numbers_the_rows_of_one_record_id_in_file_order(tmp_path):
    parsed, _ = mapped_rows(tmp_path)
    rows = parsed.con.execute(
        "select source_record_id, officer_subject_seq from mapped order by _source_row"
    ).fetchall()
    assert rows == [("10", "1"), ("11", "1"), ("11", "2"), ("12", "1")]


def test_formats_are_tried_in_order_and_a_header_row_is_rejected_with_its_reason(tmp_path):
    parsed, result = mapped_rows(tmp_path)
    dates = parsed.con.execute(
        "select incident_date from mapped where _reject_reason is null order by _source_row"
    ).fetchall()
    assert dates == [("2016-09-03",), ("2016-03-22",), ("2016-03-23",)]
    assert result.rows_accepted == 3
    [reject] = result.rejects
    assert reject.source_row == 5
    assert "unparseable date 'OCCURRED_D'" in reject.reason
    assert "%m/%d/%y or %m/%d/%Y" in reject.reason


def test_value_maps_of_a_list_field_are_loaded_with_its_domain(tmp_path, monkeypatch):
    root = write_mapping(tmp_path)
    monkeypatch.setenv("LANTERN_AGENCIES_DIR", str(root))
    maps = config_tables(["use_of_force"])["value_maps"].to_pylist()
    force = {
        m["source_value"]: m["canonical_value"]
        for m in maps
        if m["agency_id"] == "test_pd" and m["field"] == "force_types"
    }
    assert force["taser"] == "ecd_deploy"
    assert force["take down - arm"] == "physical_takedown"
    assert force["verbal_command"] == "verbal_command"  # identity rows for the domain


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ("subject_race: {list_of: [A, B]}", "list_of applies to list fields"),
        ("force_types: {list_of: []}", "must list source columns"),
        ("subject_race: {sequence_within: NUM}", "sequence_within applies to integer fields"),
    ],
)
def test_misuse_is_a_config_error_naming_the_key(tmp_path, columns, message):
    mapping = MAPPING.replace(
        "      force_types: {list_of: [F1, F2, F3]}", "      " + columns
    ).replace('      force_types: {"Taser": ecd_deploy, "Take Down - Arm": physical_takedown}', "")
    if columns.startswith("subject_race"):
        mapping = mapping.replace("      subject_race: RACE\n", "")
    root = write_mapping(tmp_path, mapping)
    with pytest.raises(config.ConfigError, match=message):
        config.load_mapping("test_pd", "use_of_force", root=root)


def test_a_force_type_outside_the_domain_is_a_config_error(tmp_path):
    root = write_mapping(tmp_path, MAPPING.replace("ecd_deploy", "taser"))
    with pytest.raises(config.ConfigError, match="'taser' is not one of"):
        config.load_mapping("test_pd", "use_of_force", root=root)


def test_a_missing_sequence_column_is_a_contract_violation(tmp_path):
    text = "ID,DATE,RACE,OFFICER,F1,F2,F3\n10,09/03/2016,Black,7,Taser,,\n"
    mapping = MAPPING.replace("source_record_id: NUM", "source_record_id: ID").replace(
        "incident_record_id: NUM", "incident_record_id: ID"
    )
    with pytest.raises(ContractViolation, match="'NUM'"):
        mapped_rows(tmp_path, mapping, text)


def test_column_null_values_apply_to_their_column_only(tmp_path):
    mapping = MAPPING.replace(
        "    personal_data:", "    column_null_values: {OFFICER: ['0']}\n    personal_data:"
    ).replace("      force_types: {list_of: [F1, F2, F3]}", "      force_types: {list_of: [F1]}")
    text = "NUM,DATE,RACE,OFFICER,F1\n0,09/03/2016,White,0,Taser\n1,09/03/2016,White,7,\n"
    parsed, result = mapped_rows(tmp_path, mapping, text)
    assert result.rows_accepted == 2
    rows = parsed.con.execute(
        "select source_record_id, officer_id_hash is null from mapped order by _source_row"
    ).fetchall()
    assert rows == [("0", True), ("1", False)]
