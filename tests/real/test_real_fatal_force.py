"""The Washington Post's fatal-force file as a reference dataset, reconciled with the agencies'
own use-of-force records (Chicago PD's TRRs, Seattle PD's force reports) in one nightly run.

Expected figures come from SOURCE.md (yearly and race counts) and from DuckDB queries over the
delivered CSVs written here, independently of ingestion and dbt: the deaths in each agency's city
and state within the period its force records cover, its deadly-force incidents (Chicago: a
FIREARM member action or a firearm discharge on any TRR of the RD number; Seattle: "Level 3 -
OIS"), and the matches at most one day apart.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from tests.real.conftest import REAL, query

WAPO = REAL / "wapo-fatal-force" / "fatal-police-shootings-data.csv"
TRR = REAL / "chicago-cpd-trr-2017-2020"
TRR_FILES = [
    TRR / f"TRR-{t}_2017-2020_2020-06_p583646.csv.gz"
    for t in ("main", "subjects", "officers", "actions-responses", "weapon-discharges")
]
SEATTLE = REAL / "seattle-use-of-force" / "Use_Of_Force.csv"

pytestmark = pytest.mark.skipif(
    not all(p.is_file() for p in (WAPO, SEATTLE, *TRR_FILES)),
    reason=f"real exports (wapo-fatal-force, Chicago TRR, Seattle) not available under {REAL}",
)

# The deaths per agency-year and their matches, from the delivered files alone.
EXPECTED_SQL = """
with wapo as (
    select id, cast(date as date) as d, city, state
    from read_csv($wapo, all_varchar = true)
),
trr as (
    select m.trr_id, m.rd_no, cast(m.trr_date as date) as d
    from read_csv($main, all_varchar = true) as m
),
trr_firearm as (
    select trr_id from read_csv($actions, all_varchar = true)
    where person = 'Member Action' and action = 'FIREARM'
    union
    select trr_id from read_csv($discharges, all_varchar = true)
    where weapon_type in ('SEMI-AUTO PISTOL', 'RIFLE', 'REVOLVER', 'SHOTGUN')
),
chicago_incidents as (  -- the incident's date is its first TRR's (lowest trr_id)
    select rd_no, arg_min(d, trr_id) as d,
           bool_or(trr_id in (select trr_id from trr_firearm)) as deadly
    from trr group by rd_no
),
seattle as (
    select Incident_Num as incident,
           cast(strptime(Occured_date_time, '%m/%d/%Y %I:%M:%S %p') as date) as d,
           Incident_Type = 'Level 3 - OIS' as ois
    from read_csv($seattle, all_varchar = true)
),
seattle_incidents as (
    select incident, arg_min(d, d) as d, bool_or(ois) as deadly from seattle group by incident
),
incidents as (
    select 'chicago_pd' as agency_id, 'Chicago' as city, 'IL' as state, d, deadly
    from chicago_incidents
    union all
    select 'seattle_pd', 'Seattle', 'WA', d, deadly from seattle_incidents
),
coverage as (
    select agency_id, city, state, min(d) as first_d, max(d) as last_d
    from incidents group by all
),
deaths as (
    select c.agency_id, w.id, w.d,
           exists (select 1 from incidents i where i.agency_id = c.agency_id and i.deadly
                   and abs(date_diff('day', i.d, w.d)) <= 1) as matched
    from wapo w join coverage c
      on w.city = c.city and w.state = c.state and w.d between c.first_d and c.last_d
),
deadly as (
    select i.agency_id, i.d,
           exists (select 1 from deaths x where x.agency_id = i.agency_id
                   and abs(date_diff('day', i.d, x.d)) <= 1) as matched
    from incidents i where i.deadly
),
years as (
    select agency_id, unnest(generate_series(year(first_d), year(last_d))) as year
    from coverage
)
select y.agency_id, y.year,
       (select count(*) from deaths x where x.agency_id = y.agency_id and year(x.d) = y.year),
       (select count(*) from deaths x where x.agency_id = y.agency_id and year(x.d) = y.year
            and x.matched),
       (select count(*) from deadly x where x.agency_id = y.agency_id and year(x.d) = y.year),
       (select count(*) from deadly x where x.agency_id = y.agency_id and year(x.d) = y.year
            and x.matched)
from years y order by 1, 2
"""


def landings() -> dict[tuple[str, str], list[Path]]:
    """What this module lands in the shared nightly run (tests/real/conftest.py)."""
    if not all(p.is_file() for p in (WAPO, SEATTLE, *TRR_FILES)):
        return {}
    return {
        ("wapo", "fatal_force"): [WAPO],
        ("chicago_pd", "use_of_force"): TRR_FILES,
        ("seattle_pd", "use_of_force"): [SEATTLE],
    }


@pytest.fixture(scope="module")
def run(real_run_b):
    """The nightly run shared with other modules (tests/real/conftest.py), which lands these."""
    return real_run_b


@pytest.fixture(scope="module")
def expected():
    con = duckdb.connect()
    try:
        return con.execute(
            EXPECTED_SQL,
            {
                "wapo": str(WAPO),
                "main": str(TRR_FILES[0]),
                "actions": str(TRR_FILES[3]),
                "discharges": str(TRR_FILES[4]),
                "seattle": str(SEATTLE),
            },
        ).fetchall()
    finally:
        con.close()


def wapo_records() -> list[dict[str, str]]:
    with WAPO.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_quality_gate_passed_and_reference_published(run):
    assert run["rc"] == 0, run["summary"]
    for name in ("ref_fatal_force", "mart_force_reconciliation"):
        assert (run["published"] / f"{name}.csv").is_file(), run["summary"]


def test_every_record_is_loaded_with_the_counts_of_source_md(run):
    records = wapo_records()
    assert len(records) == 10_430
    [(status, rows_raw, accepted, rejected)] = query(
        run["warehouse"],
        "select status, rows_raw, rows_accepted, rows_rejected from raw.files "
        "where agency_id = 'wapo' and dataset = 'fatal_force'",
    )
    assert (status, rows_raw, accepted, rejected) == ("loaded", 10_430, 10_430, 0)
    by_year = dict(
        query(
            run["warehouse"], "select incident_year, count(*) from marts.ref_fatal_force group by 1"
        )
    )
    assert by_year == {
        2015: 995, 2016: 959, 2017: 984, 2018: 992, 2019: 993,
        2020: 1_021, 2021: 1_050, 2022: 1_097, 2023: 1_164, 2024: 1_175,
    }  # fmt: skip
    race = dict(
        query(
            run["warehouse"], "select subject_race, count(*) from marts.ref_fatal_force group by 1"
        )
    )
    # SOURCE.md: W 4,659; B 2,486; H 1,717; blank 1,188; A 184; N 146; O 37; multi-race 13
    assert race == {
        "white": 4_659,
        "black": 2_486,
        "hispanic": 1_717,
        "unknown": 1_188,
        "asian/pacific islander": 184,
        "other": 146 + 37 + 13,
    }
    assert Counter(r["gender"] for r in records)["non-binary"] == 5
    assert query(
        run["warehouse"], "select count(*) from marts.ref_fatal_force where subject_sex = 'other'"
    ) == [(5,)]


def test_no_name_or_coordinates_of_the_deceased_are_published(run):
    records = wapo_records()
    published = run["published"] / "ref_fatal_force.csv"
    with published.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        columns = set(reader.fieldnames or [])
        cells = {v for row in reader for v in row.values()}
    assert not {"name", "latitude", "longitude"} & columns
    names = {r["name"] for r in records if r["name"]}
    assert len(names) > 9_000
    assert not names & cells
    everything = "\n".join(p.read_text(encoding="utf-8") for p in run["published"].rglob("*.csv"))
    assert not names & set(re.split(r"[,\n]", everything))
    raw_columns = {
        c
        for (c,) in query(
            run["warehouse"],
            "select column_name from information_schema.columns where table_schema = 'raw' and table_name = 'fatal_force'",
        )
    }
    assert not {"src_name", "src_latitude", "src_longitude"} & raw_columns


def test_reconciliation_matches_an_independent_computation(run, expected):
    found = query(
        run["warehouse"],
        "select agency_id, year, reference_fatal_count, matched_fatal_count, "
        "agency_deadly_force_count, agency_deadly_force_matched_count "
        "from marts.mart_force_reconciliation"
        # the agencies of the independent computation (others may share the run)
        " where agency_id in ('chicago_pd', 'seattle_pd') order by 1, 2",
    )
    assert found == expected
    chicago = {row[1]: row for row in found if row[0] == "chicago_pd"}
    assert sorted(chicago) == [2017, 2018, 2019, 2020]
    assert sum(r[2] for r in chicago.values()) > 0  # deaths in Chicago in the TRR period
    assert sum(r[3] for r in chicago.values()) > 0  # and some matched to a TRR firearm discharge
    [(unmatched_ok,)] = query(
        run["warehouse"],
        "select bool_and(unmatched_fatal_count = reference_fatal_count - matched_fatal_count "
        "and matched_fatal_count <= reference_fatal_count) from marts.mart_force_reconciliation",
    )
    assert unmatched_ok
