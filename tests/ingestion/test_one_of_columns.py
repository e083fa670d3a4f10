"""`columns: {field: {one_of: [A, B]}}`: a column an agency's exports have named differently over
time (St. Louis MPD's IncidentDate was IncidentDate1 in one monthly file) is read from whichever
name the file has, by configuration, without a special case for one file."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ingestion import config
from ingestion.mapper import ContractViolation, map_file
from ingestion.readers import read_csv

LINEAGE = {
    "agency_id": "test_pd",
    "dataset": "stops",
    "source_file": "test_pd/stops/a.csv",
    "file_hash": "h",
    "loaded_at": "2024-01-01 00:00:00+00",
    "load_id": "L1",
}

MAPPING = """\
    dataset: stops
    format: csv
    columns:
      source_record_id: ID
      stop_date: {one_of: [StopDate, StopDate1]}
      subject_race: RACE
      search_conducted: SEARCHED
    """


def load(tmp_path: Path, mapping: str = MAPPING) -> config.Mapping:
    folder = tmp_path / "agencies" / "test_pd"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "agency.yml").write_text(
        "agency_id: test_pd\nname: Test PD\ntime_zone: America/Chicago\n"
    )
    (folder / "stops.yml").write_text(textwrap.dedent(mapping))
    return config.load_mapping("test_pd", "stops", root=tmp_path / "agencies")


@pytest.mark.parametrize("header", ["StopDate", "StopDate1"])
def test_either_name_loads_the_field(tmp_path, header):
    path = tmp_path / "a.csv"
    path.write_text(f"ID,{header},RACE,SEARCHED\n1,2024-01-02,W,N\n")
    parsed = read_csv(path)
    mapped = map_file(
        parsed, load(tmp_path), config.dataset_spec("stops"), lineage=LINEAGE, salt="s"
    )
    assert mapped.rows_accepted == 1 and not mapped.rejects
    assert parsed.con.execute("select stop_date from mapped").fetchall() == [("2024-01-02",)]
    columns = {
        c for (c,) in parsed.con.execute("select name from pragma_table_info('mapped')").fetchall()
    }
    assert (
        not {"src_stopdate", "src_stopdate1"} & columns
    )  # the name read is not also passed through


def test_first_name_wins_when_the_file_has_both(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("ID,StopDate,StopDate1,RACE,SEARCHED\n1,2024-01-02,2023-05-06,W,N\n")
    parsed = read_csv(path)
    map_file(parsed, load(tmp_path), config.dataset_spec("stops"), lineage=LINEAGE, salt="s")
    row = parsed.con.execute("select stop_date, src_stopdate1 from mapped").fetchone()
    assert row == ("2024-01-02", "2023-05-06")


def test_none_of_the_names_is_a_contract_violation_under_the_first(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("ID,When,RACE,SEARCHED\n1,2024-01-02,W,N\n")
    with pytest.raises(
        ContractViolation, match=r"required column 'StopDate' \(stop_date\) missing"
    ):
        map_file(
            read_csv(path), load(tmp_path), config.dataset_spec("stops"), lineage=LINEAGE, salt="s"
        )


def test_one_of_must_list_column_names(tmp_path):
    with pytest.raises(
        config.ConfigError, match=r"stops.yml:5: columns.stop_date.one_of: must list source columns"
    ):
        load(tmp_path, MAPPING.replace("[StopDate, StopDate1]", "[]"))


def test_validate_reports_the_alternative_name_as_present(tmp_path):
    from ingestion.validate import validate_file

    path = tmp_path / "a.csv"
    path.write_text("ID,StopDate1,RACE,SEARCHED\n1,2024-01-02,W,N\n")
    report = validate_file("test_pd", path, load(tmp_path))
    assert report.loadable and report.rows_accepted == 1
    assert report.missing_columns == [] and report.unexpected_columns == []
