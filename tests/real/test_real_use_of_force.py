"""Two real agencies' use-of-force exports through the real nightly job, by configuration alone.

Seattle PD's Use_Of_Force.csv and Dallas PD's 2016 UOF export (shared/data/real/
seattle-use-of-force and dallas-uof-2016, SOURCE.md beside each) are copied at test time into a
temporary landing zone (never into the repository), and one in-process run of the nightly job
(dlt, dbt build, checks, publication) loads them with ingestion/agencies/<agency>/use_of_force.yml.
Expected figures are computed here from the CSVs with Python's csv module and the code maps
below, independently of ingestion and dbt, and checked against SOURCE.md's own counts.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from dagster_project.publication import published_tables

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real"
SEATTLE = REAL / "seattle-use-of-force" / "Use_Of_Force.csv"
DALLAS = REAL / "dallas-uof-2016" / "37-00049_UOF-P_2016_prepped.csv"

pytestmark = pytest.mark.skipif(
    not (SEATTLE.is_file() and DALLAS.is_file()),
    reason=f"real agency exports not available under {REAL} (shared data not mounted)",
)

# What seattle_pd/use_of_force.yml and dallas_pd/use_of_force.yml must say.
SEATTLE_LEVEL = {
    "Level 1 - Use of Force": "level_1",
    "Level 2 - Use of Force": "level_2",
    "Level 3 - Use of Force": "level_3",
    "Level 3 - OIS": "ois",
}
DALLAS_RACE = {
    "Black": "black",
    "Hispanic": "hispanic",
    "White": "white",
    "Asian": "asian/pacific islander",
    "American Ind": "other",
    "Other": "other",
    "NULL": "unknown",
}


def csv_records(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def query(warehouse: Path, sql: str, params=None) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def counts(warehouse: Path, relation: str, column: str, agency: str) -> dict:
    return dict(
        query(
            warehouse,
            f"select {column}, count(*) from {relation} where agency_id = ? group by 1",
            [agency],
        )
    )


def landings() -> dict[tuple[str, str], list[Path]]:
    """What this module lands in the shared nightly run (tests/real/conftest.py)."""
    if not (SEATTLE.is_file() and DALLAS.is_file()):
        return {}
    return {("seattle_pd", "use_of_force"): [SEATTLE], ("dallas_pd", "use_of_force"): [DALLAS]}


@pytest.fixture(scope="module")
def run(real_run_b):
    """The nightly run shared with other modules (tests/real/conftest.py), which lands these."""
    return real_run_b


def test_quality_gate_passed_and_release_published(run):
    assert run["rc"] == 0, run["summary"]
    for name in ("incidents", "subjects", "officers", "actions"):
        published = published_tables(run["data"] / "publish" / "current", "csv")
        assert published.get(f"fct_use_of_force_{name}"), run["summary"]


@pytest.mark.parametrize(
    ("agency", "source", "rows", "rejected"),
    [("seattle_pd", SEATTLE, 13_886, 0), ("dallas_pd", DALLAS, 2_384, 1)],
)
def test_every_delivered_row_is_loaded_or_rejected_with_a_reason(
    run, agency, source, rows, rejected
):
    assert len(csv_records(source)) == rows  # SOURCE.md's python csv count
    [(status, rows_raw, accepted, rejected_rows)] = query(
        run["warehouse"],
        "select status, rows_raw, rows_accepted, rows_rejected from raw.files "
        "where agency_id = ? and dataset = 'use_of_force'",
        [agency],
    )
    assert (status, rows_raw, accepted, rejected_rows) == (
        "loaded",
        rows,
        rows - rejected,
        rejected,
    )
    loaded = query(
        run["warehouse"], "select count(*) from raw.use_of_force where _agency_id = ?", [agency]
    )[0][0]
    assert loaded == rows - rejected
    rejects = query(
        run["warehouse"],
        "select source_row, reason from raw.rejects where agency_id = ? and dataset = 'use_of_force'",
        [agency],
    )
    assert len(rejects) == rejected
    assert all(reason for _, reason in rejects)


def test_dallas_description_row_is_rejected_for_its_date(run):
    [(row, column, reason)] = query(
        run["warehouse"],
        "select source_row, column_name, reason from raw.rejects where agency_id = 'dallas_pd'",
    )
    assert row == 2  # the line after the header
    assert column == "INCIDENT_DATE"
    assert "unparseable date 'OCCURRED_D'" in reason


def test_seattle_force_levels_and_years_match_the_export(run):
    records = csv_records(SEATTLE)
    expected_levels = Counter(SEATTLE_LEVEL[r["Incident_Type"]] for r in records)
    assert expected_levels == {"level_1": 9_883, "level_2": 3_780, "level_3": 124, "ois": 99}
    wh = run["warehouse"]
    relation = "intermediate.int_use_of_force_deduplicated"
    assert counts(wh, relation, "force_level", "seattle_pd") == expected_levels
    by_year = Counter(int(r["Occured_date_time"][6:10]) for r in records)
    assert by_year == {
        2014: 1_717, 2015: 2_086, 2016: 1_609, 2017: 1_689, 2018: 2_264,
        2019: 1_389, 2020: 2_068, 2021: 1_036, 2022: 28,
    }  # fmt: skip
    assert (
        counts(wh, relation, "cast(extract(year from incident_date) as integer)", "seattle_pd")
        == by_year
    )
    incidents = counts(wh, "marts.fct_use_of_force_incidents", "agency_id", "seattle_pd")
    assert incidents == {"seattle_pd": len({r["Incident_Num"] for r in records})}  # 13,119


def test_seattle_incident_level_is_the_highest_of_its_rows(run):
    rank = {"level_1": 1, "level_2": 2, "level_3": 3, "ois": 4}
    highest: dict[str, str] = {}
    for r in csv_records(SEATTLE):
        level = SEATTLE_LEVEL[r["Incident_Type"]]
        current = highest.get(r["Incident_Num"])
        if current is None or rank[level] > rank[current]:
            highest[r["Incident_Num"]] = level
    assert counts(
        run["warehouse"], "marts.fct_use_of_force_incidents", "highest_force_level", "seattle_pd"
    ) == Counter(highest.values())


def test_dallas_race_counts_follow_the_map(run):
    records = csv_records(DALLAS)[1:]  # without the description row, which is rejected
    expected = Counter(DALLAS_RACE[r["SUBJECT_RACE"]] for r in records)
    assert expected == {
        "black": 1_333,
        "hispanic": 524,
        "white": 470,
        "unknown": 39,
        "other": 12,
        "asian/pacific islander": 5,
    }
    relation = "intermediate.int_use_of_force_deduplicated"
    assert counts(run["warehouse"], relation, "subject_race", "dallas_pd") == expected


def test_dallas_subjects_without_an_id_count_one_each(run):
    subjects: dict[str, set[str]] = {}
    for number, r in enumerate(csv_records(DALLAS)[1:]):
        subject = r["SUBJECT_ID"] if r["SUBJECT_ID"] != "0" else f"row {number}"
        subjects.setdefault(r["UOF_NUMBER"], set()).add(subject)
    expected = sum(len(s) for s in subjects.values())
    # Every row is then its own subject of its report (2,328 reports): merged on the hash of "0",
    # the 147 rows of id-less subjects (92 reports) would have counted 92 subjects.
    assert expected == 2_383
    found = counts(run["warehouse"], "marts.fct_use_of_force_subjects", "agency_id", "dallas_pd")
    assert found == {"dallas_pd": expected}


def test_dallas_force_types_are_all_mapped_and_counted(run):
    records = csv_records(DALLAS)[1:]
    delivered = sum(1 for r in records for i in range(1, 11) if r[f"TYPE_OF_FORCE_USED{i}"].strip())
    wh = run["warehouse"]
    rows = query(
        wh,
        "select count(*), count(*) filter (where is_unmapped) "
        "from intermediate.int_use_of_force_actions_unnested where agency_id = 'dallas_pd'",
    )[0]
    assert rows == (delivered, 0)
    actions = query(
        wh,
        "select sum(n_source_values) from marts.fct_use_of_force_actions "
        "where agency_id = 'dallas_pd'",
    )[0][0]
    assert actions == delivered


# Computed numbers, which can equal an id by chance (officer 2017, year 2017).
NUMBERS = {"incident_year", "years_of_service", "subject_age", "source_row"}


def test_no_officer_or_subject_id_is_published_in_clear(run):
    """Every published row names its source row (source_file, source_row): the officer and subject
    ids of that row must not appear in it, and every *_id_hash cell is a 64-hex hash."""
    sources = {
        "seattle_pd/use_of_force/" + SEATTLE.name: (SEATTLE, ("Officer_ID", "Subject_ID")),
        "dallas_pd/use_of_force/" + DALLAS.name: (DALLAS, ("OFFICER_ID", "SUBJECT_ID")),
    }
    records = {name: csv_records(path) for name, (path, _) in sources.items()}
    tables = {
        table: files
        for table, files in published_tables(run["data"] / "publish" / "current", "csv").items()
        if table.startswith("fct_use_of_force_")
    }
    assert len(tables) == 4
    published = [path for files in tables.values() for path in files]  # parts included
    checked = 0
    for path in published:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            assert not {"officer_id", "subject_id"} & set(reader.fieldnames or []), path.name
            for row in reader:
                for name, cell in row.items():
                    if name.endswith("_id_hash") and cell:
                        assert re.fullmatch(r"[0-9a-f]{64}", cell), (path.name, name, cell)
                if row["agency_id"] not in ("seattle_pd", "dallas_pd"):
                    continue  # another module's agency in the shared run (tests/real/conftest.py)
                source = records[row["source_file"]][int(row["source_row"]) - 2]
                id_columns = sources[row["source_file"]][1]
                # An id equal to another value of its source row (an incident number, a beat)
                # cannot be told apart from that value; "0" is Dallas's "no subject id".
                others = {v for k, v in source.items() if k not in id_columns}
                ids = {source[c].strip() for c in id_columns} - others - {"", "0"}
                texts = {v for k, v in row.items() if k not in NUMBERS and not k.startswith("n_")}
                assert not ids & texts, (path.name, row)
                checked += 1
    assert checked > 13_886
