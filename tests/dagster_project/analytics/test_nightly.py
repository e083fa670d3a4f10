"""The nightly fits over a warehouse: tables written with their documented types, skipped when
nothing they read changed, refitted when a stop changes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import duckdb
import numpy as np
import pytest

from dagster_project.analytics import nightly

_spec = importlib.util.spec_from_file_location(
    "veil_tests", Path(__file__).with_name("test_veil.py")
)
veil_tests = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(veil_tests)


def _warehouse(path, stops, seed: int):
    rng = np.random.default_rng(seed)
    stops["stop_person_id"] = [f"p{i}" for i in range(len(stops))]
    stops["stop_year"] = [d.year for d in stops["stop_date"]]
    stops["search_conducted"] = rng.random(len(stops)) < 0.02  # too few for a threshold fit
    stops["contraband_found"] = stops["search_conducted"] & (rng.random(len(stops)) < 0.3)
    stops["mapping_hash"] = "m"
    connection = duckdb.connect(str(path))
    connection.execute("create schema marts")
    connection.register("frame", stops)
    connection.execute(
        "create table marts.fct_stops as select *, timestamptz '2024-01-01 00:00:00+00' as "
        "loaded_at, cast(stop_date as date) as d from frame"
    )
    connection.unregister("frame")
    connection.execute(
        "create table marts.dim_agencies as select 'alder_pd' as agency_id, 44.94 as latitude, "
        "-123.04 as longitude, 'America/Los_Angeles' as time_zone"
    )
    return connection


@pytest.fixture()
def con(tmp_path):
    stops = veil_tests.synthetic_stops(seed=5, beta=0.0, n=12_000, years=(2023,))
    connection = _warehouse(tmp_path / "warehouse.duckdb", stops, seed=5)
    yield connection
    connection.close()


@pytest.fixture()
def two_years(tmp_path):
    stops = veil_tests.synthetic_stops(seed=6, beta=0.0, n=24_000, years=(2023, 2024))
    connection = _warehouse(tmp_path / "warehouse.duckdb", stops, seed=6)
    yield connection
    connection.close()


def test_tables_written_then_kept_until_a_stop_changes(con):
    first = nightly.run_all(con)
    assert first["mart_veil_of_darkness"] == 2  # the main test and the DST variant
    assert first["mart_threshold_test"] == 0
    types = dict(
        con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'marts' and table_name = 'mart_threshold_test'"
        ).fetchall()
    )
    assert types["threshold"] == "DOUBLE" and types["stops"] == "BIGINT"  # typed though empty
    reasons = [
        r[0]
        for r in con.execute(
            "select rule from marts.mart_decision_log_fits where analysis = 'threshold_test' "
            "and rows_after = 0"
        ).fetchall()
    ]
    assert reasons == ["at least 3 districts, white and another group"]
    assert nightly.run_all(con).get("unchanged") == 1
    con.execute(
        "update marts.fct_stops set loaded_at = loaded_at + interval 1 day "
        "where stop_person_id = 'p1'"
    )
    again = nightly.run_all(con)
    assert "unchanged" not in again and again == first


def _table(con, name: str) -> list[tuple]:
    return sorted(con.execute(f"select * from marts.{name}").fetchall(), key=repr)


def test_only_the_agency_whose_stops_changed_is_fitted_again(con):
    """Two agencies (birch_so: alder's stops under another id, so its fits equal alder's). A
    stop of birch changes: birch is fitted again and alder's rows are kept as they were (a mark
    left in them stays); a forced refit of all gives the tables of a first fit."""
    con.execute(
        "insert into marts.fct_stops select * replace ('birch_so' as agency_id, "
        "'b' || stop_person_id as stop_person_id) from marts.fct_stops"
    )
    con.execute(
        "insert into marts.dim_agencies select 'birch_so', latitude, longitude, time_zone "
        "from marts.dim_agencies"
    )
    first = nightly.run_all(con)
    assert first["refitted"] == ["alder_pd", "birch_so"]
    assert first["mart_veil_of_darkness"] == 4
    whole = {name: _table(con, name) for name in nightly.TABLES}
    by_agency = con.execute(
        "select agency_id, list(coefficient order by analysis) from marts.mart_veil_of_darkness "
        "group by 1 order by 1"
    ).fetchall()
    assert by_agency[0][1] == by_agency[1][1]  # the same stops give the same fit

    con.execute(
        "update marts.mart_veil_of_darkness set method = 'kept' where agency_id = 'alder_pd'"
    )
    con.execute(
        "update marts.fct_stops set loaded_at = loaded_at + interval 1 day "
        "where stop_person_id = 'bp1'"
    )
    again = nightly.run_all(con)
    assert again["refitted"] == ["birch_so"]
    assert {k: again[k] for k in nightly.TABLES} == {k: first[k] for k in nightly.TABLES}
    methods = dict(
        con.execute(
            "select agency_id, list(distinct method) from marts.mart_veil_of_darkness group by 1"
        ).fetchall()
    )
    assert methods["alder_pd"] == ["kept"] and methods["birch_so"] != ["kept"]
    assert nightly.run_all(con).get("unchanged") == 1

    # birch remapped: every one of its (an even number of) rows gets a new mapping_hash, which
    # an XOR of the rows' hashes did not see (the constant column cancelled out)
    assert con.execute(
        "select count(*) % 2 from marts.fct_stops where agency_id = 'birch_so'"
    ).fetchone() == (0,)
    con.execute("update marts.fct_stops set mapping_hash = 'm2' where agency_id = 'birch_so'")
    assert nightly.run_all(con)["refitted"] == ["birch_so"]

    forced = nightly.run_all(con, force=True)
    assert forced["refitted"] == ["alder_pd", "birch_so"]
    assert {name: _table(con, name) for name in nightly.TABLES} == whole


def test_a_warehouse_without_stops_gets_empty_typed_tables(con):
    """No agency has stops (a use-of-force-only warehouse): the tables are written, empty."""
    con.execute("delete from marts.fct_stops")
    rows = nightly.run_all(con)
    assert rows["refitted"] == [] and "unchanged" not in rows
    assert {k: rows[k] for k in nightly.TABLES} == dict.fromkeys(nightly.TABLES, 0)
    assert nightly.run_all(con).get("unchanged") == 1


def test_each_agency_year_is_fitted_on_its_own_and_again_only_when_it_changed(two_years):
    """Fits per agency-year: a year's rows equal those of a warehouse holding that year alone; a
    changed stop of 2024 refits 2024 only (a mark left in 2023's rows stays); a year left
    without stops loses its rows; a forced refit gives the same tables."""
    con = two_years
    first = nightly.run_all(con)
    assert first["refitted_periods"] == ["alder_pd 2023", "alder_pd 2024"]
    periods = con.execute(
        "select period, count(*) from marts.mart_veil_of_darkness group by 1 order by 1"
    ).fetchall()
    assert periods == [("2023-2023", 2), ("2024-2024", 2)]  # the test and its DST variant
    assert {
        r[0]
        for r in con.execute("select distinct period from marts.mart_decision_log_fits").fetchall()
    } == {"2023-2023", "2024-2024"}
    n_by_year = dict(
        con.execute(
            "select period, n from marts.mart_veil_of_darkness where analysis = 'veil_of_darkness'"
        ).fetchall()
    )

    # 2024 alone in a warehouse of its own: the same sample and the same fit
    alone = duckdb.connect(":memory:")
    alone.execute("create schema marts")
    for table in ("fct_stops", "dim_agencies"):
        frame = con.execute(f"select * from marts.{table}").df()
        if table == "fct_stops":
            frame = frame[frame["stop_year"] == 2024]
        alone.register("frame", frame)
        alone.execute(f"create table marts.{table} as select * from frame")
        alone.unregister("frame")
    nightly.run_all(alone)
    fit_2024 = "select * exclude (period) from marts.mart_veil_of_darkness where period = '2024-2024' order by analysis"
    assert alone.execute(fit_2024).fetchall() == con.execute(fit_2024).fetchall()
    alone.close()

    con.execute(
        "create temp table saved_methods as "
        "select analysis, period, method from marts.mart_veil_of_darkness"
    )
    con.execute("update marts.mart_veil_of_darkness set method = 'kept'")
    con.execute(
        "update marts.fct_stops set loaded_at = loaded_at + interval 1 day "
        "where stop_person_id = (select min(stop_person_id) from marts.fct_stops "
        "where stop_year = 2024)"
    )
    again = nightly.run_all(con)
    assert again["refitted_periods"] == ["alder_pd 2024"]
    methods = dict(
        con.execute(
            "select period, list(distinct method) from marts.mart_veil_of_darkness group by 1"
        ).fetchall()
    )
    assert methods["2023-2023"] == ["kept"] and methods["2024-2024"] != ["kept"]
    assert {k: again[k] for k in nightly.TABLES} == {k: first[k] for k in nightly.TABLES}

    con.execute("delete from marts.fct_stops where stop_year = 2024")
    emptied = nightly.run_all(con)
    assert emptied["refitted_periods"] == []  # nothing to fit: 2024's rows go
    assert con.execute(
        "select count(*) from marts.mart_veil_of_darkness where period = '2024-2024'"
    ).fetchone() == (0,)
    assert con.execute(
        "select count(*) from marts.mart_decision_log_fits where period = '2024-2024'"
    ).fetchone() == (0,)
    kept = dict(
        con.execute(
            "select period, n from marts.mart_veil_of_darkness where analysis = 'veil_of_darkness'"
        ).fetchall()
    )
    assert kept == {"2023-2023": n_by_year["2023-2023"]}

    con.execute(  # the mark off again: a forced refit of everything gives the same tables
        "update marts.mart_veil_of_darkness as v set method = s.method from saved_methods as s "
        "where s.analysis = v.analysis and s.period = v.period"
    )
    incremental = {name: _table(con, name) for name in nightly.TABLES}
    nightly.run_all(con, force=True)
    assert {name: _table(con, name) for name in nightly.TABLES} == incremental
