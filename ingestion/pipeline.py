"""The dlt pipeline: every agency's delivered files for one dataset into `raw.<dataset>`.

One resource walks the landing zone and, file by file, yields the accepted rows (Arrow record
batches: dlt's fast path; dict rows cost ~200x here, STACK-NOTES.md), the rejected rows and the
file's ledger row, each to its own table. Handling one file at a time keeps memory flat whatever
the number of files. Configuration tables (value maps, agencies, population) are replaced on
every run from the agencies' YAML, so a corrected mapping applies to all history in dbt.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import dlt
import pyarrow as pa

from ingestion import config, delivery, settings
from ingestion.delivery import (
    FileOutcome,
    FileResult,
    FileTask,
    Previous,
    process_files,
)
from ingestion.faults import fault_point
from ingestion.linking import delivery_hash, linked_paths
from ingestion.mapper import quote_ident
from ingestion.readers import file_sha256

log = logging.getLogger(__name__)

REJECTS_SCHEMA = pa.schema(
    [
        ("agency_id", pa.string()),
        ("dataset", pa.string()),
        ("source_file", pa.string()),
        ("file_hash", pa.string()),
        ("source_row", pa.int64()),
        ("column_name", pa.string()),
        ("raw_text", pa.string()),
        ("reason", pa.string()),
        ("loaded_at", pa.timestamp("us", tz="UTC")),
        ("load_id", pa.string()),
    ]
)
FILES_SCHEMA = pa.schema(
    [
        ("agency_id", pa.string()),
        ("dataset", pa.string()),
        ("source_file", pa.string()),
        ("file_hash", pa.string()),
        ("file_bytes", pa.int64()),
        ("status", pa.string()),
        ("reason", pa.string()),
        ("notes", pa.string()),
        ("rows_raw", pa.int64()),
        ("rows_accepted", pa.int64()),
        ("rows_rejected", pa.int64()),
        ("rows_quarantined", pa.int64()),
        ("records_missing", pa.int64()),
        ("source_columns", pa.string()),
        ("loaded_at", pa.timestamp("us", tz="UTC")),
        ("load_id", pa.string()),
    ]
)
# The file hash recorded for a file that was refused unread (a link out of the landing zone).
REFUSED_HASH = "refused"
# Control characters in a file name: refused, since the name is shown in logs, reports and URLs.
UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f]")


@dataclass
class IngestResult:
    datasets: tuple[str, ...]
    load_id: str
    files: list[FileOutcome]
    skipped: int
    unknown_agencies: list[str]

    @property
    def loaded(self) -> list[FileOutcome]:
        return [f for f in self.files if f.status == "loaded"]

    @property
    def quarantined(self) -> list[FileOutcome]:
        return [f for f in self.files if f.status == "quarantined"]


def salt() -> str:
    """Salt for hashing personal identifiers; created once per installation, never committed."""
    if os.environ.get("LANTERN_SALT"):
        return os.environ["LANTERN_SALT"]
    path = settings.data_dir() / ".salt"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(16))
    return path.read_text().strip()


def new_load_id(now: datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%S%fZ")


def landed_files(dataset: str, agencies: Iterable[str] | None = None) -> list[tuple[str, Path]]:
    """(agency_id, path) of every delivered file, in a stable order, never outside the landing zone."""
    landing = settings.landing_dir()
    wanted = set(agencies) if agencies else None
    out = []
    for agency_id in config.onboarded(dataset):
        if wanted is not None and agency_id not in wanted:
            continue
        mapping = config.load_mapping(agency_id, dataset)
        folder = landing / agency_id / dataset
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob(mapping.file_pattern)):
            if path.name.startswith(".") or not (path.is_file() or path.is_symlink()):
                continue
            out.append((agency_id, path))  # links out of the landing zone are refused, on record
    return out


def refusal(path: Path, landing: Path) -> str | None:
    """Why a delivered path must not be read, or None. Only files inside the landing zone are
    read: a link (or a linked folder) pointing elsewhere could expose any file on the machine."""
    try:
        path.name.encode("utf-8")
    except UnicodeEncodeError:
        return "refused: the file name is not valid UTF-8; rename the file"
    if UNSAFE_NAME.search(path.name) or len(path.name) > 255:
        return "refused: the file name holds control characters or is too long; rename the file"
    resolved = path.resolve()
    if not resolved.is_relative_to(landing):
        return "refused: a link pointing outside the landing zone; not read"
    if not resolved.is_file():
        return "refused: not a regular file (a dangling link?)"
    return None


def _display_name(path: Path, landing: Path) -> str:
    return path.relative_to(landing).as_posix().encode("utf-8", "backslashreplace").decode()


def unknown_agency_folders() -> list[str]:
    landing = settings.landing_dir()
    if not landing.is_dir():
        return []
    known = set(config.agency_ids()) | set(config.reference_sources())
    return sorted(p.name for p in landing.iterdir() if p.is_dir() and p.name not in known)


class FileHashes:
    """The SHA-256 of every landed file, remembered in the data folder by its size, modification
    time and inode: every night looks at every landed file (is it loaded? re-sent changed?), and
    reading the whole landing zone again (3 GB at 10 million stops, twice) to learn that nothing
    changed grew with history. A file written again gets a new modification time, so its hash is
    computed anew."""

    def __init__(self, path: Path):
        self.path = path
        self.known: dict[str, list] = {}
        self.seen: dict[str, list] = {}
        try:
            self.known = json.loads(path.read_text())
        except (OSError, ValueError):
            self.known = {}

    def sha256(self, file: Path) -> str:
        stat = file.stat()
        identity = [stat.st_size, stat.st_mtime_ns, stat.st_ino]
        entry = self.known.get(str(file))
        if not (isinstance(entry, list) and entry[:3] == identity and len(entry) == 4):
            entry = [*identity, file_sha256(file)]
        self.seen[str(file)] = entry
        return entry[3]

    def save(self) -> None:
        """Keep what is known of every file still landed (a load of some agencies looks at
        theirs only)."""
        kept = {
            name: entry
            for name, entry in {**self.known, **self.seen}.items()
            if name in self.seen or Path(name).is_file()
        }
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(kept))
        os.replace(temporary, self.path)


def remove_dead_spill_folders() -> None:
    """The spill folders of processes that are gone (killed before DuckDB cleaned up)."""
    root = settings.duckdb_spill_dir()
    if not root.is_dir():
        return
    for folder in root.iterdir():
        try:
            os.kill(int(folder.name), 0)
        except ValueError:
            continue  # not one of ours
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except PermissionError:
            continue  # alive, another user's


def loaded_ledger(warehouse: Path) -> dict[str, set[str]]:
    """file_hash -> source files already recorded as loaded or duplicate."""
    from dagster_project import warehouse as wh

    if not wh.exists():
        return {}
    with wh.connect(read_only=True) as con:
        exists = con.execute(
            "select count(*) from information_schema.tables where table_schema = 'raw' and table_name = 'files'"
        ).fetchone()[0]
        if not exists:
            return {}
        ledger: dict[str, set[str]] = {}
        for file_hash, source_file in con.execute(
            "select file_hash, source_file from raw.files where status in ('loaded', 'duplicate')"
        ).fetchall():
            ledger.setdefault(file_hash, set()).add(source_file)
        return ledger


def _rejects_table(outcome: FileOutcome, rejects, loaded_at: datetime, load_id: str) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "agency_id": outcome.agency_id,
                "dataset": outcome.dataset,
                "source_file": outcome.source_file,
                "file_hash": outcome.file_hash,
                "source_row": r.source_row,
                "column_name": r.column_name,
                "raw_text": r.raw_text,
                "reason": r.reason,
                "loaded_at": loaded_at,
                "load_id": load_id,
            }
            for r in rejects
        ],
        schema=REJECTS_SCHEMA,
    )


def _file_table(outcome: FileOutcome, size: int, loaded_at: datetime, load_id: str) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "agency_id": outcome.agency_id,
                "dataset": outcome.dataset,
                "source_file": outcome.source_file,
                "file_hash": outcome.file_hash,
                "file_bytes": size,
                "status": outcome.status,
                "reason": outcome.reason,
                "notes": "\n".join(outcome.notes) or None,
                "rows_raw": outcome.rows_raw,
                "rows_accepted": outcome.rows_accepted,
                "rows_rejected": outcome.rows_rejected,
                "rows_quarantined": outcome.rows_quarantined,
                "records_missing": outcome.records_missing,
                "source_columns": json.dumps(outcome.source_columns)
                if outcome.source_columns is not None
                else None,
                "loaded_at": loaded_at,
                "load_id": load_id,
            }
        ],
        schema=FILES_SCHEMA,
    )


def empty_raw_table(dataset: str) -> pa.Table:
    """The raw table's base columns, so it exists (for dbt) before any agency has sent a file."""
    fields = [(name, pa.string()) for name in config.dataset_spec(dataset).raw_columns()]
    fields += [
        ("_agency_id", pa.string()),
        ("_dataset", pa.string()),
        ("_source_file", pa.string()),
        ("_source_row", pa.int64()),
        ("_file_hash", pa.string()),
        ("_loaded_at", pa.timestamp("us", tz="UTC")),
        ("_load_id", pa.string()),
    ]
    return pa.schema(fields).empty_table()


def previous_versions(
    warehouse: Path, plan: dict[str, list[tuple[str, Path]]], hashes: FileHashes
) -> Previous:
    """Headers of the latest loaded file per agency dataset, and the record keys of every file
    about to be loaded again under the same name with new content (a re-sent, corrected export)."""
    out = Previous()
    from dagster_project import warehouse as wh

    if not wh.exists():
        return out
    landing = settings.landing_dir()
    with wh.connect(read_only=True) as con:
        columns = {
            r[0]
            for r in con.execute(
                "select column_name from information_schema.columns "
                "where table_schema = 'raw' and table_name = 'files'"
            ).fetchall()
        }
        if "source_columns" not in columns:
            return out
        latest = con.execute(
            """
            select agency_id, dataset, source_file, file_hash, source_columns from (
                select agency_id, dataset, source_file, file_hash, source_columns, loaded_at,
                       row_number() over (
                           partition by agency_id, dataset, source_file order by loaded_at desc
                       ) as version
                from raw.files where status = 'loaded'
            ) as latest where version = 1
            order by loaded_at, source_file
            """
        ).fetchall()
        by_file = {}
        for agency_id, dataset, source_file, file_hash, header in latest:
            if header:
                out.headers[(agency_id, dataset)] = (source_file, json.loads(header))
            by_file[source_file] = (dataset, file_hash)
        for dataset, files in plan.items():
            keys = [quote_ident(k) for k in config.dataset_spec(dataset).record_key]
            for _, path in files:
                relative = _display_name(path, landing)
                if relative not in by_file or by_file[relative][0] != dataset:
                    continue
                old_hash = by_file[relative][1]
                if refusal(path, landing) or hashes.sha256(path) == old_hash:
                    continue
                rows = con.execute(
                    f"select distinct {', '.join(keys)} from raw.{quote_ident(dataset)} "
                    "where _source_file = ? and _file_hash = ?",
                    [relative, old_hash],
                ).fetchall()
                out.records[relative] = (old_hash, rows)
    return out


# The landed files' hashes, by path (FileHashes), in the data folder.
HASHES_FILE = ".file_hashes.json"
# Files read in worker processes once a night brings at least this much to read (below it,
# starting the workers costs more than they save); LANTERN_LOAD_WORKERS sets their number.
PARALLEL_MIN_BYTES = 64 * 2**20


@dataclass
class Night:
    """What one load does with every landed file: the files read (in landing order), and the
    rows of the ledger (raw.files) and of raw.rejects, all in landing order."""

    results: list[FileResult] = field(default_factory=list)
    ledger_rows: list[pa.Table] = field(default_factory=list)
    rejects: list[pa.Table] = field(default_factory=list)


def load_workers(tasks: list[FileTask]) -> int:
    """Worker processes for tonight's files: LANTERN_LOAD_WORKERS, or one per core (at most 2)
    when there is enough to read."""
    if os.environ.get("LANTERN_LOAD_WORKERS", "").strip():
        return max(0, int(os.environ["LANTERN_LOAD_WORKERS"]))
    size = sum(delivery.file_size(task.path) for task in tasks)
    return min(2, os.cpu_count() or 1) if size >= PARALLEL_MIN_BYTES and len(tasks) > 1 else 0


def read_night(
    plan: dict[str, list[tuple[str, Path]]],
    ledger: dict[str, set[str]],
    result: IngestResult,
    loaded_at: datetime,
    previous: Previous,
    staging: Path,
    hashes: FileHashes,
) -> Night:
    """Decide each landed file's fate in landing order (refused, unchanged, a re-sent
    duplicate, or to be read), read the files to be read (in worker processes when it pays),
    and record every outcome in `result`, in landing order.

    A file with the same bytes as one read tonight waits for that one's outcome: a duplicate
    when it loaded, read on its own when it was quarantined, as reading in order would decide."""
    landing = settings.landing_dir()
    the_salt = salt()
    night = Night()
    decided: list[tuple[int, FileOutcome, int]] = []  # (position, outcome, bytes) not read
    tasks: list[FileTask] = []
    waiting: list[FileTask] = []
    reading: set[str] = set()
    position = 0
    for dataset, files in plan.items():
        for agency_id, path in files:
            position += 1
            relative = _display_name(path, landing)
            refused = refusal(path, landing)
            if refused:
                outcome = FileOutcome(agency_id, dataset, relative, REFUSED_HASH, "quarantined")
                outcome.reason = f"agency {agency_id}, file {relative}: {refused}"
                log.error("%s", outcome.reason)
                decided.append((position, outcome, path.lstat().st_size))
                continue
            # With linked files, the hash covers every file of the delivery (ingestion/linking.py).
            mapping = config.load_mapping(agency_id, dataset)
            links = linked_paths(path, mapping, must_exist=False)
            file_hash = delivery_hash(hashes.sha256(path), links)
            if relative in ledger.get(file_hash, set()):
                result.skipped += 1
                continue
            outcome = FileOutcome(agency_id, dataset, relative, file_hash, "loaded")
            if file_hash in ledger:  # same bytes under another name: a re-sent file
                decided.append((position, _duplicate(outcome, ledger), path.stat().st_size))
                continue
            task = FileTask(
                position,
                path,
                outcome,
                loaded_at,
                result.load_id,
                the_salt,
                previous.for_file(relative),
                staging / f"{position:06d}.parquet",
            )
            (waiting if file_hash in reading else tasks).append(task)
            reading.add(file_hash)
    read = list(process_files(tasks, load_workers(tasks)))
    for done in read:
        _record_read(done, ledger)
    for task in waiting:  # same bytes as a file read tonight
        if task.outcome.file_hash in ledger:
            decided.append((task.index, _duplicate(task.outcome, ledger), task.path.stat().st_size))
        else:
            done = delivery.process_file(task)
            _record_read(done, ledger)
            read.append(done)
    sizes = {task.index: delivery.file_size(task.path) for task in [*tasks, *waiting]}
    everything = sorted(
        [(position, outcome, size) for position, outcome, size in decided]
        + [(done.index, done, sizes[done.index]) for done in read],
        key=lambda item: item[0],
    )
    for _, item, size in everything:
        outcome = item.outcome if isinstance(item, FileResult) else item
        result.files.append(outcome)
        if isinstance(item, FileResult):
            night.results.append(item)
            if item.rejects:
                night.rejects.append(
                    _rejects_table(outcome, item.rejects, loaded_at, result.load_id)
                )
        night.ledger_rows.append(_file_table(outcome, size, loaded_at, result.load_id))
    return night


def _duplicate(outcome: FileOutcome, ledger: dict[str, set[str]]) -> FileOutcome:
    outcome.status = "duplicate"
    outcome.reason = f"identical to {sorted(ledger[outcome.file_hash])[0]}, already loaded; skipped"
    ledger[outcome.file_hash].add(outcome.source_file)
    log.info("%s: %s", outcome.source_file, outcome.reason)
    return outcome


def _record_read(done: FileResult, ledger: dict[str, set[str]]) -> None:
    outcome = done.outcome
    if outcome.trace:
        log.error("%s: unexpected error\n%s", outcome.source_file, outcome.trace)
    if outcome.status != "loaded":
        log.error("%s", outcome.reason)
        return
    ledger.setdefault(outcome.file_hash, set()).add(outcome.source_file)
    log.info(
        "%s: %d rows, %d accepted, %d rejected",
        outcome.source_file,
        outcome.rows_raw,
        outcome.rows_accepted,
        outcome.rows_rejected,
    )


def accepted_rows(dataset: str, night: Night) -> Iterator:
    """The dataset's raw table (its base columns, so it exists before any file), then each read
    file's accepted rows: its Parquet file, taken into the load package as it is."""
    yield empty_raw_table(dataset)
    for done in night.results:
        if done.outcome.dataset == dataset and done.parquet is not None:
            yield dlt.mark.with_file_import(
                str(done.parquet),
                "parquet",
                done.outcome.rows_accepted,
                hints=done.schema.empty_table(),
            )


def ledger_rows(night: Night) -> Iterator:
    """raw.rejects and raw.files (the ledger), committed with the rows they describe."""
    yield dlt.mark.with_table_name(REJECTS_SCHEMA.empty_table(), "rejects")
    yield dlt.mark.with_table_name(FILES_SCHEMA.empty_table(), "files")
    for table in night.rejects:
        yield dlt.mark.with_table_name(table, "rejects")
    for table in night.ledger_rows:
        yield dlt.mark.with_table_name(table, "files")


def value_map_entries(mapping: config.Mapping, fspec: config.FieldSpec) -> dict[str, str]:
    """source value (lower-cased) -> canonical value: domain identities and the usual boolean
    spellings, overridden by the agency's own map."""
    entries = (
        dict(config.BOOLEAN_SPELLINGS) if fspec.type == "boolean" else {v: v for v in fspec.domain}
    )
    entries.update(mapping.values.get(fspec.name, {}))
    return entries


def config_tables(datasets: Iterable[str]) -> dict[str, pa.Table]:
    """Agencies, population and value maps as tables, rebuilt from YAML on every run."""
    agencies, population, value_maps, not_recorded, cadences = [], [], [], [], []
    for agency_id in config.agency_ids():
        agency = config.load_agency(agency_id)
        agencies.append(
            {
                "agency_id": agency.agency_id,
                "agency_name": agency.name,
                "ori": agency.ori,
                "state": agency.state,
                "time_zone": agency.time_zone,
                "latitude": agency.latitude,
                "longitude": agency.longitude,
                "first_year": agency.first_year,
                "reference_group": agency.reference_group,
                "city": agency.city or None,
            }
        )
        for year, groups in sorted(agency.population.items()):
            for group, count in groups.items():
                population.append(
                    {
                        "agency_id": agency_id,
                        "year": year,
                        "subject_race": group,
                        "population": count,
                    }
                )
    for dataset, agency_id in [(d, a) for d in datasets for a in config.onboarded(d)]:
        spec = config.dataset_spec(dataset)
        mapping = config.load_mapping(agency_id, dataset)
        cadences.append(
            {
                "agency_id": agency_id,
                "dataset": dataset,
                "expected_cadence": mapping.expected_cadence,
                "cadence_days": config.CADENCE_DAYS[mapping.expected_cadence],
            }
        )
        not_recorded += [
            {"agency_id": agency_id, "dataset": dataset, "field": name}
            for name in mapping.not_recorded
        ]
        for name, fspec in spec.fields.items():
            if fspec.type not in ("code", "boolean", "list"):  # list: maps apply per element
                continue
            for source_value, canonical in sorted(value_map_entries(mapping, fspec).items()):
                value_maps.append(
                    {
                        "agency_id": agency_id,
                        "dataset": dataset,
                        "field": name,
                        "source_value": source_value,
                        "canonical_value": canonical,
                    }
                )
    return {
        "agencies": pa.Table.from_pylist(
            agencies,
            schema=pa.schema(
                [
                    ("agency_id", pa.string()),
                    ("agency_name", pa.string()),
                    ("ori", pa.string()),
                    ("state", pa.string()),
                    ("time_zone", pa.string()),
                    ("latitude", pa.float64()),
                    ("longitude", pa.float64()),
                    ("first_year", pa.int64()),
                    ("reference_group", pa.string()),
                    ("city", pa.string()),
                ]
            ),
        ),
        "population": pa.Table.from_pylist(
            population,
            schema=pa.schema(
                [
                    ("agency_id", pa.string()),
                    ("year", pa.int64()),
                    ("subject_race", pa.string()),
                    ("population", pa.int64()),
                ]
            ),
        ),
        "cadences": pa.Table.from_pylist(
            cadences,
            schema=pa.schema(
                [
                    ("agency_id", pa.string()),
                    ("dataset", pa.string()),
                    ("expected_cadence", pa.string()),
                    ("cadence_days", pa.int64()),
                ]
            ),
        ),
        "not_recorded": pa.Table.from_pylist(
            not_recorded,
            schema=pa.schema(
                [("agency_id", pa.string()), ("dataset", pa.string()), ("field", pa.string())]
            ),
        ),
        "value_maps": pa.Table.from_pylist(
            value_maps,
            schema=pa.schema(
                [
                    ("agency_id", pa.string()),
                    ("dataset", pa.string()),
                    ("field", pa.string()),
                    ("source_value", pa.string()),
                    ("canonical_value", pa.string()),
                ]
            ),
        ),
    }


def make_pipeline() -> dlt.Pipeline:
    settings.quiet_telemetry()
    if settings.is_postgres():
        destination = dlt.destinations.postgres(settings.postgres_dsn())
    else:
        warehouse = settings.warehouse_path()
        warehouse.parent.mkdir(parents=True, exist_ok=True)
        from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

        # The raw tables' row order is never read (every model orders what it needs), and
        # keeping the order of the files' rows makes DuckDB insert each file's Parquet on fewer
        # threads.
        config = {**settings.duckdb_config(), "preserve_insertion_order": False}
        destination = dlt.destinations.duckdb(
            DuckDbCredentials(str(warehouse), global_config=config)
        )
    settings.data_dir().mkdir(parents=True, exist_ok=True)
    return dlt.pipeline(
        pipeline_name="lantern",
        destination=destination,
        dataset_name="raw",
        pipelines_dir=str(settings.data_dir() / ".dlt"),
        progress="log" if os.environ.get("LANTERN_PROGRESS") else None,
    )


def finish_interrupted_load(pipeline: dlt.Pipeline) -> bool:
    """Load what a killed run left extracted but not loaded, before anything new is read.

    The ledger (raw.files) is committed with the rows it describes, so after this the files of
    the interrupted run count as loaded and are skipped, never read twice. A run killed in the
    middle of dlt's load can have committed a table's rows without dlt recording the job as done;
    dlt then loads that job again, so rows repeated within one load are removed afterwards (a raw
    row is one load's one line of one file: its load id, file hash and line identify it)."""
    if not pipeline.has_pending_data:
        return False
    log.warning("finishing the load of an interrupted run before loading new files")
    if pipeline.list_extracted_load_packages():
        pipeline.normalize()
    pipeline.load()
    from dagster_project import warehouse as wh

    # a row's physical identity: DuckDB's rowid, PostgreSQL's ctid
    rowid = "ctid" if settings.is_postgres() else "rowid"
    with wh.connect() as con:
        tables = {
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'raw'"
            ).fetchall()
        }
        identities = {dataset: "_load_id, _file_hash, _source_row" for dataset in settings.DATASETS}
        identities["rejects"] = "load_id, file_hash, source_row, reason"
        identities["files"] = "load_id, file_hash, source_file"
        for table, identity in identities.items():
            if table not in tables:
                continue
            removed = con.execute(
                f"""
                delete from raw.{quote_ident(table)} where {rowid} in (
                    select {rowid} from (
                        select {rowid}, row_number() over (partition by {identity}) as copy
                        from raw.{quote_ident(table)}
                    ) as copies where copy > 1
                )
                """
            )
            removed = removed.rowcount if settings.is_postgres() else removed.fetchone()[0]
            if removed:
                log.warning(
                    "removed %d rows of raw.%s loaded twice by the resumed load", removed, table
                )
    return True


def ingest(
    datasets: Iterable[str] = settings.DATASETS, agencies: Iterable[str] | None = None
) -> IngestResult:
    """Load every new file of `datasets` (all onboarded agencies, or only `agencies`)."""
    settings.quiet_telemetry()
    datasets = tuple(datasets)
    warehouse = settings.warehouse_path()
    pipeline = make_pipeline()
    finish_interrupted_load(pipeline)
    loaded_at = datetime.now(UTC)
    result = IngestResult(datasets, new_load_id(loaded_at), [], 0, unknown_agency_folders())
    for name in result.unknown_agencies:
        log.warning("landing folder %r has no agency configuration; its files are not loaded", name)
    ledger = loaded_ledger(warehouse)
    plan = {dataset: landed_files(dataset, agencies) for dataset in datasets}
    hashes = FileHashes(settings.data_dir() / HASHES_FILE)
    previous = previous_versions(warehouse, plan, hashes)
    staging = settings.data_dir() / ".load_staging"
    shutil.rmtree(staging, ignore_errors=True)  # an interrupted run's, if any
    remove_dead_spill_folders()
    staging.mkdir(parents=True)
    night = read_night(plan, ledger, result, loaded_at, previous, staging, hashes)

    resources = [
        dlt.resource(
            accepted_rows(dataset, night),
            name=f"delivered_{dataset}",
            table_name=dataset,
            write_disposition="append",
            max_table_nesting=0,
        )
        for dataset in datasets
    ]
    resources.append(
        dlt.resource(
            ledger_rows(night), name="delivered", write_disposition="append", max_table_nesting=0
        )
    )
    for table_name, table in config_tables(datasets).items():
        resources.append(
            dlt.resource(table, name=table_name, write_disposition="replace", max_table_nesting=0)
        )
    # run() in its three steps, so a test can kill the run between them (ingestion/faults.py)
    pipeline.extract(resources)
    shutil.rmtree(staging, ignore_errors=True)  # the package holds its own links to the files
    pipeline.normalize()
    fault_point("load")
    pipeline.load()
    hashes.save()
    return result
