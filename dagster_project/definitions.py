"""Assembles Lantern's Dagster definitions; every piece lives in `dagster_project/defs/`."""

from __future__ import annotations

import dagster as dg

from dagster_project.analytics.nightly import public_tables
from dagster_project.defs.analytics import analytics_fits
from dagster_project.defs.automation import new_files_sensor, nightly_job, nightly_schedule
from dagster_project.defs.ingestion import build_raw_ingest
from dagster_project.defs.publication import build_publish_asset
from dagster_project.defs.quality import (
    gx_arrests_suite,
    gx_complaints_suite,
    gx_incidents_suite,
    gx_stops_suite,
    gx_use_of_force_suite,
    record_suite_checks,
)
from dagster_project.defs.site import site
from dagster_project.defs.transform import MANIFEST, build_dbt_assets, dbt_resource
from ingestion import settings


@dg.definitions
def defs() -> dg.Definitions:
    settings.quiet_telemetry()
    dbt_assets = build_dbt_assets()  # prepares the dbt manifest when the project changed
    return dg.Definitions(
        assets=[
            build_raw_ingest(),  # partitioned by agency: the configured agencies at load
            dbt_assets,
            analytics_fits,
            build_publish_asset(MANIFEST, extra_tables=public_tables()),
            site,
        ],
        asset_checks=[
            gx_stops_suite,
            gx_arrests_suite,
            gx_incidents_suite,
            gx_use_of_force_suite,
            gx_complaints_suite,
            *record_suite_checks,
        ],
        jobs=[nightly_job],
        schedules=[nightly_schedule],
        sensors=[new_files_sensor],
        resources={"dbt": dbt_resource()},
        # One process: the multiprocess executor re-imports the code in every step (~8 s each,
        # STACK-NOTES.md), and DuckDB allows one writer process at a time anyway.
        executor=dg.in_process_executor,
    )
