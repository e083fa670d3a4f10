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

A narrow night (issue 7: a nightly increment costs in proportion to the new data): when only
landed files changed (the code, configuration and settings are those the current release was
published from), the tables that no changed dataset feeds would come out the same, so the run
materialises the raw layer and only what is downstream of the datasets with new or changed files
(and of the load ledger and rejects); the publication carries the other tables (hard links) and
their checks from the current release, as a quiet night does.
"""

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
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
# the parts of the state (NightState.to_json), and a narrow night's changed datasets
STATE_PARTS_TAG = "lantern/state_parts"
NARROW_TAG = "lantern/narrow"
FRESHNESS_KEY = dg.AssetKey(["marts", "mart_quality_freshness"])
RELEASE_KEY = dg.AssetKey(["publish", "release"])
QUIET_SELECTION = [FRESHNESS_KEY, RELEASE_KEY]
QUIET_REBUILT = frozenset({"mart_quality_freshness"})  # the tables a quiet night exports anew
STATE_FILE = "last_publication.json"
# Written by every load whatever its datasets: what is downstream of them is rebuilt every
# narrow night.
LEDGER_TABLES = ("files", "rejects")
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


@dataclass(frozen=True)
class NightState:
    """What a night's tables depend on besides the clock, in two parts: `setup`, the digest of
    the configuration, the code (Python, dbt project, expectations, lock file) and the settings;
    and `landing`, a digest per dataset of its landed files."""

    setup: str
    landing: dict[str, str]

    @property
    def digest(self) -> str:
        return hashlib.sha256(
            json.dumps([self.setup, sorted(self.landing.items())]).encode()
        ).hexdigest()

    def changed_datasets(self, earlier: "NightState") -> list[str]:
        """The datasets whose landed files differ from `earlier`'s, in settings order."""
        return [
            dataset
            for dataset in settings.DATASETS
            if self.landing.get(dataset) != earlier.landing.get(dataset)
        ]

    def to_json(self) -> str:
        return json.dumps({"setup": self.setup, "landing": self.landing}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "NightState | None":
        try:
            parts = json.loads(text)
            return cls(str(parts["setup"]), {str(k): str(v) for k, v in parts["landing"].items()})
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


def night_parts() -> NightState:
    """Tonight's state (the landed files, the configuration, the code and the settings)."""
    digest = hashlib.sha256()
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
    return NightState(digest.hexdigest(), {d: f for d, (f, _) in landing_by_dataset().items()})


def night_state() -> str:
    """Digest of everything a night's tables depend on besides the clock (`night_parts`)."""
    return night_parts().digest


def _state_path() -> Path:
    return settings.data_dir() / STATE_FILE


def record_publication(state: "NightState | str", release: Path) -> None:
    """After a complete run (or a quiet night) published `release` from `state`. A state given
    as a bare digest (a run started before narrow nights) allows a quiet night, not a narrow one."""
    path = _state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    record = {"release_id": release.name}
    if isinstance(state, NightState):
        record.update(state=state.digest, setup=state.setup, landing=state.landing)
    else:
        record["state"] = state
    temporary.write_text(json.dumps(record) + "\n")
    os.replace(temporary, path)


def _recorded(release_must_be_current: bool = True) -> tuple[dict, Path] | None:
    """The last publication's record and its release, while that release is `current` and the
    warehouse it came from is still there."""
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
        or recorded.get("release_id") != release.name
        or (not settings.is_postgres() and not settings.warehouse_path().exists())
    ):
        return None
    return recorded, release


def quiet_release(state: str) -> Path | None:
    """The current release when tonight is quiet: it was published from exactly `state` and the
    warehouse it came from is still there; otherwise None (a full night)."""
    found = _recorded()
    if found is None or found[0].get("state") != state:
        return None
    return found[1]


def narrow_release(state: NightState) -> tuple[Path, list[str]] | None:
    """(the current release, the datasets whose landed files changed) when tonight can be a
    narrow night: the release was published by a complete run from the same setup (code,
    configuration, settings) and some landed files changed since; otherwise None."""
    found = _recorded()
    if found is None:
        return None
    recorded, release = found
    earlier = NightState.from_json(json.dumps(recorded))
    if earlier is None or earlier.setup != state.setup:
        return None
    changed = state.changed_datasets(earlier)
    return (release, changed) if changed else None


def narrow_selection(asset_graph, datasets: Sequence[str]) -> list[dg.AssetKey]:
    """A narrow night's assets: the raw layer (one load of every new file), everything
    downstream of the changed datasets' raw tables and of the load ledger and rejects (which
    every load writes), and the freshness mart; never what only the configuration tables feed,
    which a narrow night rewrites with the same rows."""
    from dagster_project.defs.ingestion import RAW_TABLES

    fed = [dg.AssetKey(["raw", name]) for name in (*datasets, *LEDGER_TABLES)]
    downstream = dg.AssetSelection.assets(*fed).downstream().resolve(asset_graph)
    raw = {dg.AssetKey(["raw", name]) for name in RAW_TABLES}
    keys = raw | set(downstream) | {FRESHNESS_KEY}
    return sorted(keys, key=lambda key: key.to_user_string())


def night_request(
    force: bool = False, asset_graph=None
) -> tuple[list[dg.AssetKey] | None, dict[str, str]]:
    """(asset selection, tags) of tonight's run: the quiet selection, a narrow night's
    selection (with `asset_graph`, the definitions' asset graph), or the whole job; the last two
    over every agency partition."""
    state = night_parts()
    tags = {STATE_TAG: state.digest, STATE_PARTS_TAG: state.to_json()}
    if force:
        return None, {**tags, **partition_range_tags()}
    if quiet_release(state.digest) is not None:
        return QUIET_SELECTION, {**tags, QUIET_TAG: "true"}
    narrow = narrow_release(state) if asset_graph is not None else None
    if narrow is not None:
        _, datasets = narrow
        selection = narrow_selection(asset_graph, datasets)
        return selection, {**tags, NARROW_TAG: ",".join(datasets), **partition_range_tags()}
    return None, {**tags, **partition_range_tags()}


def _asset_graph(context: dg.ScheduleEvaluationContext | dg.SensorEvaluationContext):
    """The asset graph of the code location a tick evaluates in (None in a bare test context:
    then no narrow night is planned)."""
    try:
        repository = context.repository_def
    except dg.DagsterInvariantViolationError:
        return None
    return repository.asset_graph if repository is not None else None


@dg.schedule(
    name="nightly_schedule",
    job=nightly_job,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def nightly_schedule(context: dg.ScheduleEvaluationContext):
    selection, tags = night_request(asset_graph=_asset_graph(context))
    return dg.RunRequest(asset_selection=selection, tags=tags)


def landing_by_dataset() -> dict[str, tuple[str, int]]:
    """dataset -> (digest of (path, size, mtime) of its landed files, their number): cheap, and
    never opens the files or the warehouse. A linked file lies beside its main file."""
    landing = settings.landing_dir()
    out = {}
    for dataset in settings.DATASETS:
        digest, count = hashlib.sha256(), 0
        for agency_id in config.onboarded(dataset):
            folder = landing / agency_id / dataset
            if not folder.is_dir():
                continue
            for path in sorted(folder.iterdir()):
                if path.is_file() and not path.name.startswith("."):
                    stat = path.stat()
                    digest.update(f"{path}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
                    count += 1
        out[dataset] = (digest.hexdigest(), count)
    return out


def landing_fingerprint() -> tuple[str, int]:
    """Digest of (path, size, mtime) of every landed file, and their number."""
    parts = landing_by_dataset()
    digest = hashlib.sha256(json.dumps(sorted(parts.items())).encode()).hexdigest()
    return digest, sum(count for _, count in parts.values())


@dg.sensor(
    job=nightly_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED
)
def new_files_sensor(context: dg.SensorEvaluationContext):
    fingerprint, count = landing_fingerprint()
    if count == 0 or fingerprint == context.cursor:
        return dg.SkipReason("no new or changed files in the landing zone")
    context.update_cursor(fingerprint)
    # The landing zone changed: a narrow night when only files changed, else a full one (the
    # state tags let the night after be quiet or narrow).
    selection, tags = night_request(asset_graph=_asset_graph(context))
    return dg.RunRequest(
        run_key=fingerprint,
        asset_selection=selection,
        tags={"lantern/trigger": "new_files", **tags},
    )
