"""Known-answer tests of the incidents models: hand-made raw.incidents rows in (as
ingestion/CONTRACT.md says dlt writes them), fct_incidents and fct_incident_offenses out.

The cases are the ones St. Louis MPD's monthly files raise: an incident re-sent in a later file
is replaced whole (an offense dropped on review disappears); files of one load are ordered by
their newest incident, not by name (Crime_02 sorts after Crime-03); a later load wins whatever
its dates; an offense repeated per victim; an unfounded incident without an offense code. The
warehouse is built first with raw.incidents empty, as the nightly demo has it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime, time
from pathlib import Path

import duckdb

from dagster_project.defs import transform
import pytest
import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt"
AGENCY = "gum_pd"
SELECTION = (
    "--select", "+fct_incidents", "+fct_incident_offenses", "dim_agencies",
    "assert_no_unmapped_incident_codes",
    "--indirect-selection", "cautious",
)  # fmt: skip
LINEAGE = ["_agency_id", "_dataset", "_source_file", "_source_row", "_file_hash", "_loaded_at", "_load_id"]  # fmt: skip
BOOLEANS = {"yes": "true", "y": "true", "no": "false", "n": "false"}


def canonical_fields() -> dict[str, dict]:
    path = PROJECT_ROOT / "ingestion" / "canonical" / "incidents.yml"
    return yaml.safe_load(path.read_text())["fields"]


def create_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    columns = ", ".join(
        f'"{name}" varchar'
        for name, spec in canonical_fields().items()
        if spec["type"] != "datetime"
    )
    con.execute("create schema raw")
    con.execute(
        f"""
        create table raw.incidents (
            {columns},
            _agency_id varchar, _dataset varchar, _source_file varchar, _source_row bigint,
            _file_hash varchar, _loaded_at timestamptz, _load_id varchar
        )
        """
    )
    con.execute(
        "create table raw.value_maps (agency_id varchar, dataset varchar, field varchar,"
        " source_value varchar, canonical_value varchar)"
    )
    con.execute(
        "create table raw.agencies (agency_id varchar, agency_name varchar, ori varchar,"
        " state varchar, time_zone varchar, latitude double, longitude double,"
        " first_year bigint, reference_group varchar, city varchar)"
    )
    con.execute(
        "insert into raw.agencies (agency_id, agency_name, ori, state, time_zone, latitude,"
        " longitude, first_year, reference_group)"
        f" values ('{AGENCY}', 'Gum City Police', 'MO0000000', 'MO',"
        " 'America/Chicago', 38.6, -90.2, 2020, 'white')"
    )
    maps = []
    for field, spec in canonical_fields().items():
        if spec["type"] == "code":
            maps += [(field, value, value) for value in spec["domain"]]
        elif spec["type"] == "boolean":
            maps += [(field, k, v) for k, v in BOOLEANS.items()]
    maps += [("crime_against", "unspecified", "unknown"), ("offense_severity", "f", "felony")]
    con.executemany(
        "insert into raw.value_maps values (?, 'incidents', ?, ?, ?)",
        [(AGENCY, *row) for row in maps],
    )


def line(source_file: str, row: int, loaded_at: str, number: str, date: str, **fields) -> dict:
    return {
        "source_record_id": number,
        "incident_date": date,
        "_agency_id": AGENCY,
        "_dataset": "incidents",
        "_source_file": source_file,
        "_source_row": row,
        "_file_hash": f"sha-{source_file}",
        "_loaded_at": loaded_at,
        "_load_id": f"load-{loaded_at[:10]}",
        **fields,
    }


def insert(path: Path, rows: list[dict]) -> None:
    con = duckdb.connect(str(path))
    try:
        for row in rows:
            columns = list(row)
            con.execute(
                f"insert into raw.incidents ({', '.join(columns)})"
                f" values ({', '.join('?' for _ in columns)})",
                [row[c] for c in columns],
            )
    finally:
        con.close()


FIRST_LOAD = "2024-04-01 02:00:00+00"
SECOND_LOAD = "2024-04-02 02:00:00+00"
FEB = "gum_pd/incidents/Crime_02_2024.csv"
MAR = "gum_pd/incidents/Crime-03-2024.csv"
JAN = "gum_pd/incidents/Crime_01_2024.csv"

FIRST_FILES = [
    # A: assault plus vandalism in February; in March only the assault (vandalism dropped)
    line(FEB, 2, FIRST_LOAD, "A", "2024-02-03", offense_code="13A", crime_against="Person", offense_severity="F", firearm_used="Yes"),
    line(FEB, 3, FIRST_LOAD, "A", "2024-02-03", offense_code="290", crime_against="Property", offense_severity="F", firearm_used="No"),
    # B: a murder with two victims (one line each) and a 90Z line against no one
    line(FEB, 4, FIRST_LOAD, "B", "2024-02-20", offense_code="90Z", crime_against="Unspecified", offense_severity="F"),
    line(FEB, 5, FIRST_LOAD, "B", "2024-02-20", offense_code="09A", crime_against="Person", offense_severity="F", victim_seq="11"),
    line(FEB, 6, FIRST_LOAD, "B", "2024-02-20", offense_code="09A", crime_against="Person", offense_severity="F", victim_seq="12"),
    # U: an unfounded incident, no offense at all
    line(FEB, 7, FIRST_LOAD, "U", "2024-02-10"),
    line(MAR, 2, FIRST_LOAD, "A", "2024-02-03", incident_time="21:30:00", offense_code="13A", crime_against="Person", offense_severity="X", firearm_used="No"),
    line(MAR, 3, FIRST_LOAD, "M", "2024-03-15", offense_code="23H", crime_against="Property"),
]  # fmt: skip
# A later load wins even though its file's incidents are older (a late correction of January).
SECOND_FILE = [
    line(JAN, 2, SECOND_LOAD, "B", "2024-01-31", offense_code="23H", crime_against="Property"),
]


def dbt(root: Path, *args: str) -> dict[str, str]:
    env = {
        **os.environ,
        **transform.dbt_child_environment(root / "warehouse.duckdb"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "DO_NOT_TRACK": "1",
    }
    transform.seed_parse_state(root / "target")
    completed = subprocess.run(
        [
            sys.executable, "-c", "import sys; from dbt.cli.main import cli; sys.exit(cli())", *args,
            "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
            "--target-path", str(root / "target"), "--log-path", str(root / "logs"),
        ],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    run_results = root / "target" / "run_results.json"
    assert run_results.is_file(), completed.stdout[-4000:] + completed.stderr[-4000:]
    results = json.loads(run_results.read_text())["results"]
    statuses = {r["unique_id"].split(".")[2]: r["status"] for r in results}
    problems = {k: v for k, v in statuses.items() if v in ("fail", "error")}
    assert completed.returncode == 0 and not problems, completed.stdout[-4000:]
    return statuses


def rows(root: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    """Three builds: raw.incidents empty, after the first load, after the second. Each is built
    at the same path with the same target folder (dbt's parse state holds the warehouse path, so
    only the first build parses the project), then moved to a folder of its own."""
    stages = {}
    work = tmp_path_factory.mktemp("incidents_build")
    for stage, loads in (("empty", []), ("first", [FIRST_FILES]), ("second", [FIRST_FILES, SECOND_FILE])):  # fmt: skip
        con = duckdb.connect(str(work / "warehouse.duckdb"))
        create_raw_tables(con)
        con.close()
        for load in loads:
            insert(work / "warehouse.duckdb", load)
        statuses = dbt(work, "build", *SELECTION)
        root = tmp_path_factory.mktemp(f"incidents_{stage}")
        shutil.move(work / "warehouse.duckdb", root / "warehouse.duckdb")
        stages[stage] = (root, statuses)
    return stages


def test_models_build_on_an_empty_raw_table(built):
    root, statuses = built["empty"]
    assert statuses["fct_incidents"] == statuses["fct_incident_offenses"] == "success"
    assert rows(root, "select count(*) from marts.fct_incidents") == [(0,)]


def test_a_re_sent_incident_is_replaced_whole_by_the_newer_file_of_one_load(built):
    root, _ = built["first"]
    assert rows(
        root,
        "select offense_code, fct_incident_offenses.source_file, version_count"
        " from marts.fct_incident_offenses"
        " join marts.fct_incidents using (incident_id) where fct_incidents.source_record_id = 'A'",
    ) == [("13A", MAR, 2)]
    # 21:30 in Chicago on 3 Feb (CST) is 03:30 UTC the next day; February's firearm line is gone
    assert rows(
        root,
        "select incident_time, incident_at, firearm_used, offense_count from marts.fct_incidents"
        " where source_record_id = 'A'",
    ) == [(time(21, 30), datetime(2024, 2, 4, 3, 30, tzinfo=UTC), False, 1)]


def test_offense_lines_victims_groups_and_top_offense(built):
    root, _ = built["first"]
    assert rows(
        root,
        "select offense_seq, offense_code, offense_group, crime_against, offense_severity, victim_seq"
        " from marts.fct_incident_offenses where source_record_id = 'B' order by offense_seq",
    ) == [
        (1, "90Z", "group_b", "unknown", "felony", None),
        (2, "09A", "group_a", "person", "felony", 11),
        (3, "09A", "group_a", "person", "felony", 12),
    ]
    assert rows(
        root,
        "select offense_count, offense_line_count, top_offense_code, top_offense_group,"
        " top_crime_against from marts.fct_incidents where source_record_id = 'B'",
    ) == [(2, 3, "09A", "group_a", "person")]
    assert rows(
        root,
        "select offense_count, top_offense_code, top_offense_group from marts.fct_incidents"
        " where source_record_id = 'U'",
    ) == [(0, None, "unknown")]
    # an unmapped severity code is unknown, and the warn test names it
    assert built["first"][1]["assert_no_unmapped_incident_codes"] == "warn"
    assert rows(
        root,
        "select offense_severity from marts.fct_incident_offenses where source_record_id = 'A'",
    ) == [("unknown",)]


def test_a_later_load_wins_whatever_its_dates(built):
    root, _ = built["second"]
    assert rows(
        root,
        "select offense_code, source_file from marts.fct_incident_offenses"
        " where source_record_id = 'B'",
    ) == [("23H", JAN)]
    assert rows(
        root,
        "select source_record_id, incident_date, version_count from marts.fct_incidents order by 1",
    ) == [
        ("A", date(2024, 2, 3), 2),
        ("B", date(2024, 1, 31), 2),
        ("M", date(2024, 3, 15), 1),
        ("U", date(2024, 2, 10), 1),
    ]
