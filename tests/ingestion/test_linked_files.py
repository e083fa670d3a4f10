"""`linked_files:`: several files of one delivery joined by key (Chicago PD's TRR tables), configured
and validated, never SQL from a mapping:

- a `rows: one` file adds one row's columns as "<name>.C"; a main row whose key matches several
  linked rows is rejected with a reason naming the linked file and the key;
- a `rows: many` file adds each column's non-empty values, in file order, joined with '|', so
  `list_of` collects elements from several linked files; `where` keeps only some linked rows;
- each `*` of a linked pattern is the text the main pattern's `*` matched (one delivery's files
  go together); a missing linked file makes the main file unloadable, naming the file.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ingestion import config
from ingestion.linking import attach_linked, delivery_hash, linked_paths
from ingestion.mapper import ContractViolation, map_file
from ingestion.readers import file_sha256, read_csv

LINEAGE = {
    "agency_id": "test_pd",
    "dataset": "use_of_force",
    "source_file": "test_pd/use_of_force/main_2020.csv",
    "file_hash": "h",
    "loaded_at": "2024-01-01 00:00:00+00",
    "load_id": "L1",
}

MAPPING = """\
    dataset: use_of_force
    format: csv
    file_pattern: "main_*.csv"
    linked_files:
      subjects: {file_pattern: "subjects_*.csv", key: id, rows: one}
      actions:
        file_pattern: "actions_*.csv"
        key: report
        on: id
        rows: many
        where: {person: ["Member Action"]}
      shots: {file_pattern: "shots_*.csv", key: id, rows: many}
    columns:
      source_record_id: id
      incident_record_id: rd
      incident_date: date
      subject_race: subjects.race
      officer_id: subjects.officer
      force_types: {list_of: [actions.action, shots.weapon]}
    values:
      force_types: {"TAKE DOWN": physical_takedown, "PISTOL": firearm_discharged}
    personal_data:
      subjects.officer: hash
      subjects.name: drop
    """

FILES = {
    "main_2020.csv": "id,rd,date\n1,A,2020-01-02\n2,A,2020-01-02\n3,B,2020-02-03\n4,C,2020-03-04\n",
    # id 3 has two subject rows: its main row is rejected; id 9 matches no main row
    "subjects_2020.csv": (
        "id,race,officer,name\n1,BLACK,77,Ann\n2,WHITE,78,Bob\n3,WHITE,79,Cy\n3,BLACK,79,Di\n"
        "9,WHITE,80,Ed\n"
    ),
    "actions_2020.csv": (
        "report,person,action\n1,Member Action,TAKE DOWN\n1,Subject Action,PULLED AWAY\n"
        "1,Member Action,ARMBAR\n2,Subject Action,FLED\n4,Member Action,\n"
    ),
    "shots_2020.csv": "id,weapon\n1,PISTOL\n",
}


def setup(tmp_path: Path, mapping: str = MAPPING, files: dict[str, str] = FILES):
    root = tmp_path / "agencies" / "test_pd"
    root.mkdir(parents=True, exist_ok=True)
    (root / "agency.yml").write_text("agency_id: test_pd\nname: Test PD\ntime_zone: UTC\n")
    (root / "use_of_force.yml").write_text(textwrap.dedent(mapping))
    landing = tmp_path / "landing"
    landing.mkdir(exist_ok=True)
    for name, text in files.items():
        (landing / name).write_text(text)
    return config.load_mapping("test_pd", "use_of_force", root=tmp_path / "agencies"), landing


def mapped(tmp_path: Path, **kwargs):
    mapping, landing = setup(tmp_path, **kwargs)
    main = landing / "main_2020.csv"
    parsed = read_csv(main)
    notes = attach_linked(parsed, mapping, linked_paths(main, mapping))
    result = map_file(
        parsed, mapping, config.dataset_spec("use_of_force"), lineage=LINEAGE, salt="s"
    )
    cursor = parsed.con.execute("select * from mapped order by _source_row")
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    return result, rows, notes


def test_linked_rows_join_by_key_and_lists_gather_many_rows(tmp_path):
    result, rows, notes = mapped(tmp_path)
    accepted = [r for r in rows if r["_reject_reason"] is None]
    assert [r["source_record_id"] for r in accepted] == ["1", "2", "4"]
    assert [r["subject_race"] for r in accepted] == ["BLACK", "WHITE", None]
    # only Member Action rows, in file order, then the shots file's values
    assert [r["force_types"] for r in accepted] == ["TAKE DOWN|ARMBAR|PISTOL", None, None]
    # the officer id of a linked file is hashed, the name dropped
    hashes = [r["officer_id_hash"] for r in accepted]
    assert len(hashes[0]) == 64 and hashes[2] is None and "77" not in hashes
    assert not [c for c in rows[0] if "name" in c]
    assert rows[0]["src_actions_person"] == "Member Action|Member Action"  # unmapped: src_*
    assert result.rows_accepted == 3
    assert any("subjects: subjects_2020.csv, 5 row(s), joined to 3 of 4" in n for n in notes)
    assert any("1 linked row(s) match no main row" in n for n in notes)
    assert any("actions: actions_2020.csv, 3 row(s) kept by where" in n for n in notes)


def test_a_key_with_several_rows_in_a_one_file_is_rejected_with_the_reason(tmp_path):
    result, _, _ = mapped(tmp_path)
    [reject] = result.rejects
    assert reject.source_row == 4  # id 3, the third data line
    assert (
        reject.reason == "linked file subjects_2020.csv (subjects): 2 rows for id '3' (rows: one)"
    )


def test_the_linked_file_of_the_same_delivery_is_chosen(tmp_path):
    files = {**FILES, "subjects_2019.csv": "id,race,officer,name\n1,ASIAN,1,X\n"}
    mapping, landing = setup(tmp_path, files=files)
    paths = linked_paths(landing / "main_2020.csv", mapping)
    assert paths["subjects"].name == "subjects_2020.csv"
    assert paths["actions"].name == "actions_2020.csv"
    # the delivery's hash covers its linked files: a corrected linked file is a new delivery
    main = landing / "main_2020.csv"
    before = delivery_hash(file_sha256(main), paths)
    (landing / "shots_2020.csv").write_text("id,weapon\n1,RIFLE\n")
    assert delivery_hash(file_sha256(main), paths) != before
    assert delivery_hash("h", {}) == "h"


def test_a_missing_linked_file_names_the_file(tmp_path):
    files = {k: v for k, v in FILES.items() if not k.startswith("shots")}
    mapping, landing = setup(tmp_path, files=files)
    with pytest.raises(ContractViolation, match=r"linked file 'shots' \(shots_2020.csv"):
        linked_paths(landing / "main_2020.csv", mapping)
    assert set(linked_paths(landing / "main_2020.csv", mapping, must_exist=False)) == {
        "subjects",
        "actions",
    }


def test_a_missing_key_column_names_the_linked_file(tmp_path):
    files = {**FILES, "shots_2020.csv": "trr,weapon\n1,PISTOL\n"}
    with pytest.raises(ContractViolation, match=r"shots_2020.csv \(shots\): column 'id' missing"):
        mapped(tmp_path, files=files)


SUBJECTS = 'subjects: {file_pattern: "subjects_*.csv", key: id, rows: one}'


@pytest.mark.parametrize(
    ("subjects", "message"),
    [
        ('subjects: {file_pattern: "subjects.csv", key: id}', "must have as many \\*"),
        ('subjects: {file_pattern: "subjects_*_*.csv", key: id}', "must have as many \\*"),
        ('subjects: {file_pattern: "../subjects_*.csv", key: id}', "file name pattern"),
        ('subjects: {file_pattern: "subjects_*.csv", key: id, rows: several}', "one, many"),
        ('subjects: {file_pattern: "subjects_*.csv", key: id, sql: "drop"}', "unknown key"),
        ('subjects: {file_pattern: "subjects_*.csv"}', "key: must name"),
        ('Subjects: {file_pattern: "subjects_*.csv", key: id}', "lowercase letters"),
    ],
)
def test_invalid_links_are_reported_with_file_and_line(tmp_path, subjects, message):
    assert SUBJECTS in MAPPING
    with pytest.raises(config.ConfigError, match=message) as info:
        setup(tmp_path, mapping=MAPPING.replace(SUBJECTS, subjects))
    assert "use_of_force.yml:5: linked_files." in str(info.value)


def test_validate_joins_the_linked_files_as_the_nightly_load_does(tmp_path, monkeypatch):
    from ingestion.validate import validate_file

    mapping, landing = setup(tmp_path)
    report = validate_file("test_pd", landing / "main_2020.csv", mapping)
    assert report.loadable, report.error
    assert (report.rows_raw, report.rows_accepted, report.rows_rejected) == (4, 3, 1)
    assert not report.missing_columns  # subjects.race and the others are found
    assert any(n.startswith("linked shots: shots_2020.csv, 1 row(s)") for n in report.notes)
    (landing / "actions_2020.csv").unlink()
    report = validate_file("test_pd", landing / "main_2020.csv", mapping)
    assert not report.loadable
    assert "linked file 'actions' (actions_2020.csv" in report.error
