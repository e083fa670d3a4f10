"""The annual reports' reads: `{table:year}` reads the agency's part of the report's year only,
and a query is answered from the last reports' results exactly when the fingerprints
(release.json) of every file it reads are those it was answered from (reports.QueryCache)."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import duckdb
import pytest

from dagster_project import reports

PER_YEAR = "select count(*) as n from {fct_stops:year} where agency_id = ? and stop_year = ?"
EVERY_YEAR = "select count(*) as n from {fct_stops} where agency_id = ?"
AGENCIES = "select count(*) as n from {dim_agencies}"


def write_part(path: Path, agency: str, year: int, rows: int, year_type="integer") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        con.execute(
            f"copy (select ? as agency_id, cast(? as {year_type}) as stop_year, i as stop_id"
            f" from range({rows}) t(i)) to '{path}' (format parquet)",
            [agency, year],
        )
    finally:
        con.close()


@pytest.fixture
def release(tmp_path) -> Path:
    """A release of stops in parts by agency and year (a_pd 2023 and 2024, b_pd 2023) and one
    whole table, with release.json's fingerprints as publication writes them."""
    root = tmp_path / "publish" / "r1"
    stops = root / "data" / "fct_stops"
    write_part(stops / "a_pd-2023.parquet", "a_pd", 2023, 30)
    write_part(stops / "a_pd-2024.parquet", "a_pd", 2024, 7)
    write_part(stops / "b_pd-2023.parquet", "b_pd", 2023, 11)
    con = duckdb.connect()
    con.execute(
        f"copy (select 'a_pd' as agency_id) to '{root / 'data' / 'dim_agencies.parquet'}'"
        " (format parquet)"
    )
    con.close()
    info = {
        "release_id": "r1",
        "fingerprints": {"fct_stops": "48:3", "dim_agencies": "1:9"},
        "parts": {"fct_stops": {"a_pd-2023": "30:1", "a_pd-2024": "7:1", "b_pd-2023": "11:1"}},
    }
    (root / "release.json").write_text(json.dumps(info))
    return root


def set_print(release: Path, part: str, value: str | None) -> None:
    info = json.loads((release / "release.json").read_text())
    if value is None:
        del info["parts"]["fct_stops"][part]
    else:
        info["parts"]["fct_stops"][part] = value
    (release / "release.json").write_text(json.dumps(info))


def answer(release: Path, sql: str, params, cache: reports.QueryCache | None, year=2023) -> int:
    data = reports.ReleaseData(release, agency="a_pd", year=year, cache=cache)
    try:
        return data.rows(sql, params)[0]["n"]
    finally:
        data.close()


def test_a_year_scoped_read_reads_the_agencys_part_of_that_year(release):
    data = reports.ReleaseData(release, agency="a_pd", year=2024)
    try:
        names = [p.name for p in data.files("fct_stops", "year")]
        assert names == ["a_pd-2024.parquet"]
        assert [p.name for p in data.files("fct_stops")] == ["a_pd-2023.parquet", "a_pd-2024.parquet"]
        assert data.rows(PER_YEAR, ("a_pd", 2024)) == [{"n": 7}]
        assert data.rows(PER_YEAR, ("a_pd", 2023)) == [{"n": 0}]  # not this report's year
        assert data.rows(EVERY_YEAR, ("a_pd",)) == [{"n": 37}]
        with pytest.raises(reports.ReportError, match="unknown scope"):
            data.rows("select count(*) from {fct_stops:decade}")
    finally:
        data.close()
    # a year the agency has no part of: no rows, the table's columns
    assert answer(release, PER_YEAR, ("a_pd", 2022), None, year=2022) == 0
    # without a year, or read whole (every agency): every part, the query's filter decides
    whole = reports.ReleaseData(release)
    try:
        assert len(whole.files("fct_stops", "year")) == 3
        assert whole.rows(PER_YEAR, ("a_pd", 2023)) == [{"n": 30}]
    finally:
        whole.close()


def test_a_query_is_answered_again_only_while_its_files_fingerprints_hold(release):
    path = release.parent / reports.REPORT_CACHE
    first = reports.QueryCache.beside(release)
    assert first.path == path.resolve()
    assert answer(release, PER_YEAR, ("a_pd", 2023), first) == 30
    assert answer(release, PER_YEAR, ("a_pd", 2023), first) == 30  # the same night: answered
    assert answer(release, EVERY_YEAR, ("a_pd",), first) == 37
    assert answer(release, AGENCIES, (), first) == 1
    assert (first.hits, first.misses) == (1, 3)
    first.save()

    # The next night: 2024's part changed (a day more): the 2023 query is answered from the
    # cache (the file is made to say otherwise, to show it is not read), the all-years one runs.
    write_part(release / "data" / "fct_stops" / "a_pd-2023.parquet", "a_pd", 2023, 99)
    write_part(release / "data" / "fct_stops" / "a_pd-2024.parquet", "a_pd", 2024, 8)
    set_print(release, "a_pd-2024", "8:2")
    second = reports.QueryCache(path)
    assert answer(release, PER_YEAR, ("a_pd", 2023), second) == 30
    assert answer(release, EVERY_YEAR, ("a_pd",), second) == 107
    assert answer(release, PER_YEAR, ("a_pd", 2023), second, year=2023) == 30
    assert (second.hits, second.misses) == (2, 1)
    # other parameters are another query
    assert answer(release, PER_YEAR, ("a_pd", "2023"), second) == 99
    second.save()

    # 2023's part's fingerprint changes: read again
    set_print(release, "a_pd-2023", "99:5")
    third = reports.QueryCache(path)
    assert answer(release, PER_YEAR, ("a_pd", 2023), third) == 99
    assert third.misses == 1
    third.save()
    # a night keeps only what its reports asked: the whole-table query was not asked since
    assert set(reports.QueryCache(path).entries) == set(third.used)
    assert len(third.used) == 1

    # the same values published with another type: another input
    write_part(release / "data" / "fct_stops" / "a_pd-2023.parquet", "a_pd", 2023, 98, "bigint")
    assert answer(release, PER_YEAR, ("a_pd", 2023), reports.QueryCache(path)) == 98

    # a file release.json gives no fingerprint for is read every time, never cached
    set_print(release, "a_pd-2023", None)
    fourth = reports.QueryCache(path)
    write_part(release / "data" / "fct_stops" / "a_pd-2023.parquet", "a_pd", 2023, 5)
    assert answer(release, PER_YEAR, ("a_pd", 2023), fourth) == 5
    assert answer(release, PER_YEAR, ("a_pd", 2023), fourth) == 5
    assert (fourth.hits, fourth.misses, fourth.used) == (0, 0, {})


def test_a_damaged_or_foreign_cache_is_not_used(release, caplog):
    path = release.parent / reports.REPORT_CACHE
    path.write_bytes(b"not a pickle")
    cache = reports.QueryCache(path)
    assert cache.entries == {} and "not read" in caplog.text
    assert answer(release, PER_YEAR, ("a_pd", 2023), cache) == 30
    cache.save()
    assert len(reports.QueryCache(path).entries) == 1

    # only query results are unpickled: anything else is refused, not built
    class Payload:
        def __reduce__(self):
            return (os.system, ("true",))

    path.write_bytes(pickle.dumps({"version": [1, duckdb.__version__], "entries": Payload()}))
    caplog.clear()
    assert reports.QueryCache(path).entries == {}
    assert "is not a query result type" in caplog.text
    # another DuckDB (or cache version) answers nothing from the file
    path.write_bytes(pickle.dumps({"version": [1, "0.0.0"], "entries": {"k": [{"n": 1}]}}))
    assert reports.QueryCache(path).entries == {}
