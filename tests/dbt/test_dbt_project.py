"""Known-answer tests of the dbt project: hand-made raw tables in, canonical stops and
disparity marts out.

The raw tables are created with SQL exactly as ingestion/CONTRACT.md describes what dlt writes,
so these tests break when the dbt project and the ingestion contract drift apart. The injected
disparity (alder_pd 2023: 40 of 200 Black people searched vs 20 of 200 white people) must come
back out of the marts with its ratio and interval.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
import yaml

from dagster_project.defs import transform
from ingestion.pipeline import FILES_SCHEMA

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt"
CANONICAL_STOPS = PROJECT_ROOT / "ingestion" / "canonical" / "stops.yml"

BOOLEAN_SPELLINGS = {
    "true": "true", "t": "true", "yes": "true", "y": "true", "1": "true",
    "false": "false", "f": "false", "no": "false", "n": "false", "0": "false",
}  # fmt: skip

# The stops graph: the stops marts and everything upstream, the unmapped-code check and the file
# bookkeeping views, with only the tests whose parents are all selected. Other datasets' models
# read raw tables this test does not create.
STOPS_SELECTION = (
    "--select", "+mart_search_hit_rates", "+mart_stop_rates", "+int_unmapped_codes",
    "stg_raw__files", "stg_raw__rejects",
    "--indirect-selection", "cautious",
)  # fmt: skip

FIRST_LOAD_AT = "2024-03-01 02:00:00+00"
SECOND_LOAD_AT = "2024-03-02 02:00:00+00"
THIRD_LOAD_AT = "2024-03-03 02:00:00+00"

Z = 1.959963984540054


def canonical_fields() -> dict[str, dict]:
    return yaml.safe_load(CANONICAL_STOPS.read_text())["fields"]


def raw_stop_columns() -> list[str]:
    """Canonical columns of raw.stops: one VARCHAR per field, a personal field X as X_hash."""
    return [
        f"{name}_hash" if spec.get("personal") else name
        for name, spec in canonical_fields().items()
    ]


LINEAGE_COLUMNS = ["_agency_id", "_dataset", "_source_file", "_source_row", "_file_hash", "_loaded_at", "_load_id"]  # fmt: skip


def create_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    stop_columns = ",\n".join(f'"{column}" varchar' for column in raw_stop_columns())
    con.execute("create schema raw")
    con.execute(
        f"""
        create table raw.stops (
            {stop_columns},
            src_officer_unit varchar,
            _agency_id varchar, _dataset varchar, _source_file varchar, _source_row bigint,
            _file_hash varchar, _loaded_at timestamptz, _load_id varchar
        )
        """
    )
    # dlt writes every dataset's raw table, empty until an agency sends a file (arrests here).
    arrests = yaml.safe_load((PROJECT_ROOT / "ingestion/canonical/arrests.yml").read_text())
    arrest_columns = ", ".join(
        f'"{name}_hash" varchar' if spec.get("personal") else f'"{name}" varchar'
        for name, spec in arrests["fields"].items()
        if spec["type"] != "datetime"
    )
    con.execute(
        f"""
        create table raw.arrests (
            {arrest_columns},
            _agency_id varchar, _dataset varchar, _source_file varchar, _source_row bigint,
            _file_hash varchar, _loaded_at timestamptz, _load_id varchar
        )
        """
    )
    con.execute(
        """
        create table raw.rejects (
            agency_id varchar, dataset varchar, source_file varchar, file_hash varchar,
            source_row bigint, column_name varchar, raw_text varchar, reason varchar,
            loaded_at timestamptz, load_id varchar
        )
        """
    )
    # raw.files exactly as the dlt pipeline writes it, so this test cannot drift from ingestion.
    con.register("_files_schema", FILES_SCHEMA.empty_table())
    con.execute("create table raw.files as select * from _files_schema")
    con.unregister("_files_schema")
    con.execute(
        """
        create table raw.value_maps (
            agency_id varchar, dataset varchar, field varchar, source_value varchar,
            canonical_value varchar
        )
        """
    )
    con.execute("create table raw.not_recorded (agency_id varchar, dataset varchar, field varchar)")
    con.execute(
        """
        create table raw.agencies (
            agency_id varchar, agency_name varchar, ori varchar, state varchar,
            time_zone varchar, latitude double, longitude double, first_year bigint,
            reference_group varchar, city varchar
        )
        """
    )
    con.execute(
        """
        create table raw.population (
            agency_id varchar, year bigint, subject_race varchar, population bigint
        )
        """
    )


def insert_value_maps(con: duckdb.DuckDBPyConnection) -> None:
    """Identity rows for every domain value and the default boolean spellings (CONTRACT.md),
    plus each agency's own codes."""
    agency_codes = {
        "alder_pd": {"subject_race": {"w": "white", "b": "black"}, "stop_type": {"veh": "vehicular"}},
        "birch_pd": {
            "subject_race": {"1": "white", "2": "black", "3": "hispanic"},
            "outcome": {"cit": "citation"},
        },
    }  # fmt: skip
    rows = []
    for agency_id, codes in agency_codes.items():
        for field, spec in canonical_fields().items():
            if spec["type"] == "code":
                rows += [(agency_id, "stops", field, value, value) for value in spec["domain"]]
            elif spec["type"] == "boolean":
                rows += [(agency_id, "stops", field, k, v) for k, v in BOOLEAN_SPELLINGS.items()]
        for field, mapping in codes.items():
            rows += [(agency_id, "stops", field, k, v) for k, v in mapping.items()]
    con.executemany("insert into raw.value_maps values (?, ?, ?, ?, ?)", rows)


def insert_stops(con: duckdb.DuckDBPyConnection, rows: list[dict]) -> None:
    for row in rows:
        columns = list(row)
        con.execute(
            f"insert into raw.stops ({', '.join(columns)}) values ({', '.join('?' for _ in columns)})",
            [row[column] for column in columns],
        )


def birch_row(source_file: str, source_row: int, loaded_at: str, **fields: str | None) -> dict:
    return {
        "stop_date": "2024-01-15",
        "stop_time": "21:30:00",
        "search_conducted": "N",
        "_agency_id": "birch_pd",
        "_dataset": "stops",
        "_source_file": source_file,
        "_source_row": source_row,
        "_file_hash": f"sha-{source_file}",
        "_loaded_at": loaded_at,
        "_load_id": f"load-{loaded_at[:10]}",
        **fields,
    }


def build_raw_warehouse(path: Path) -> None:
    con = duckdb.connect(str(path))
    try:
        create_raw_tables(con)
        insert_value_maps(con)
        con.execute(
            """
            insert into raw.agencies
                (agency_id, agency_name, ori, state, time_zone, latitude, longitude, first_year, reference_group)
            values
                ('alder_pd', 'Alder City Police Department', 'OR0000100', 'OR',
                 'America/Los_Angeles', 45.52, -122.68, 2020, 'white'),
                ('birch_pd', 'Birch Township Police', 'NY0000200', 'NY',
                 'America/New_York', 42.65, -73.75, 2022, null)
            """
        )
        con.execute(
            """
            insert into raw.population values
                ('alder_pd', 2023, 'white', 100000),
                ('alder_pd', 2023, 'black', 20000),
                ('alder_pd', 2023, 'hispanic', 10000),
                ('alder_pd', 2020, 'white', 1),
                ('birch_pd', 2022, 'white', 50000),
                ('birch_pd', 2022, 'black', 10000)
            """
        )
        # alder_pd 2023: 200 white (W) and 200 Black (B) people stopped; 20 vs 40 searched;
        # 10 vs 12 searches found contraband. Contraband 'N' on every unsearched row is the
        # filler real exports carry.
        con.execute(
            f"""
            insert into raw.stops (
                source_record_id, stop_date, stop_time, stop_type, subject_race, subject_sex,
                subject_age, search_conducted, search_basis_detail, contraband_found,
                citation_issued, {", ".join(LINEAGE_COLUMNS)}
            )
            select
                race_code || '-' || i,
                '2023-07-01',
                '08:00:00',
                'VEH',
                race_code,
                'male',
                '35',
                case when i < searched then 'Y' else 'N' end,
                case when i < searched then (case when i % 2 = 0 then 'consent' else 'incident_to_arrest' end) end,
                case when i < hits then 'Y' else 'N' end,
                'Y',
                'alder_pd', 'stops', 'alder_pd/stops/2023.csv', i + 2, 'sha-alder-2023',
                timestamptz '{FIRST_LOAD_AT}', 'load-1'
            from (values ('W', 20, 10), ('B', 40, 12)) as groups(race_code, searched, hits),
                range(200) as t(i)
            """
        )
        first = "birch_pd/stops/2024-01.csv"
        insert_stops(
            con,
            [
                # a two-person stop
                birch_row(first, 2, FIRST_LOAD_AT, source_record_id="M-1", person_seq="1", subject_race="1", subject_age="150"),
                birch_row(first, 3, FIRST_LOAD_AT, source_record_id="M-1", person_seq="2", subject_race="2", subject_age="19"),
                # an unmapped race code
                birch_row(first, 4, FIRST_LOAD_AT, source_record_id="U-1", subject_race="9"),
                # outcome code only: flags derived from it
                birch_row(first, 5, FIRST_LOAD_AT, source_record_id="O-1", subject_race="3", outcome="CIT"),
                # flags only: outcome derived from them
                birch_row(first, 6, FIRST_LOAD_AT, source_record_id="F-1", subject_race="1", arrest_made="y", citation_issued="y", warning_issued="n"),
                # re-sent in the second file with a corrected race
                birch_row(first, 7, FIRST_LOAD_AT, source_record_id="D-1", subject_race="1"),
            ],
        )  # fmt: skip
    finally:
        con.close()


def load_second_file(path: Path) -> None:
    second = "birch_pd/stops/2024-02.csv"
    con = duckdb.connect(str(path))
    try:
        insert_stops(
            con,
            [
                birch_row(second, 2, SECOND_LOAD_AT, source_record_id="D-1", subject_race="2"),
                birch_row(second, 3, SECOND_LOAD_AT, source_record_id="N-1", subject_race="1"),
            ],
        )
    finally:
        con.close()


@dataclass
class DbtRun:
    returncode: int
    output: str
    statuses: dict[str, str]  # node name -> status, from run_results.json

    @property
    def problems(self) -> dict[str, str]:
        return {name: status for name, status in self.statuses.items() if status in ("fail", "error", "warn")}  # fmt: skip


@dataclass
class Warehouse:
    path: Path
    target_path: Path
    log_path: Path

    def dbt(self, *args: str) -> DbtRun:
        """Run dbt as the orchestrator does: a separate process, the warehouse named by
        LANTERN_WAREHOUSE. (In-process runs keep dbt-duckdb's database instance open, so the
        test could not read the file afterwards.)"""
        env = {
            **os.environ,
            **transform.dbt_child_environment(self.path),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
            "DO_NOT_TRACK": "1",
        }
        transform.seed_parse_state(self.target_path)
        completed = subprocess.run(
            [
                sys.executable, "-c", "import sys; from dbt.cli.main import cli; sys.exit(cli())", *args,
                "--project-dir", str(DBT_PROJECT_DIR),
                "--profiles-dir", str(DBT_PROJECT_DIR),
                "--target-path", str(self.target_path),
                "--log-path", str(self.log_path),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )  # fmt: skip
        run_results = json.loads((self.target_path / "run_results.json").read_text())
        statuses = {
            result["unique_id"].split(".")[2]: result["status"] for result in run_results["results"]
        }
        return DbtRun(completed.returncode, completed.stdout + completed.stderr, statuses)

    def copy_to(self, root: Path) -> Warehouse:
        """A copy of this warehouse in `root`, to change without touching the module's."""
        copy = Warehouse(root / "warehouse.duckdb", root / "target", root / "logs")
        shutil.copy(self.path, copy.path)
        return copy

    def write(self, *statements: str, stops: list[dict] | None = None) -> None:
        """Run `statements`, after inserting `stops` into raw.stops."""
        con = duckdb.connect(str(self.path))
        try:
            insert_stops(con, stops or [])
            for sql in statements:
                con.execute(sql)
        finally:
            con.close()

    def rows(self, sql: str) -> list[tuple]:
        con = duckdb.connect(str(self.path), read_only=True)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    def one(self, sql: str) -> tuple:
        rows = self.rows(sql)
        assert len(rows) == 1, rows
        return rows[0]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """Build once from the first files, then load the second file and build incrementally."""
    root = tmp_path_factory.mktemp("warehouse")
    built = Warehouse(root / "warehouse.duckdb", root / "target", root / "logs")
    build_raw_warehouse(built.path)

    first = built.dbt("build", *STOPS_SELECTION)
    assert first.returncode == 0, first.output
    # the unmapped race code is a warning, never a failure
    assert first.problems == {"assert_no_unmapped_codes": "warn"}

    load_second_file(built.path)
    second = built.dbt("build", *STOPS_SELECTION)
    assert second.returncode == 0, second.output
    return built


def test_fct_stops_one_row_per_person_latest_version(warehouse: Warehouse) -> None:
    assert warehouse.one("select count(*) from marts.fct_stops") == (400 + 7,)
    assert warehouse.one(
        "select subject_race, source_file, source_row from marts.fct_stops"
        " where agency_id = 'birch_pd' and source_record_id = 'D-1'"
    ) == ("black", "birch_pd/stops/2024-02.csv", 2)
    multi = warehouse.rows(
        "select person_seq, subject_race, subject_age, stop_id, stop_person_id"
        " from marts.fct_stops where source_record_id = 'M-1' order by person_seq"
    )
    assert [(seq, race, age) for seq, race, age, _, _ in multi] == [
        (1, "white", None),
        (2, "black", 19),
    ]
    assert multi[0][3] == multi[1][3]  # one stop ...
    assert multi[0][4] != multi[1][4]  # ... two people


def test_incremental_equals_full_refresh(warehouse: Warehouse) -> None:
    query = "select * from marts.fct_stops order by stop_person_id"
    incremental = warehouse.rows(query)
    result = warehouse.dbt(
        "run", "--full-refresh", "--select", "int_stops_deduplicated", "fct_stops"
    )
    assert result.returncode == 0, result.output
    assert warehouse.rows(query) == incremental


def test_stop_events_incremental_equals_full_refresh(warehouse: Warehouse, tmp_path: Path) -> None:
    """int_stop_events groups again only the stops fct_stops refreshed, with all of each stop's
    people: a two-person stop with one person corrected and one added (its unchanged person still
    counts), a stop corrected into another year, a new stop, and an agency remapped (a new value
    map rewrites its rows with their old load time) give the table a full refresh gives;
    untouched stops are not rewritten."""
    night = warehouse.copy_to(tmp_path)
    models = ("int_stops_deduplicated", "fct_stops", "int_stop_events")
    built = night.dbt("run", "--select", *models)
    assert built.returncode == 0, built.output
    query = "select * from intermediate.int_stop_events order by stop_id"
    events = "select source_record_id, period, district from intermediate.int_stop_events join (select distinct stop_id, source_record_id from marts.fct_stops) using (stop_id)"  # noqa: E501
    assert ("M-1", 2024, None) in night.rows(events)
    third = "birch_pd/stops/2024-03.csv"
    night.write(
        "update intermediate.int_stop_events set district = 'UNTOUCHED' where stop_id ="
        " (select stop_id from marts.fct_stops where source_record_id = 'O-1')",
        "insert into raw.value_maps values ('alder_pd', 'stops', 'subject_race', 'h', 'hispanic')",
        stops=[
            # M-1's person 2 corrected into 2025, district North, and a person 3 added in
            # 2025, district East: its year stays its unchanged person 1's (2024)
            birch_row(third, 2, THIRD_LOAD_AT, source_record_id="M-1", person_seq="2",
                      subject_race="2", stop_date="2025-02-01", district="North"),
            birch_row(third, 3, THIRD_LOAD_AT, source_record_id="M-1", person_seq="3",
                      subject_race="1", stop_date="2025-02-01", district="East"),
            # F-1 (one person) corrected into December 2023
            birch_row(third, 4, THIRD_LOAD_AT, source_record_id="F-1", subject_race="1",
                      stop_date="2023-12-30", district="West"),
            birch_row(third, 5, THIRD_LOAD_AT, source_record_id="Z-1", subject_race="3"),
        ],
    )  # fmt: skip
    incremental = night.dbt("run", "--select", *models)
    assert incremental.returncode == 0, incremental.output
    rows = night.rows(events)
    assert {("M-1", 2024, "East"), ("F-1", 2023, "West"), ("Z-1", 2024, None)} <= set(rows)
    assert ("O-1", 2024, "UNTOUCHED") in rows  # not refreshed: neither reloaded nor remapped
    alder = night.rows(
        "select distinct events.mapping_hash = stops.mapping_hash from intermediate.int_stop_events"
        " as events join marts.fct_stops as stops using (stop_id) where stops.agency_id = 'alder_pd'"
    )
    assert alder == [(True,)]  # the remapped agency's stops carry its new mapping hash
    night.write("update intermediate.int_stop_events set district = null where district = 'UNTOUCHED'")  # fmt: skip
    after = night.rows(query)
    rebuilt = night.dbt("run", "--full-refresh", "--select", "int_stop_events")
    assert rebuilt.returncode == 0, rebuilt.output
    assert night.rows(query) == after


def test_stop_cells_recount_only_changed_agency_years(warehouse: Warehouse, tmp_path: Path) -> None:
    """int_stop_cells (the disparity marts' counts) counts again only the agency-years whose
    stops changed: a new stop in a new year and a stop corrected into another year recount
    those years and leave an unchanged agency's cells as they were; a year whose only stop is
    corrected away keeps a zero row (its cells deleted); a remapped agency is recounted. The
    cells equal a full refresh's."""
    night = warehouse.copy_to(tmp_path)
    models = ("int_stops_deduplicated", "fct_stops", "int_stop_cells", "mart_stop_rates")
    cells = "select * from intermediate.int_stop_cells where stops > 0 order by all"
    by_year = (
        "select agency_id, stop_year, sum(stops) from intermediate.int_stop_cells"
        " group by all order by all"
    )
    assert night.rows(by_year) == [("alder_pd", 2023, 400), ("birch_pd", 2024, 7)]

    def deliver(rows: list[dict], *sql: str) -> None:
        night.write(*sql, stops=rows)
        done = night.dbt("run", "--select", *models)
        assert done.returncode == 0, done.output

    # an untouched agency-year's cells are not counted again: a mark made by hand stays
    (alder_cells,) = night.one("select count(*) from intermediate.int_stop_cells where agency_id = 'alder_pd'")  # fmt: skip
    assert alder_cells >= 2
    night.write("update intermediate.int_stop_cells set stops = stops + 1000 where agency_id = 'alder_pd'")  # fmt: skip
    third = "birch_pd/stops/2024-03.csv"
    deliver([
        birch_row(third, 2, THIRD_LOAD_AT, source_record_id="V-1", subject_race="2", stop_date="2019-05-05"),
        birch_row(third, 3, THIRD_LOAD_AT, source_record_id="F-1", subject_race="1", stop_date="2022-06-01"),
    ])  # fmt: skip
    assert night.rows(by_year) == [
        ("alder_pd", 2023, 1000 * alder_cells + 400),  # each cell marked
        ("birch_pd", 2019, 1), ("birch_pd", 2022, 1), ("birch_pd", 2024, 6),
    ]  # fmt: skip
    # V-1 corrected into 2024: birch's 2019 is left without stops; alder remapped (counted
    # again: the mark goes)
    fourth = "birch_pd/stops/2024-04.csv"
    deliver([
        birch_row(fourth, 2, "2024-03-04 02:00:00+00", source_record_id="V-1", subject_race="2"),
    ], "insert into raw.value_maps values ('alder_pd', 'stops', 'subject_race', 'h', 'hispanic')")  # fmt: skip
    assert night.rows(by_year) == [
        ("alder_pd", 2023, 400), ("birch_pd", 2019, 0), ("birch_pd", 2022, 1), ("birch_pd", 2024, 7)
    ]  # fmt: skip
    assert night.rows(
        "select distinct stop_year from marts.mart_stop_rates where agency_id = 'birch_pd' order by 1"
    ) == [(2022,), (2024,)]
    incremental = night.rows(cells)
    rebuilt = night.dbt("run", "--full-refresh", "--select", "int_stop_cells")
    assert rebuilt.returncode == 0, rebuilt.output
    assert night.rows(cells) == incremental
    assert night.rows("select count(*) from intermediate.int_stop_cells where stops = 0") == [(0,)]


def test_record_versions_incremental_equals_full_refresh(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    """int_record_versions numbers again only the records with a raw row loaded after its
    watermark (int_record_versions_checked), with every earlier version of each: a third version
    of a record, a person of a stop sent a second time, a record sent once; a record repeated
    earlier and not sent again keeps its rows untouched; the table equals a full refresh."""
    night = warehouse.copy_to(tmp_path)
    models = ("int_record_versions", "int_record_versions_checked")
    # O-1 sent again in the second load: repeated before the first build
    night.write(stops=[birch_row("birch_pd/stops/2024-02.csv", 4, SECOND_LOAD_AT,
                                 source_record_id="O-1", subject_race="3")])  # fmt: skip
    built = night.dbt("run", "--select", *models)
    assert built.returncode == 0, built.output
    versions = (
        "select source_record_id, record_seq, version_number, version_count, is_current,"
        " source_file from intermediate.int_record_versions order by all"
    )
    assert [r[:4] for r in night.rows(versions)] == [
        ("D-1", 1, 1, 2), ("D-1", 1, 2, 2), ("O-1", 1, 1, 2), ("O-1", 1, 2, 2)
    ]  # fmt: skip
    assert night.rows(
        "select dataset, cast(checked_through as varchar) from"
        " intermediate.int_record_versions_checked order by dataset"
    ) == [("arrests", None), ("stops", "2024-03-02 02:00:00+00")]
    third = "birch_pd/stops/2024-03.csv"
    night.write(
        "update intermediate.int_record_versions set source_file = 'UNTOUCHED'"
        " where source_record_id = 'O-1'",
        stops=[
            birch_row(third, 2, THIRD_LOAD_AT, source_record_id="D-1", subject_race="3"),
            birch_row(third, 3, THIRD_LOAD_AT, source_record_id="M-1", person_seq="2",
                      subject_race="2"),
            birch_row(third, 4, THIRD_LOAD_AT, source_record_id="S-1", subject_race="1"),
        ],
    )  # fmt: skip
    incremental = night.dbt("run", "--select", *models)
    assert incremental.returncode == 0, incremental.output
    rows = night.rows(versions)
    assert [r[:5] for r in rows] == [
        ("D-1", 1, 1, 3, False), ("D-1", 1, 2, 3, False), ("D-1", 1, 3, 3, True),
        ("M-1", 2, 1, 2, False), ("M-1", 2, 2, 2, True),
        ("O-1", 1, 1, 2, False), ("O-1", 1, 2, 2, True),
    ]  # fmt: skip
    assert {r[5] for r in rows if r[0] == "O-1"} == {"UNTOUCHED"}  # not numbered again
    night.write(
        "update intermediate.int_record_versions set source_file = 'birch_pd/stops/2024-01.csv'"
        " where source_record_id = 'O-1' and version_number = 1",
        "update intermediate.int_record_versions set source_file = 'birch_pd/stops/2024-02.csv'"
        " where source_record_id = 'O-1' and version_number = 2",
    )
    after = night.rows("select * from intermediate.int_record_versions order by all")
    rebuilt = night.dbt("run", "--full-refresh", "--select", *models)
    assert rebuilt.returncode == 0, rebuilt.output
    assert night.rows("select * from intermediate.int_record_versions order by all") == after


def test_codes_mapped_and_derived(warehouse: Warehouse) -> None:
    # 08:00 in Los Angeles in July is 15:00 UTC
    assert warehouse.one(
        "select stop_type, subject_race, stop_at = timestamptz '2023-07-01 15:00:00+00'"
        " from marts.fct_stops where source_record_id = 'B-0'"
    ) == ("vehicular", "black", True)
    # an unsearched person's contraband 'N' filler is nulled; search fields follow the search
    assert warehouse.one(
        "select search_conducted, contraband_found, search_basis, search_discretion"
        " from marts.fct_stops where source_record_id = 'B-100'"
    ) == (False, None, None, None)
    assert warehouse.one(
        "select search_basis, search_discretion from marts.fct_stops where source_record_id = 'B-0'"
    ) == ("consent", "higher")
    assert warehouse.one(
        "select search_basis, search_discretion from marts.fct_stops where source_record_id = 'B-1'"
    ) == ("other", "lower")
    assert warehouse.one(
        "select outcome, arrest_made, citation_issued, warning_issued"
        " from marts.fct_stops where source_record_id = 'O-1'"
    ) == ("citation", False, True, False)
    assert warehouse.one("select outcome from marts.fct_stops where source_record_id = 'F-1'") == (
        "arrest",
    )
    assert warehouse.one(
        "select reference_group from marts.dim_agencies where agency_id = 'birch_pd'"
    ) == ("white",)


def test_unmapped_code_becomes_unknown_and_is_counted(warehouse: Warehouse) -> None:
    assert warehouse.one(
        "select subject_race, subject_sex from marts.fct_stops where source_record_id = 'U-1'"
    ) == ("unknown", "unknown")
    assert warehouse.rows(
        "select agency_id, field_name, raw_value, row_count from intermediate.int_unmapped_codes"
    ) == [("birch_pd", "subject_race", "9", 1)]


def test_search_disparity_comes_back_out(warehouse: Warehouse) -> None:
    black = warehouse.one(
        "select stops, searches, search_rate, search_rate_lower, search_rate_upper,"
        " search_rate_ratio, search_rate_ratio_lower, search_rate_ratio_upper,"
        " hits, hit_rate, hit_rate_ratio, is_small_numbers"
        " from marts.mart_search_hit_rates"
        " where agency_id = 'alder_pd' and stop_year = 2023 and subject_race = 'black'"
    )
    se = math.sqrt(1 / 40 - 1 / 200 + 1 / 20 - 1 / 200)
    assert black[:2] == (200, 40)
    assert black[2] == pytest.approx(0.2)
    assert black[3:5] == pytest.approx((0.150452, 0.260855), abs=1e-6)
    assert black[5] == pytest.approx(2.0)
    assert black[6:8] == pytest.approx((2 * math.exp(-Z * se), 2 * math.exp(Z * se)), abs=1e-6)
    assert black[8:11] == (12, pytest.approx(0.3), pytest.approx(0.6))
    assert black[11] is False
    white = warehouse.one(
        "select search_rate, search_rate_ratio, search_rate_ratio_lower, reference_group"
        " from marts.mart_search_hit_rates"
        " where agency_id = 'alder_pd' and stop_year = 2023 and subject_race = 'white'"
    )
    assert white == (pytest.approx(0.1), pytest.approx(1.0), None, "white")


def test_stop_rates_from_population(warehouse: Warehouse) -> None:
    rows = {
        race: rest
        for race, *rest in warehouse.rows(
            "select subject_race, stops, population, population_year, stops_per_1000,"
            " disparity_ratio, disparity_ratio_lower, disparity_ratio_upper"
            " from marts.mart_stop_rates where agency_id = 'alder_pd' and stop_year = 2023"
        )
    }
    assert rows["white"][:4] == [200, 100000, 2023, pytest.approx(2.0)]
    assert rows["black"][:5] == [200, 20000, 2023, pytest.approx(10.0), pytest.approx(5.0)]
    assert rows["black"][5:] == pytest.approx([4.112497, 6.079032], abs=1e-6)
    assert rows["hispanic"][:4] == [0, 10000, 2023, 0.0]  # residents, never stopped
    # birch_pd stops of 2024 use its latest earlier population (2022); no hispanic row there.
    # Its counts (3 white, 2 black, 1 hispanic, 1 unknown) are all below 10: suppressed.
    birch = {
        race: rest
        for race, *rest in warehouse.rows(
            "select subject_race, population, population_year, stops, stops_per_1000,"
            " is_suppressed from marts.mart_stop_rates"
            " where agency_id = 'birch_pd' and stop_year = 2024"
        )
    }
    assert birch["white"] == [50000, 2022, None, None, True]
    assert birch["hispanic"] == [None, None, None, None, True]
    assert set(birch) == {"white", "black", "hispanic", "unknown"}


def test_accepted_values_match_canonical_domains() -> None:
    """The accepted_values lists in the marts YAML are copies of the canonical domains."""
    models = yaml.safe_load((DBT_PROJECT_DIR / "models/marts/_marts__models.yml").read_text())
    fct = next(model for model in models["models"] if model["name"] == "fct_stops")
    tested = {
        column["name"]: test["accepted_values"]["arguments"]["values"]
        for column in fct["columns"]
        for test in column.get("data_tests", [])
        if isinstance(test, dict) and "accepted_values" in test
    }
    for name, spec in canonical_fields().items():
        if spec["type"] == "code":
            assert sorted(tested[name]) == sorted(spec["domain"]), name


@pytest.fixture(scope="module")
def next_night(
    warehouse: Warehouse, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Warehouse, DbtRun]:
    """A copy of the warehouse one night later: birch_pd added the value map its unmapped-code
    warning asked for (no stops file re-sent), and sent a stop whose contraband is 'Y' although
    nobody was searched. One build covers both (each dbt run costs seconds)."""
    root = tmp_path_factory.mktemp("next_night")
    night = Warehouse(root / "warehouse.duckdb", root / "target", root / "logs")
    shutil.copy(warehouse.path, night.path)
    con = duckdb.connect(str(night.path))
    try:
        con.execute(
            "insert into raw.value_maps values ('birch_pd', 'stops', 'subject_race', '9', 'other')"
        )
        insert_stops(
            con,
            [
                birch_row(
                    "birch_pd/stops/2024-03.csv", 2, THIRD_LOAD_AT,
                    source_record_id="X-1", subject_race="1", contraband_found="Y",
                )
            ],
        )  # fmt: skip
    finally:
        con.close()
    return night, night.dbt("build", *STOPS_SELECTION)


def test_new_value_map_remaps_old_rows_incrementally(next_night: tuple[Warehouse, DbtRun]) -> None:
    """The incremental run re-maps the agency's old rows, as a full rebuild would."""
    night, _ = next_night
    assert night.one("select subject_race from marts.fct_stops where source_record_id = 'U-1'") == (
        "other",
    )
    assert night.rows("select * from intermediate.int_unmapped_codes") == []


def test_search_field_without_search_blocks_the_build(next_night: tuple[Warehouse, DbtRun]) -> None:
    night, result = next_night
    assert result.returncode != 0
    assert result.problems == {"assert_no_search_fields_without_search": "fail"}
    # the fact table is built; what the failing gate stops is everything downstream of it
    assert night.one("select count(*) from marts.fct_stops where source_record_id = 'X-1'") == (1,)
    assert result.statuses["mart_search_hit_rates"] == "skipped"
