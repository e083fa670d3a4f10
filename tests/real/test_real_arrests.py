"""A real agency's arrests export through the real nightly job, onboarded by configuration alone.

Austin PD's 2019 racial profiling arrests (shared/data/real/austin-rp-arrests-2019/SOURCE.md) are
copied at test time into a temporary landing zone (never into the repository), and one in-process
run of the nightly job (dlt, dbt build, the GX suites, publication) loads them with
ingestion/agencies/austin_pd/arrests.yml. The expected figures are computed here from the CSV
with Python's csv module and the code map below, independently of ingestion and dbt, and checked
against SOURCE.md's own counts.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from dagster_project.publication import published_tables

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real"
SOURCE = REAL / "austin-rp-arrests-2019" / "2019_APD_Arrests_DATA.csv"
AGENCY = "austin_pd"

pytestmark = pytest.mark.skipif(
    not SOURCE.is_file(),
    reason=f"real agency exports not available: {SOURCE} does not exist (shared data not mounted)",
)

# The canonical value of every code in the export (what austin_pd/arrests.yml must say);
# an empty cell is unknown.
RACE = {
    "WHITE": "white",
    "BLACK": "black",
    "HISPANIC OR LATINO": "hispanic",
    "ASIAN": "asian/pacific islander",
    "HAWAIIAN/PACIFIC ISLANDER": "asian/pacific islander",
    "MIDDLE EASTERN": "other",
    "AMERICAN INDIAN/ALASKAN NATIVE": "other",
    "UNKNOWN": "unknown",
    "": "unknown",
}
SEX = {"M": "male", "F": "female", "": "unknown"}


def csv_records() -> list[dict[str, str]]:
    with SOURCE.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def query(warehouse: Path, sql: str, params=None) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def counts(warehouse: Path, relation: str, column: str) -> dict:
    return dict(
        query(
            warehouse,
            f"select {column}, count(*) from {relation} where agency_id = ? group by 1",
            [AGENCY],
        )
    )


def landings() -> dict[tuple[str, str], list[Path]]:
    """What this module lands in the shared nightly run (tests/real/conftest.py)."""
    return {(AGENCY, "arrests"): [SOURCE]} if SOURCE.is_file() else {}


@pytest.fixture(scope="module")
def run(real_run_a):
    """The nightly run shared with other modules (tests/real/conftest.py), which lands these."""
    return real_run_a


def test_quality_gate_passed_and_release_published(run):
    assert run["rc"] == 0, run["summary"]
    published = published_tables(run["data"] / "publish" / "current", "csv")
    assert published.get("fct_arrests"), run["summary"]


def test_every_delivered_row_is_loaded_or_rejected_with_a_reason(run):
    wh = run["warehouse"]
    files = query(
        wh,
        "select source_file, status, reason, rows_raw, rows_accepted, rows_rejected"
        " from raw.files where agency_id = ?",
        [AGENCY],
    )
    assert len(files) == 1, files
    source_file, status, reason, rows_raw, accepted, rejected = files[0]
    assert source_file == f"{AGENCY}/arrests/{SOURCE.name}"
    assert status == "loaded", reason
    assert rows_raw == len(csv_records()) == 7_747  # SOURCE.md: 7,747 data rows
    ((in_raw,),) = query(
        wh, "select count(*) from raw.arrests where _source_file = ?", [source_file]
    )
    in_rejects, without_reason = query(
        wh,
        "select count(*), count(*) filter (where reason is null or reason = '')"
        " from raw.rejects where source_file = ?",
        [source_file],
    )[0]
    assert (in_raw, in_rejects) == (accepted, rejected)
    assert rows_raw == in_raw + in_rejects
    assert without_reason == 0


def test_every_delivered_row_maps_to_the_expected_race_and_sex(run):
    """Over all delivered rows (staging keeps every loaded version), and against SOURCE.md."""
    records = csv_records()
    race = counts(run["warehouse"], "staging.stg_raw__arrests", "subject_race")
    assert race == dict(Counter(RACE[r["APD_RACE_DESC"]] for r in records))
    # SOURCE.md: HISPANIC OR LATINO 3,364; WHITE 2,328; BLACK 1,927; ASIAN 87; MIDDLE EASTERN 18.
    assert (race["hispanic"], race["white"], race["black"]) == (3_364, 2_328, 1_927)
    sex = counts(run["warehouse"], "staging.stg_raw__arrests", "subject_sex")
    assert sex == dict(Counter(SEX[r["SEX"]] for r in records))
    assert (sex["male"], sex["female"]) == (5_836, 1_909)  # SOURCE.md: M 5,836; F 1,909


def test_fct_arrests_race_and_sex_counts_equal_the_csv(run):
    # Rows sharing a PRIMARY_KEY are numbered (sequence_within), so every row is an arrestee.
    kept = csv_records()
    wh = run["warehouse"]
    assert sum(counts(wh, "marts.fct_arrests", "subject_race").values()) == len(kept) == 7_747
    assert counts(wh, "marts.fct_arrests", "subject_race") == dict(
        Counter(RACE[r["APD_RACE_DESC"]] for r in kept)
    )
    assert counts(wh, "marts.fct_arrests", "subject_sex") == dict(
        Counter(SEX[r["SEX"]] for r in kept)
    )
    # nothing unmapped: no code fell through to the unknown default
    (unknown_race,) = query(
        wh,
        "select count(*) from marts.fct_arrests where agency_id = ? and subject_race = 'unknown'",
        [AGENCY],
    )[0]
    assert unknown_race == sum(1 for r in kept if r["APD_RACE_DESC"] in ("", "UNKNOWN"))


def test_every_arrestee_reaches_fct_arrests(run):
    (rows,) = query(
        run["warehouse"], "select count(*) from marts.fct_arrests where agency_id = ?", [AGENCY]
    )[0]
    assert rows == 7_747


def test_personal_columns_never_published_nor_kept(run):
    forbidden = {"location", "x_coordinate", "y_coordinate"}
    forbidden |= {f"src_{name}" for name in forbidden}
    raw_columns = {
        name
        for (name,) in query(
            run["warehouse"],
            "select column_name from information_schema.columns"
            " where table_schema = 'raw' and table_name = 'arrests'",
        )
    }
    assert not raw_columns & forbidden
    for path in sorted((run["data"] / "publish" / "current" / "data").rglob("*.csv")):
        with path.open(newline="", encoding="utf-8") as f:
            header = {c.lower() for c in next(csv.reader(f), [])}
        assert not header & forbidden, path.name
