"""A real agency's monthly crime files through the real nightly job, onboarded by configuration.

St. Louis MPD's monthly NIBRS files for Jan-Apr 2024
(shared/data/real/stlouis-slmpd-nibrs-2024-monthly/SOURCE.md) are copied at test time into a
temporary landing zone and one in-process run of the nightly job (dlt, dbt build, checks,
publication) loads them with ingestion/agencies/stlouis_mpd/incidents.yml. The four files differ
in format (ISO dates and literal NULL in Jan/Feb, quoted M/D/YYYY h:mm:ss AM/PM in Mar/Apr, and
Jan's date column named IncidentDate1). Expected figures are computed here from the CSVs with
Python's csv module, independently of ingestion and dbt, and checked against SOURCE.md.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from dagster_project.publication import published_tables

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real"
SOURCE_DIR = REAL / "stlouis-slmpd-nibrs-2024-monthly"
# In delivery order (month), which is not the order of the names: "_" sorts after "-".
MONTHS = ["Crime_01_2024.csv", "Crime_02_2024.csv", "Crime-03-2024.csv", "Crime-04-2024.csv"]
AGENCY = "stlouis_mpd"

pytestmark = pytest.mark.skipif(
    not all((SOURCE_DIR / name).is_file() for name in MONTHS),
    reason=f"real agency exports not available: {SOURCE_DIR} does not hold the four monthly "
    "files (shared data not mounted)",
)

CRIME_AGAINST = {
    "Person": "person",
    "Property": "property",
    "Society": "society",
    "Unspecified": "unknown",
    "NULL": "unknown",
}


def csv_records(name: str) -> list[dict[str, str]]:
    with (SOURCE_DIR / name).open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def current_versions() -> dict[str, tuple[str, list[dict[str, str]]]]:
    """incident number -> (file, lines) of its latest month: a re-sent incident is replaced
    whole by the later month's lines."""
    latest: dict[str, tuple[str, list[dict[str, str]]]] = {}
    for name in MONTHS:
        lines: dict[str, list[dict[str, str]]] = {}
        for record in csv_records(name):
            lines.setdefault(record["IncidentNum"].strip(), []).append(record)
        latest.update({number: (name, rows) for number, rows in lines.items()})
    return latest


def query(warehouse: Path, sql: str, params=None) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def landings() -> dict[tuple[str, str], list[Path]]:
    """What this module lands in the shared nightly run (tests/real/conftest.py)."""
    if not all((SOURCE_DIR / name).is_file() for name in MONTHS):
        return {}
    return {(AGENCY, "incidents"): [SOURCE_DIR / name for name in MONTHS]}


@pytest.fixture(scope="module")
def run(real_run_a):
    """The nightly run shared with other modules (tests/real/conftest.py), which lands these."""
    return real_run_a


def test_quality_gate_passed_and_release_published(run):
    assert run["rc"] == 0, run["summary"]
    for table in ("fct_incidents", "fct_incident_offenses"):
        published = published_tables(run["data"] / "publish" / "current", "csv")
        assert published.get(table), run["summary"]


def test_every_delivered_row_is_loaded_or_rejected_with_a_reason(run):
    """All four formats load under one mapping, Jan's IncidentDate1 through `one_of`."""
    wh = run["warehouse"]
    files = {
        row[0]: row[1:]
        for row in query(
            wh,
            "select source_file, status, reason, rows_raw, rows_accepted, rows_rejected"
            " from raw.files where agency_id = ?",
            [AGENCY],
        )
    }
    assert sorted(files) == sorted(f"{AGENCY}/incidents/{name}" for name in MONTHS)
    expected_rows = dict(zip(MONTHS, (5_875, 5_506, 5_660, 6_181), strict=True))  # SOURCE.md
    for name in MONTHS:
        source_file = f"{AGENCY}/incidents/{name}"
        status, reason, rows_raw, accepted, rejected = files[source_file]
        assert status == "loaded", reason
        assert rows_raw == len(csv_records(name)) == expected_rows[name]
        ((in_raw,),) = query(
            wh, "select count(*) from raw.incidents where _source_file = ?", [source_file]
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
        assert rejected == 0  # every line has an incident number and a parseable date


def test_april_crime_against_counts_in_raw_and_staging(run):
    wh = run["warehouse"]
    april = f"{AGENCY}/incidents/Crime-04-2024.csv"
    expected = Counter(CRIME_AGAINST[r["CrimeAgainst"]] for r in csv_records("Crime-04-2024.csv"))
    # SOURCE.md: Property 2,648, Person 1,310, Society 1,276, Unspecified 947.
    assert expected == {"property": 2_648, "person": 1_310, "society": 1_276, "unknown": 947}
    raw = dict(
        query(
            wh,
            "select crime_against, count(*) from raw.incidents where _source_file = ? group by 1",
            [april],
        )
    )
    assert raw == {"Property": 2_648, "Person": 1_310, "Society": 1_276, "Unspecified": 947}
    staged = dict(
        query(
            wh,
            "select crime_against, count(*) from staging.stg_raw__incidents"
            " where source_file = ? group by 1",
            [april],
        )
    )
    assert staged == expected


def test_each_dataset_month_dates_parse(run):
    """ISO (Jan/Feb) and M/D/YYYY h:mm:ss AM/PM (Mar/Apr) dates give the same calendar dates."""
    rows = query(
        run["warehouse"],
        "select _source_file, min(incident_date), max(incident_date),"
        " count(*) filter (where incident_date is null)"
        " from raw.incidents where _agency_id = ? group by 1 order by 1",
        [AGENCY],
    )
    assert len(rows) == len(MONTHS)
    for source_file, first, last, missing in rows:
        assert missing == 0, source_file
        assert "2020-01-01" <= first <= last <= "2024-12-31", source_file


def test_re_sent_incidents_appear_once_with_their_latest_version(run):
    wh = run["warehouse"]
    latest = current_versions()
    delivered = Counter(
        number
        for name in MONTHS
        for number in {r["IncidentNum"].strip() for r in csv_records(name)}
    )
    assert sum(1 for n in delivered.values() if n > 1) > 500  # the monthly files re-send cases
    (incidents, distinct_ids) = query(
        wh,
        "select count(*), count(distinct incident_id) from marts.fct_incidents where agency_id = ?",
        [AGENCY],
    )[0]
    assert incidents == distinct_ids == len(latest)
    ((offense_lines,),) = query(
        wh, "select count(*) from marts.fct_incident_offenses where agency_id = ?", [AGENCY]
    )
    assert offense_lines == sum(len(lines) for _, lines in latest.values())
    by_file = dict(
        query(
            wh,
            "select source_file, count(*) from marts.fct_incidents where agency_id = ? group by 1",
            [AGENCY],
        )
    )
    assert by_file == {
        f"{AGENCY}/incidents/{name}": count
        for name, count in Counter(name for name, _ in latest.values()).items()
    }
    versions = dict(
        query(
            wh,
            "select source_record_id, version_count from marts.fct_incidents where agency_id = ?",
            [AGENCY],
        )
    )
    assert versions == dict(delivered)


def test_an_updated_incident_carries_the_later_months_offenses(run):
    """An incident whose lines changed between months shows the later month's lines only."""
    wh = run["warehouse"]
    earlier: dict[str, list[tuple[str, str]]] = {}
    for name in MONTHS[:-1]:
        for r in csv_records(name):
            earlier.setdefault(r["IncidentNum"].strip(), []).append((r["NIBRS"], r["Offense"]))
    april: dict[str, list[tuple[str, str]]] = {}
    for r in csv_records("Crime-04-2024.csv"):
        april.setdefault(r["IncidentNum"].strip(), []).append((r["NIBRS"], r["Offense"]))
    changed = sorted(
        number
        for number, lines in april.items()
        if number in earlier and Counter(lines) != Counter(earlier[number])
    )
    assert changed, "expected at least one incident whose offenses changed by April"
    for number in changed[:20]:
        rows = query(
            wh,
            "select offense_code, offense_description, source_file"
            " from marts.fct_incident_offenses where agency_id = ? and source_record_id = ?"
            " order by offense_seq",
            [AGENCY, number],
        )
        assert [(code, text) for code, text, _ in rows] == april[number], number
        assert {source_file for _, _, source_file in rows} == {
            f"{AGENCY}/incidents/Crime-04-2024.csv"
        }


def test_offense_groups_follow_the_nibrs_code(run):
    rows = query(
        run["warehouse"],
        "select offense_code, offense_group from marts.fct_incident_offenses"
        " where agency_id = ? group by all",
        [AGENCY],
    )
    assert rows
    for code, group in rows:
        if code is None:
            assert group == "unknown"  # UNFOUNDED INCIDENT lines
        elif code.startswith("90"):
            assert group == "group_b", code
        else:
            assert group == "group_a", code


def test_locations_never_kept_nor_published(run):
    forbidden = {"incidentlocation", "intersectionotherloc", "latitude", "longitude"}
    forbidden |= {f"src_{name}" for name in forbidden}
    raw_columns = {
        name
        for (name,) in query(
            run["warehouse"],
            "select column_name from information_schema.columns"
            " where table_schema = 'raw' and table_name = 'incidents'",
        )
    }
    assert "neighborhood" in raw_columns and "district" in raw_columns
    assert not raw_columns & forbidden
    # (dim_agencies publishes the agency's centroid as latitude / longitude: not a location
    # of an incident)
    published = published_tables(run["data"] / "publish" / "current", "csv")
    incidents = [p for t, files in published.items() if t.startswith("fct_incident") for p in files]
    assert incidents
    for path in incidents:
        with path.open(newline="", encoding="utf-8") as f:
            header = {c.lower() for c in next(csv.reader(f), [])}
        assert not header & forbidden, path.name
