"""The Dagster definitions: keys mirror warehouse relations, the gate is wired, automation exists."""

from __future__ import annotations

import dagster as dg
import pytest

from dagster_project.definitions import defs
from dagster_project.defs.automation import new_files_sensor


@pytest.fixture(scope="module")
def definitions() -> dg.Definitions:
    return defs()


def test_asset_keys_mirror_warehouse_relations(definitions):
    keys = {key.to_user_string() for key in definitions.resolve_all_asset_keys()}
    for key in (
        "raw/stops",
        "raw/rejects",
        "raw/files",
        "staging/stg_raw__stops",
        "intermediate/int_stops_deduplicated",
        "marts/fct_stops",
        "raw/arrests",
        "marts/fct_arrests",
        "marts/mart_search_hit_rates",
        "marts/mart_stop_rates",
        "publish/release",
    ):
        assert key in keys, key


def test_dbt_source_is_the_dlt_asset(definitions):
    graph = definitions.resolve_asset_graph()
    parents = graph.get(dg.AssetKey(["staging", "stg_raw__stops"])).parent_keys
    assert dg.AssetKey(["raw", "stops"]) in parents


def test_gate_checks_are_blocking(definitions):
    graph = definitions.resolve_asset_graph()
    specs = {
        (spec.asset_key.to_user_string(), spec.name): spec
        for spec in graph.asset_check_keys
        and [graph.get_check_spec(k) for k in graph.asset_check_keys]
    }
    # a quarantined file loads nothing, so it is reported (warn) and the rest is published
    assert not specs[("raw/files", "contract")].blocking
    assert specs[("raw/files", "reconciliation")].blocking
    assert specs[("marts/fct_stops", "gx_stops_suite")].blocking
    assert specs[("marts/fct_arrests", "gx_arrests_suite")].blocking
    for fact, suite in (
        ("fct_calls_for_service", "calls_for_service"),
        ("fct_bwc_recordings", "bwc_recordings"),
        ("fct_bwc_audit_events", "bwc_audit_events"),
        ("fct_school_incidents", "school_incidents"),
        ("fct_survey_responses", "survey_responses"),
        ("fct_survey_item_responses", "survey_item_responses"),
    ):
        assert specs[(f"marts/{fact}", f"gx_{suite}_suite")].blocking
    assert specs[("marts/fct_incidents", "gx_incidents_suite")].blocking
    assert specs[("marts/fct_use_of_force_incidents", "gx_use_of_force_suite")].blocking
    assert specs[("marts/fct_complaints", "gx_complaints_suite")].blocking
    dbt_checks = [
        name for asset, name in specs if asset == "marts/fct_stops" and name.startswith("unique")
    ]
    assert dbt_checks, "dbt tests surface as asset checks"


def test_schedule_and_sensor(definitions, tmp_path, monkeypatch):
    assert definitions.resolve_schedule_def("nightly_schedule").cron_schedule == "0 2 * * *"
    monkeypatch.setenv("LANTERN_LANDING_DIR", str(tmp_path))
    empty = new_files_sensor(dg.build_sensor_context())
    assert isinstance(empty, dg.SkipReason)
    folder = tmp_path / "alder_pd" / "stops"
    folder.mkdir(parents=True)
    (folder / "alder_stops_2024H1.csv").write_text("x\n")
    context = dg.build_sensor_context()
    request = new_files_sensor(context)
    assert isinstance(request, dg.RunRequest)
    again = new_files_sensor(dg.build_sensor_context(cursor=context.cursor))
    assert isinstance(again, dg.SkipReason)
