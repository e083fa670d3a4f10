"""Chicago PD's Tactical Response Reports (eight linked files) through the real nightly job.

The eight gzip CSVs of shared/data/real/chicago-cpd-trr-2017-2020 (SOURCE.md beside them) are
copied at test time into one temporary landing folder (never into the repository), and one
in-process run of the nightly job (dlt, dbt build, checks, publication) loads them with
ingestion/agencies/chicago_pd/use_of_force.yml: TRR-main joined by trr_id to the subjects,
officers, member actions and weapon discharges files. Expected figures are computed here from the
files with Python's csv module, independently of ingestion and dbt, and checked against
SOURCE.md's own counts.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import re
from collections import Counter
from pathlib import Path

import pytest

from dagster_project.publication import published_tables
from tests.real.conftest import REAL, query

FOLDER = REAL / "chicago-cpd-trr-2017-2020"
TABLES = (
    "main",
    "subjects",
    "officers",
    "actions-responses",
    "weapon-discharges",
    "subject-weapons",
    "charges",
    "statuses",
)
FILES = {t: FOLDER / f"TRR-{t}_2017-2020_2020-06_p583646.csv.gz" for t in TABLES}
# SOURCE.md: data rows per file (python csv, excluding header)
SOURCE_ROWS = {
    "main": 10_141,
    "subjects": 10_141,
    "officers": 10_141,
    "actions-responses": 56_519,
    "weapon-discharges": 573,
    "subject-weapons": 7_060,
    "charges": 19_307,
    "statuses": 41_430,
}
OFFICER_UID = "TRR-officers_2017-2020_2020-06_p583646_ID"
# Other agencies' force records share the run (tests/real/conftest.py): Chicago's rows only.
CHICAGO = "agency_id = 'chicago_pd'"

pytestmark = pytest.mark.skipif(
    not all(p.is_file() for p in FILES.values()),
    reason=f"Chicago TRR export not available under {FOLDER} (shared data not mounted)",
)


def csv_records(path: Path) -> list[dict[str, str]]:
    with gzip.open(path, "rt", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def records():
    return {t: csv_records(p) for t, p in FILES.items()}


def landings() -> dict[tuple[str, str], list[Path]]:
    """What this module lands in the shared nightly run (tests/real/conftest.py): all eight
    files, statuses (with names) included."""
    if not all(p.is_file() for p in FILES.values()):
        return {}
    return {("chicago_pd", "use_of_force"): list(FILES.values())}


@pytest.fixture(scope="module")
def run(real_run_b):
    """The nightly run shared with other modules (tests/real/conftest.py), which lands these."""
    return real_run_b


def test_quality_gate_passed_and_release_published(run):
    assert run["rc"] == 0, run["summary"]
    for name in ("incidents", "subjects", "officers", "actions"):
        published = published_tables(run["published"].parent, "csv")
        assert published.get(f"fct_use_of_force_{name}"), run["summary"]


def test_source_files_hold_the_rows_source_md_counts(records):
    assert {t: len(r) for t, r in records.items()} == SOURCE_ROWS


def test_every_report_is_loaded_or_rejected_with_a_reason(run, records):
    [(source_file, status, rows_raw, accepted, rejected, notes)] = query(
        run["warehouse"],
        "select source_file, status, rows_raw, rows_accepted, rows_rejected, notes "
        "from raw.files where agency_id = 'chicago_pd' and dataset = 'use_of_force'",
    )
    # one delivery: the main file, its four linked files joined in
    assert source_file == "chicago_pd/use_of_force/" + FILES["main"].name
    assert (status, rows_raw, accepted, rejected) == ("loaded", 10_141, 10_141, 0)
    assert (
        query(
            run["warehouse"],
            "select count(*) from raw.use_of_force where _agency_id = 'chicago_pd'",
        )[0][0]
        == accepted
    )
    assert (
        query(
            run["warehouse"],
            f"select count(*) from raw.rejects where {CHICAGO} and dataset = 'use_of_force'",
        )[0][0]
        == rejected
    )
    member = sum(1 for r in records["actions-responses"] if r["person"] == "Member Action")
    assert member == 19_156
    assert f"{member} row(s) kept by where, joined to 9090 of 10141" in notes
    assert "joined to 10141 of 10141 row(s); 0 linked row(s) match no main row" in notes
    assert "573 row(s), joined to 564 of 10141" in notes


def test_subject_race_and_years_match_the_export(run, records):
    race = {
        "BLACK": "black",
        "HISPANIC": "hispanic",
        "WHITE": "white",
        "ASIAN/PACIFIC ISLANDER": "asian/pacific islander",
        "NATIVE AMERICAN/ALASKAN NATIVE": "other",
        "": "unknown",
    }
    expected = Counter(race[r["race"]] for r in records["subjects"])
    # SOURCE.md: BLACK 8,091, HISPANIC 1,297, WHITE 684, ASIAN/PI 52, blank 12, NATIVE AM. 5
    assert expected == {
        "black": 8_091,
        "hispanic": 1_297,
        "white": 684,
        "asian/pacific islander": 52,
        "unknown": 12,
        "other": 5,
    }
    relation = "intermediate.int_use_of_force_deduplicated"
    assert (
        dict(
            query(
                run["warehouse"],
                f"select subject_race, count(*) from {relation} where {CHICAGO} group by 1",
            )
        )
        == expected
    )
    years = Counter(int(r["trr_date"][:4]) for r in records["main"])
    assert years == {2017: 624, 2018: 3_814, 2019: 4_171, 2020: 1_532}
    found = query(
        run["warehouse"],
        f"select year(incident_date), count(*), min(incident_date), max(incident_date) "
        f"from {relation} where {CHICAGO} group by 1",
    )
    assert {y: n for y, n, _, _ in found} == years
    assert str(min(f[2] for f in found)) == "2017-10-16"  # SOURCE.md's date range
    assert str(max(f[3] for f in found)) == "2020-05-31"


def test_incidents_officers_and_subjects(run, records):
    wh = run["warehouse"]
    incidents = {r["rd_no"] for r in records["main"]}
    assert len(incidents) == 5_798
    assert query(
        wh,
        f"select count(*), sum(n_report_rows) from marts.fct_use_of_force_incidents where {CHICAGO}",
    ) == [(len(incidents), 10_141)]
    officer_of = {r["trr_id"]: r[OFFICER_UID] for r in records["officers"]}
    per_incident = {(r["rd_no"], officer_of[r["trr_id"]]) for r in records["main"]}
    assert query(wh, f"select count(*) from marts.fct_use_of_force_officers where {CHICAGO}") == [
        (len(per_incident),)
    ]
    injured = Counter(r["injured"] for r in records["officers"])
    assert injured == {"No": 7_378, "Yes": 2_763}
    assert query(
        wh,
        "select count(*) filter (where officer_injured), count(*) filter (where not officer_injured)"
        f" from intermediate.int_use_of_force_deduplicated where {CHICAGO}",
    ) == [(2_763, 7_378)]


def test_every_member_action_and_discharge_is_a_mapped_force_type(run, records):
    delivered = sum(1 for r in records["actions-responses"] if r["person"] == "Member Action")
    delivered += sum(1 for r in records["weapon-discharges"] if r["weapon_type"].strip())
    wh = run["warehouse"]
    rows = query(
        wh,
        "select count(*), count(*) filter (where is_unmapped) "
        f"from intermediate.int_use_of_force_actions_unnested where {CHICAGO}",
    )[0]
    assert rows == (delivered, 0)
    assert query(
        wh, f"select sum(n_source_values) from marts.fct_use_of_force_actions where {CHICAGO}"
    ) == [(delivered,)]
    # Firearm discharges: TRRs with a FIREARM member action or a firearm in the discharges file
    firearm = {"SEMI-AUTO PISTOL", "RIFLE", "REVOLVER", "SHOTGUN"}
    trrs = {
        r["trr_id"]
        for r in records["actions-responses"]
        if r["person"] == "Member Action" and r["action"] == "FIREARM"
    } | {r["trr_id"] for r in records["weapon-discharges"] if r["weapon_type"] in firearm}
    assert len(trrs) == 90  # 87 + 65 - 62 in both
    found = query(
        wh,
        "select count(*) from marts.fct_use_of_force_actions"
        f" where {CHICAGO} and force_type = 'firearm_discharged'",
    )[0][0]
    assert found == len(trrs)  # one officer and one subject per TRR


def test_officer_ids_are_salted_hashes_and_no_name_reaches_the_warehouse(run, records):
    wh = run["warehouse"]
    expected = {
        hashlib.sha256(("test" + r[OFFICER_UID]).encode()).hexdigest() for r in records["officers"]
    }
    assert len(expected) == 4_633
    assert {
        h
        for (h,) in query(
            wh,
            f"select distinct officer_id_hash from marts.fct_use_of_force_officers where {CHICAGO}",
        )
    } == expected
    columns = {
        c
        for (c,) in query(
            wh,
            "select column_name from information_schema.columns where table_schema = 'raw' and table_name = 'use_of_force'",
        )
    }
    assert "officer_id_hash" in columns and "src_subjects_subject_cb_no_hash" in columns
    assert not [c for c in columns if re.search(r"name|birth|street|block|^officer_id$", c)]
    assert not [c for c in columns if c.startswith("src_officers_trr")]  # the UID, as mapped
    # The review chain (TRR-statuses, with names; its first_name and last_name columns hold
    # each other's values) is never read. Names that are also plain words of the loaded files
    # (BLACK, WHITE, DAWN, BROADWAY, REDACTED) cannot be told apart from them, so are left out.
    loaded = {"main", "subjects", "officers", "actions-responses", "weapon-discharges"}
    words = {v for t in loaded for r in records[t] for v in r.values()}
    names = {
        r[c] for r in records["statuses"] for c in ("first_name", "last_name") if len(r[c]) >= 4
    } - words
    assert len(names) > 2_000
    assert not [c for c in columns if re.search(r"trr_status|src_status|appointed", c)]
    published = "\n".join(
        p.read_text(encoding="utf-8") for p in sorted(run["published"].rglob("*.csv"))
    )
    assert not names & set(re.split(r"[,\n|]", published))
    raw_cells = {
        v
        for row in query(
            wh, "select columns(*)::varchar from raw.use_of_force where _agency_id = 'chicago_pd'"
        )
        for cell in row
        if cell
        for v in cell.split("|")
    }
    assert len(raw_cells) > 10_000
    assert not names & raw_cells
