"""Chicago PD's complaints export through the real nightly job, by configuration alone.

Three of the five linked gzip CSV files of the Invisible Institute's export of FOIA P046957
(shared/data/real/chicago-cpd-complaints-2000-2016, SOURCE.md beside them) are copied at test
time into a temporary landing zone, one dataset folder each (complaints, allegations,
complainants), and one in-process run of the nightly job loads them with
ingestion/agencies/chicago_pd/<dataset>.yml. The victims and witnesses files are not loaded.
Expected figures are computed here from the files with Python's csv module and checked against
SOURCE.md's own counts.
"""

from __future__ import annotations

import csv
import gzip
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from dagster_project.publication import published_tables

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real"
FOLDER = REAL / "chicago-cpd-complaints-2000-2016"
FILES = {
    "complaints": FOLDER / "complaints-complaints_2000-2016_2016-11.csv.gz",
    "allegations": FOLDER / "complaints-accused_2000-2016_2016-11.csv.gz",
    "complainants": FOLDER / "complaints-complainants_2000-2016_2016-11.csv.gz",
}
OFFICER_UID = "complaints-accused_2000-2016_2016-11_ID"
# Other modules' agencies share the run (tests/real/conftest.py): count Chicago's rows only.
CHICAGO = "agency_id = 'chicago_pd'"

pytestmark = pytest.mark.skipif(
    not all(path.is_file() for path in FILES.values()),
    reason=f"Chicago PD complaints export not available under {FOLDER} (shared data not mounted)",
)

# SOURCE.md's python csv counts.
SOURCE_ROWS = {"complaints": 109_339, "allegations": 125_581, "complainants": 48_214}
FINAL_FINDING = {
    "NS": "not_sustained",
    "NAF": "no_affidavit",
    "UN": "unfounded",
    "EX": "exonerated",
    "SU": "sustained",
    "NC": "no_cooperation",
    "DIS": "unknown",
    "": "unknown",
}


def csv_records(path: Path) -> list[dict[str, str]]:
    with gzip.open(path, "rt", newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def query(warehouse: Path, sql: str, params=None) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def landings() -> dict[tuple[str, str], list[Path]]:
    """What this module lands in the shared nightly run (tests/real/conftest.py): one dataset
    folder per file."""
    if not all(path.is_file() for path in FILES.values()):
        return {}
    return {("chicago_pd", dataset): [source] for dataset, source in FILES.items()}


@pytest.fixture(scope="module")
def run(real_run_a):
    """The nightly run shared with other modules (tests/real/conftest.py), which lands these."""
    return real_run_a


def test_quality_gate_passed_and_release_published(run):
    assert run["rc"] == 0, run["summary"]
    for name in ("fct_complaints", "fct_allegations", "fct_complainants"):
        assert published_tables(run["published"].parent, "csv").get(name), run["summary"]


@pytest.mark.parametrize("dataset", sorted(FILES))
def test_every_delivered_row_is_loaded_or_rejected_with_a_reason(run, dataset):
    rows = len(csv_records(FILES[dataset]))
    assert rows == SOURCE_ROWS[dataset]
    [(status, rows_raw, accepted, rejected)] = query(
        run["warehouse"],
        "select status, rows_raw, rows_accepted, rows_rejected from raw.files "
        "where agency_id = 'chicago_pd' and dataset = ?",
        [dataset],
    )
    assert status == "loaded"
    assert rows_raw == rows == accepted + rejected
    loaded = query(
        run["warehouse"], f"select count(*) from raw.{dataset} where _agency_id = 'chicago_pd'"
    )[0][0]
    assert loaded == accepted
    reasons = query(
        run["warehouse"],
        "select reason from raw.rejects where agency_id = 'chicago_pd' and dataset = ?",
        [dataset],
    )
    assert len(reasons) == rejected
    assert all(reason for (reason,) in reasons)


def test_marts_count_every_complaint_allegation_and_complainant(run):
    counts = {
        name: query(run["warehouse"], f"select count(*) from marts.{name} where {CHICAGO}")[0][0]
        for name in ("fct_complaints", "fct_allegations", "fct_complainants")
    }
    assert counts == {
        "fct_complaints": SOURCE_ROWS["complaints"],
        "fct_allegations": SOURCE_ROWS["allegations"],
        "fct_complainants": SOURCE_ROWS["complainants"],
    }
    [(allegations, sustained)] = query(
        run["warehouse"],
        "select sum(allegation_count), sum(sustained_allegation_count) from marts.fct_complaints"
        f" where {CHICAGO}",
    )
    assert allegations == SOURCE_ROWS["allegations"]
    assert sustained == 8_142  # SOURCE.md: final_finding SU 8,142


def test_final_findings_match_source_md(run):
    expected = Counter(
        FINAL_FINDING[row["final_finding"]] for row in csv_records(FILES["allegations"])
    )
    # SOURCE.md: NS 39,672, NAF 32,704, UN 28,920, EX 8,454, SU 8,142, blank 7,630, NC 47, DIS 12.
    assert expected["not_sustained"] == 39_672
    assert expected["no_affidavit"] == 32_704
    assert expected["unknown"] == 7_630 + 12
    got = dict(
        query(
            run["warehouse"],
            f"select final_finding, count(*) from marts.fct_allegations where {CHICAGO} group by 1",
        )
    )
    assert got == dict(expected)


def penalty(code: str) -> str:
    """CPD's final_discipline penalty codes, as chicago_pd/allegations.yml must map them."""
    if not code:
        return "unknown"
    n = int(float(code))
    if n == 600:
        return "none"
    if n == 100:
        return "reprimand"
    if n in (300, 400):
        return "termination"
    if n == 800:
        return "resigned"
    if n == 200 or 1 <= n <= 365:
        return "suspension"
    return "other"


def test_discipline_follows_cpd_penalty_codes(run):
    expected = Counter(
        penalty(row["final_discipline"]) for row in csv_records(FILES["allegations"])
    )
    assert expected["termination"] == 137 + 58  # 400 separation, 300 administrative termination
    got = dict(
        query(
            run["warehouse"],
            f"select discipline, count(*) from marts.fct_allegations where {CHICAGO} group by 1",
        )
    )
    assert got == dict(expected)
    disciplined = query(
        run["warehouse"],
        f"select count(*) from marts.fct_allegations where {CHICAGO} and is_disciplined",
    )[0][0]
    assert disciplined == expected["reprimand"] + expected["suspension"] + expected["termination"]


def test_every_allegation_and_complainant_links_to_a_complaint(run):
    for name in ("fct_allegations", "fct_complainants"):
        orphans = query(
            run["warehouse"],
            f"select count(*) from marts.{name} as child "
            "left join marts.fct_complaints as parent using (complaint_id) "
            "where child.agency_id = 'chicago_pd' and parent.complaint_id is null",
        )[0][0]
        assert orphans == 0, name


def test_received_dates_span_source_md(run):
    [(first, last)] = query(
        run["warehouse"],
        f"select min(received_date), max(received_date) from marts.fct_complaints where {CHICAGO}",
    )
    assert (str(first), str(last)) == ("2000-01-01", "2016-10-24")


def test_no_officer_id_or_address_in_clear_in_published_csvs(run):
    officer_ids = {
        row[OFFICER_UID] for row in csv_records(FILES["allegations"]) if row[OFFICER_UID]
    }
    addresses = {
        row["address"]
        for row in csv_records(FILES["complaints"])
        # street addresses: a house number and a street name (not "CHICAGO IL" or a bare number)
        if any(ch.isdigit() for ch in row["address"]) and " " in row["address"].strip()
    }
    assert officer_ids and addresses
    published = sorted(run["published"].rglob("*.csv"))  # parts included
    assert published
    for path in published:
        with path.open(newline="", encoding="utf-8") as f:
            cells = {cell for row in csv.reader(f) for cell in row}
        assert not cells & addresses, path.name
    # the published officer column holds salted hashes only, never the id in either spelling
    hashes = set()
    for path in published_tables(run["published"].parent, "csv")["fct_allegations"]:
        with path.open(newline="", encoding="utf-8") as f:
            hashes |= {row["officer_id_hash"] for row in csv.DictReader(f)}
    spellings = officer_ids | {uid.removesuffix(".0") for uid in officer_ids}
    assert len(hashes) > 10_000
    assert not hashes & spellings
    assert all(len(value) >= 32 for value in hashes if value)

    # the officer ids are not in raw either: only their salted hashes
    def raw_columns(table: str) -> set[str]:
        return {
            c
            for (c,) in query(
                run["warehouse"],
                "select column_name from information_schema.columns "
                "where table_schema = 'raw' and table_name = ?",
                [table],
            )
        }

    allegation_columns = raw_columns("allegations")
    assert "officer_id_hash" in allegation_columns and "officer_id" not in allegation_columns
    assert not [c for c in allegation_columns if c.startswith("src_complaints")]
    complaint_columns = raw_columns("complaints")
    for dropped in ("address", "street_number", "apartment_number", "street_name", "zip"):
        assert f"src_{dropped}" not in complaint_columns
