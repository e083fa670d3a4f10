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


@pytest.fixture()
def con(tmp_path):
    stops = veil_tests.synthetic_stops(seed=5, beta=0.0, n=12_000, years=(2023,))
    rng = np.random.default_rng(5)
    stops["stop_person_id"] = [f"p{i}" for i in range(len(stops))]
    stops["stop_year"] = 2023
    stops["search_conducted"] = rng.random(len(stops)) < 0.02  # too few for a threshold fit
    stops["contraband_found"] = stops["search_conducted"] & (rng.random(len(stops)) < 0.3)
    stops["mapping_hash"] = "m"
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    connection.execute("create schema marts")
    connection.register("frame", stops)
    connection.execute(
        "create table marts.fct_stops as select *, timestamptz '2024-01-01 00:00:00+00' as "
        "loaded_at, cast(stop_date as date) as d from frame"
    )
    connection.execute(
        "create table marts.dim_agencies as select 'alder_pd' as agency_id, 44.94 as latitude, "
        "-123.04 as longitude, 'America/Los_Angeles' as time_zone"
    )
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
