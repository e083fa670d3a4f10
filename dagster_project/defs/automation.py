"""The nightly job, its schedule, and a sensor that starts it when new files land.

The raw layer is partitioned by agency (defs/ingestion.py): the schedule and the sensor request
one run over the range of every agency partition, as a single-run backfill of all agencies.

A quiet night (issue 7: the fixed cost of a night with no new data): when nothing that feeds the
warehouse changed since the current release was published by a complete run (the landed files,
the agencies' and reference sources' configuration, Lantern's code and dbt project, the
settings), loading, building, checking and fitting again would give the same tables. Only "now"
moved, so a quiet night rebuilds the freshness mart (and its dbt tests) and publishes a release
whose other files (annual reports and narratives included) are hard links to the current one,
with the checks carried over. `lantern run --force` runs every step anyway.
"""

import hashlib
import json
import os
from pathlib import Path

import dagster as dg

from dagster_project.defs.ingestion import partition_range_tags
from ingestion import config, settings

# Below this resident size a step's leftover heap does not matter, and a full collection plus a
# trim costs ~0.3 s a step in a process holding Dagster, dbt and GX (5 s of a demo night).
TRIM_ABOVE_BYTES = 1 << 30


def resident_bytes() -> int:
    """This process's resident memory (0 where /proc is missing)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


@dg.success_hook(name="release_memory")
def release_memory(context: dg.HookContext) -> None:
    """After each step: the in-process executor runs every step in one process, and glibc keeps
    the heap a finished step freed (a suite's data frame, the fits' arrays), so the process's
    resident memory only grew from step to step (issue 7's peak-memory target). Once the process
    holds more than TRIM_ABOVE_BYTES: collect, then hand the free heap back to the system."""
    import ctypes
    import gc

    if resident_bytes() < TRIM_ABOVE_BYTES:
        return
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        pass


nightly_job = dg.define_asset_job(
    "nightly",
    selection=dg.AssetSelection.all(),
    description="Load new exports, build the warehouse, run every check, publish if the gate passes.",
    hooks={release_memory},
)


# Run tags: the state a complete run started from (recorded once it published), and the mark of
# a quiet night's run.
STATE_TAG = "lantern/state"
QUIET_TAG = "lantern/quiet"
FRESHNESS_KEY = dg.AssetKey(["marts", "mart_quality_freshness"])
RELEASE_KEY = dg.AssetKey(["publish", "release"])
QUIET_SELECTION = [FRESHNESS_KEY, RELEASE_KEY]
QUIET_REBUILT = frozenset({"mart_quality_freshness"})  # the tables a quiet night exports anew
STATE_FILE = "last_publication.json"
# Settings that do not change what a night produces (LANTERN_FRESHNESS_AS_OF is the "now" a quiet
# night rechecks).
_STATE_IGNORED_ENV = {"LANTERN_FRESHNESS_AS_OF", "LANTERN_PROGRESS"}
_CODE_FOLDERS = ("ingestion", "dagster_project", "expectations", "dbt")
_NOT_CODE = {"__pycache__", "target", "logs", "dbt_packages", "node_modules", ".pytest_cache"}


def _tree_digest(digest, root: Path) -> None:
    """(path, size, mtime) of every file under `root` into `digest`; never opens them."""
    if not root.is_dir():
        return
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if d not in _NOT_CODE)
        for name in sorted(files):
            path = Path(folder, name)
            stat = path.stat()
            digest.update(f"{path}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())


def night_state() -> str:
    """Digest of everything a night's tables depend on besides the clock: the landed files, the
    configuration, the code (Python, dbt project, expectations, lock file) and the settings."""
    digest = hashlib.sha256()
    digest.update(landing_fingerprint()[0].encode())
    code = [settings.PROJECT_ROOT / folder for folder in _CODE_FOLDERS]
    # the configuration (ingestion/agencies and ingestion/reference unless moved) is walked with
    # the code when it lives inside it
    configuration = [
        root
        for root in (settings.agencies_dir(), settings.REFERENCE_DIR)
        if not any(root.is_relative_to(folder) for folder in code)
    ]
    for root in (*configuration, *code):
        _tree_digest(digest, root)
    lock = settings.PROJECT_ROOT / "uv.lock"
    if lock.is_file():
        digest.update(f"{lock.stat().st_mtime_ns}".encode())
    env = {
        k: v
        for k, v in os.environ.items()
        if (k.startswith("LANTERN_") and k not in _STATE_IGNORED_ENV)
        or k in ("PGHOST", "PGPORT", "PGDATABASE", "PGUSER")
    }
    digest.update(json.dumps(sorted(env.items())).encode())
    digest.update(f"{settings.target()}|{settings.warehouse_path()}".encode())
    return digest.hexdigest()


def _state_path() -> Path:
    return settings.data_dir() / STATE_FILE


def record_publication(state: str, release: Path) -> None:
    """After a complete run (or a quiet night) published `release` from `state`."""
    path = _state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"state": state, "release_id": release.name}) + "\n")
    os.replace(temporary, path)


def quiet_release(state: str) -> Path | None:
    """The current release when tonight is quiet: it was published from exactly `state` and the
    warehouse it came from is still there; otherwise None (a full night)."""
    from dagster_project.publication import current_release

    path = _state_path()
    if not path.is_file():
        return None
    try:
        recorded = json.loads(path.read_text())
    except ValueError:
        return None
    release = current_release(settings.publish_dir())
    if (
        release is None
        or recorded.get("state") != state
        or recorded.get("release_id") != release.name
        or (not settings.is_postgres() and not settings.warehouse_path().exists())
    ):
        return None
    return release


def night_request(force: bool = False) -> tuple[list[dg.AssetKey] | None, dict[str, str]]:
    """(asset selection, tags) of tonight's run: the quiet selection, or the whole job over every
    agency partition."""
    state = night_state()
    if not force and quiet_release(state) is not None:
        return QUIET_SELECTION, {STATE_TAG: state, QUIET_TAG: "true"}
    return None, {STATE_TAG: state, **partition_range_tags()}


@dg.schedule(
    name="nightly_schedule",
    job=nightly_job,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def nightly_schedule(context: dg.ScheduleEvaluationContext):
    selection, tags = night_request()
    return dg.RunRequest(asset_selection=selection, tags=tags)


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
    # Not quiet: the landing zone changed. The state tag lets the night after skip the work.
    return dg.RunRequest(
        run_key=fingerprint,
        tags={"lantern/trigger": "new_files", STATE_TAG: night_state(), **partition_range_tags()},
    )
