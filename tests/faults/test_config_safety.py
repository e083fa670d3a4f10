"""Safety of configuration and paths (issue 4, point 7): ids, dataset names and file patterns
cannot leave their folders, mappings are parsed safely and checked with errors that point at the
line, and nothing from a mapping or an export reaches SQL unquoted."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from dagster_project import cli
from ingestion import config
from ingestion.mapper import map_file
from ingestion.readers import read_file

HOSTILE = 'x"; DROP TABLE src; --'
HOSTILE_YAML = HOSTILE.replace('"', '\\"')
AGENCY = textwrap.dedent(
    """\
    agency_id: test_pd
    name: Test Police Department
    time_zone: America/Chicago
    """
)
MAPPING = textwrap.dedent(
    """\
    dataset: stops
    format: csv
    file_pattern: "*.csv"
    columns:
      source_record_id: "{hostile}"
      stop_date: "Stop Date"
      subject_race: "Race'); DROP TABLE raw.stops; --"
    values:
      subject_race: {{"'); DROP TABLE raw.value_maps; --": black, W: white}}
    constants:
      search_conducted: false
    """
)


def agencies(tmp_path: Path, mapping: str) -> Path:
    root = tmp_path / "agencies"
    (root / "test_pd").mkdir(parents=True)
    (root / "test_pd" / "agency.yml").write_text(AGENCY)
    (root / "test_pd" / "stops.yml").write_text(mapping)
    return root


def config_error(tmp_path: Path, mapping: str) -> str:
    root = agencies(tmp_path, mapping)
    with pytest.raises(config.ConfigError) as raised:
        config.load_mapping("test_pd", "stops", root=root)
    return str(raised.value)


@pytest.mark.parametrize(
    "argv",
    [
        ["validate", "../../etc", "."],
        ["validate", "nypd", ".", "--dataset", "../stops"],
        ["validate", "/etc/passwd", "."],
        ["run", "--agency", "../alder_pd"],
        ["onboard", "../escape", "sample.csv", "--dataset", "stops"],
    ],
)
def test_ids_that_name_a_path_are_refused_before_anything_runs(argv, capsys):
    assert cli.main(argv) == 2
    assert "invalid" in capsys.readouterr().err


def test_a_file_pattern_cannot_leave_the_dataset_folder(tmp_path):
    message = config_error(
        tmp_path, MAPPING.format(hostile=HOSTILE_YAML).replace('"*.csv"', '"../../*.csv"')
    )
    assert "stops.yml:3: file_pattern: must be a file name pattern, not a path" in message


def test_a_duplicated_key_points_at_its_second_line(tmp_path):
    text = MAPPING.format(hostile=HOSTILE_YAML).replace(
        '  stop_date: "Stop Date"\n', '  stop_date: "Stop Date"\n  stop_date: "Date"\n'
    )
    message = config_error(tmp_path, text)
    assert "stops.yml:7: columns.stop_date: duplicate key (first on line 6)" in message


def test_an_unknown_key_is_a_typo_named_with_its_line(tmp_path):
    text = MAPPING.format(hostile=HOSTILE_YAML) + "personal_datta:\n  Name: drop\n"
    message = config_error(tmp_path, text)
    assert "stops.yml:12: personal_datta: unknown key" in message


def test_yaml_cannot_run_code(tmp_path):
    marker = tmp_path / "ran"
    text = MAPPING.format(hostile=HOSTILE_YAML) + (
        f'null_values: !!python/object/apply:os.system ["touch {marker}"]\n'
    )
    message = config_error(tmp_path, text)
    assert "invalid YAML" in message and not marker.exists()


def test_hostile_column_names_and_codes_stay_data(tmp_path):
    root = agencies(tmp_path, MAPPING.format(hostile=HOSTILE.replace('"', '\\"')))
    mapping = config.load_mapping("test_pd", "stops", root=root)
    assert mapping.columns["source_record_id"] == HOSTILE
    export = tmp_path / "export.csv"
    race = "Race'); DROP TABLE raw.stops; --"
    export.write_text(
        f'"{HOSTILE.replace(chr(34), chr(34) * 2)}",Stop Date,{race},"{HOSTILE.replace(chr(34), chr(34) * 2)} 2"\n'
        "'); DELETE FROM src; --,2024-01-02,W,\"'; DROP TABLE src; --\"\n"
        "R2,2024-01-03,'); DROP TABLE raw.value_maps; --,x\n"
    )
    parsed = read_file(export, "csv")
    try:
        mapped = map_file(
            parsed,
            mapping,
            config.dataset_spec("stops"),
            lineage={
                "agency_id": "test_pd",
                "dataset": "stops",
                "source_file": "test_pd/stops/export.csv",
                "file_hash": "h",
                "loaded_at": "2024-01-05 00:00:00+00",
                "load_id": "l",
            },
            salt="s",
        )
        assert mapped.rows_accepted == 2 and mapped.rejects == []
        rows = parsed.con.execute(
            'select source_record_id, subject_race, "src_x_drop_table_src_2" from mapped '
            "order by _source_row"
        ).fetchall()
    finally:
        parsed.con.close()
    assert rows == [
        ("'); DELETE FROM src; --", "W", "'; DROP TABLE src; --"),
        ("R2", "'); DROP TABLE raw.value_maps; --", "x"),
    ]
    # the value map's hostile key is a value map entry like any other
    assert mapping.values["subject_race"]["'); drop table raw.value_maps; --"] == "black"


def test_agency_folders_and_files_outside_the_landing_zone_are_refused(tmp_path, monkeypatch):
    from ingestion.pipeline import refusal

    landing = tmp_path / "landing"
    folder = landing / "alder_pd" / "stops"
    folder.mkdir(parents=True)
    outside = tmp_path / "secret.csv"
    outside.write_text("a,b\n1,2\n")
    (folder / "link.csv").symlink_to(outside)
    (folder / "inside.csv").write_text("a\n1\n")
    (folder / "alias.csv").symlink_to(folder / "inside.csv")
    linked_folder = landing / "cedar_pd"
    linked_folder.symlink_to(tmp_path, target_is_directory=True)
    assert "outside the landing zone" in refusal(folder / "link.csv", landing.resolve())
    assert "outside the landing zone" in refusal(linked_folder / "secret.csv", landing.resolve())
    assert refusal(folder / "inside.csv", landing.resolve()) is None
    assert refusal(folder / "alias.csv", landing.resolve()) is None  # a link inside is fine
    shutil.rmtree(landing / "alder_pd")
