"""The nightly job, its schedule, and a sensor that starts it when new files land.

The raw layer is partitioned by agency (defs/ingestion.py): the schedule and the sensor request
one run over the range of every agency partition, as a single-run backfill of all agencies.
"""

import hashlib

import dagster as dg

from dagster_project.defs.ingestion import partition_range_tags
from ingestion import config, settings

nightly_job = dg.define_asset_job(
    "nightly",
    selection=dg.AssetSelection.all(),
    description="Load new exports, build the warehouse, run every check, publish if the gate passes.",
)


@dg.schedule(
    name="nightly_schedule",
    job=nightly_job,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def nightly_schedule(context: dg.ScheduleEvaluationContext):
    return dg.RunRequest(tags=partition_range_tags())


def landing_fingerprint() -> tuple[str, int]:
    """Digest of (path, size, mtime) of every landed file: cheap, and never opens the warehouse."""
    digest, count = hashlib.sha256(), 0
    landing = settings.landing_dir()
    for dataset in settings.DATASETS:
        for agency_id in config.onboarded(dataset):
            folder = landing / agency_id / dataset
            if not folder.is_dir():
                continue
            for path in sorted(folder.iterdir()):
                if path.is_file() and not path.name.startswith("."):
                    stat = path.stat()
                    digest.update(f"{path}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
                    count += 1
    return digest.hexdigest(), count


@dg.sensor(
    job=nightly_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED
)
def new_files_sensor(context: dg.SensorEvaluationContext):
    fingerprint, count = landing_fingerprint()
    if count == 0 or fingerprint == context.cursor:
        return dg.SkipReason("no new or changed files in the landing zone")
    context.update_cursor(fingerprint)
    return dg.RunRequest(
        run_key=fingerprint, tags={"lantern/trigger": "new_files", **partition_range_tags()}
    )
