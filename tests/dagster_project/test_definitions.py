"""The Dagster definitions: keys mirror warehouse relations, the gate is wired, automation exists."""

from __future__ import annotations

import os

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


def test_the_dbt_resource_skips_what_dagster_dbt_does_at_every_start():
    """LanternDbtCliResource overrides two private hooks of dagster-dbt (`dbt --version` in a
    subprocess, an in-process adapter), about 3 s each per run: they must still be the ones
    DbtCliResource.cli calls, or the overrides would silently stop saving anything."""
    import inspect
    from importlib import metadata

    from dagster_dbt import DbtCliResource

    from dagster_project.defs.transform import LanternDbtCliResource, dbt_resource

    source = inspect.getsource(DbtCliResource.cli)
    assert "self._cli_version" in source and "self._initialize_dbt_core_adapter(" in source
    resource = dbt_resource()
    assert isinstance(resource, LanternDbtCliResource)
    assert str(resource._cli_version) == metadata.version("dbt-core")
    assert resource._initialize_dbt_core_adapter(["build"]) is None


@pytest.fixture
def night(tmp_path, monkeypatch):
    """A data folder with one landed file and a published release recorded from its state."""
    from dagster_project.defs import automation

    monkeypatch.setenv("LANTERN_DATA_DIR", str(tmp_path))
    for var in ("LANTERN_LANDING_DIR", "LANTERN_PUBLISH_DIR", "LANTERN_FRESHNESS_AS_OF"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANTERN_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    (tmp_path / "warehouse.duckdb").write_bytes(b"")
    landed = tmp_path / "landing" / "alder_pd" / "stops" / "alder_stops_2024H1.csv"
    landed.parent.mkdir(parents=True)
    landed.write_text("x\n")
    release = tmp_path / "publish" / "20260101T000000000000Z"
    release.mkdir(parents=True)
    (tmp_path / "publish" / "current").symlink_to(release.name)
    automation.record_publication(automation.night_parts(), release)
    return {"landed": landed, "release": release, "automation": automation}


def test_a_night_is_quiet_only_when_nothing_it_depends_on_changed(night, monkeypatch):
    automation, release = night["automation"], night["release"]
    assert automation.quiet_release(automation.night_state()) == release.resolve()
    # "now" is not part of the state: a quiet night is how freshness gets rechecked
    monkeypatch.setenv("LANTERN_FRESHNESS_AS_OF", "2030-01-01")
    assert automation.quiet_release(automation.night_state()) == release.resolve()

    # a landed file changed (its mtime), a new one, or a setting: a full night
    stat = night["landed"].stat()
    os.utime(night["landed"], ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert automation.quiet_release(automation.night_state()) is None
    os.utime(night["landed"], ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert automation.quiet_release(automation.night_state()) is not None
    monkeypatch.setenv("LANTERN_SALT", "another-salt")
    assert automation.quiet_release(automation.night_state()) is None
    monkeypatch.delenv("LANTERN_SALT")

    # an agency's mapping changed: a full night (agencies dir moved to a copy to touch it)
    import shutil

    from ingestion import settings

    agencies = night["landed"].parents[3] / "agencies"
    shutil.copytree(settings.AGENCIES_DIR, agencies)
    monkeypatch.setenv("LANTERN_AGENCIES_DIR", str(agencies))
    automation.record_publication(automation.night_state(), release)
    assert automation.quiet_release(automation.night_state()) is not None
    (agencies / "alder_pd" / "stops.yml").write_text(
        (agencies / "alder_pd" / "stops.yml").read_text() + "\n"
    )
    assert automation.quiet_release(automation.night_state()) is None


def test_a_quiet_night_needs_the_release_it_recorded_to_be_current(night):
    automation, release = night["automation"], night["release"]
    state = automation.night_state()
    newer = release.parent / "20260102T000000000000Z"
    newer.mkdir()
    current = release.parent / "current"
    current.unlink()
    current.symlink_to(newer.name)
    assert automation.quiet_release(state) is None
    current.unlink()
    current.symlink_to(release.name)
    assert automation.quiet_release(state) is not None
    (release.parents[1] / "warehouse.duckdb").unlink()  # the warehouse is gone
    assert automation.quiet_release(state) is None


def test_the_schedule_asks_for_the_quiet_selection_on_a_quiet_night(definitions, night):
    automation = night["automation"]
    schedule = definitions.resolve_schedule_def("nightly_schedule")
    with dg.build_schedule_context() as context:
        quiet = schedule.evaluate_tick(context).run_requests[0]
    assert list(quiet.asset_selection) == automation.QUIET_SELECTION
    assert quiet.tags[automation.QUIET_TAG] == "true"
    assert not any("partition" in k for k in quiet.tags)
    night["landed"].write_text("x\ny\n")
    with dg.build_schedule_context() as context:  # no code location: no narrow night planned
        full = schedule.evaluate_tick(context).run_requests[0]
    assert full.asset_selection is None
    assert automation.QUIET_TAG not in full.tags and automation.NARROW_TAG not in full.tags
    assert full.tags[automation.STATE_TAG] == automation.night_state()
    assert "dagster/asset_partition_range_start" in full.tags


def test_a_night_with_only_new_files_is_narrow(definitions, night, monkeypatch):
    """Only a stops file changed since the release, from the same setup: the schedule asks for
    the raw layer and what the stops feed, not the tables of the other record types; a setting
    changed too: a full night."""
    automation = night["automation"]
    schedule = definitions.resolve_schedule_def("nightly_schedule")
    night["landed"].write_text("x\ny\n")
    with dg.build_schedule_context(repository_def=definitions.get_repository_def()) as context:
        narrow = schedule.evaluate_tick(context).run_requests[0]
    assert narrow.tags[automation.NARROW_TAG] == "stops"
    assert "dagster/asset_partition_range_start" in narrow.tags
    keys = {key.to_user_string() for key in narrow.asset_selection}
    assert {
        "raw/stops",
        "raw/arrests",
        "raw/files",
        "marts/fct_stops",
        "marts/mart_search_rates",
    } <= keys
    assert {"marts/mart_quality_files", "marts/mart_quality_freshness", "publish/release"} <= keys
    assert {"marts/fct_calls_for_service", "marts/fct_arrests", "marts/dim_agencies"}.isdisjoint(
        keys
    )
    # the same request from the state parts the publication will record
    parts = automation.NightState.from_json(narrow.tags[automation.STATE_PARTS_TAG])
    assert parts == automation.night_parts() and parts.digest == narrow.tags[automation.STATE_TAG]
    monkeypatch.setenv("LANTERN_SALT", "another-salt")
    with dg.build_schedule_context(repository_def=definitions.get_repository_def()) as context:
        full = schedule.evaluate_tick(context).run_requests[0]
    assert full.asset_selection is None and automation.NARROW_TAG not in full.tags


def test_the_nightly_job_hands_freed_memory_back_after_each_step(definitions):
    """One process runs every step; without the hook its resident memory only grew from step to
    step (1 million stops: peak 4.67 GB, 3.25 GB with it; make bench measures it)."""
    from dagster_project.defs.automation import release_memory

    job = definitions.resolve_job_def("nightly")
    assert release_memory in job.hook_defs
    assert release_memory.hook_fn is not None
