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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import dlt
import pyarrow as pa

from ingestion import config, settings
from ingestion.faults import fault_point
from ingestion.linking import attach_linked, delivery_hash, linked_paths
from ingestion.mapper import ContractViolation, MappedFile, map_file, quote_ident
from ingestion.readers import ParsedFile, UnreadableFile, file_sha256, find_header_row, read_file

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
class FileOutcome:
    agency_id: str
    dataset: str
    source_file: str
    file_hash: str
    status: str  # loaded | quarantined | duplicate
    rows_raw: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    rows_quarantined: int = 0
    reason: str | None = None
    notes: list[str] = field(default_factory=list)
    # records of the previous version of this file (same name) that this version lacks
    records_missing: int | None = None
    source_columns: list[str] | None = None


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


@dataclass
class Previous:
    """What the warehouse already holds that a new file is compared with."""

    # (agency_id, dataset) -> (source_file, header) of the latest loaded file: new and gone columns
    headers: dict[tuple[str, str], tuple[str, list[str]]] = field(default_factory=dict)
    # source_file -> record keys of its latest loaded version, for files delivered again changed
    records: dict[str, tuple[str, list[tuple]]] = field(default_factory=dict)


def previous_versions(warehouse: Path, plan: dict[str, list[tuple[str, Path]]]) -> Previous:
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
                if refusal(path, landing) or file_sha256(path) == old_hash:
                    continue
                rows = con.execute(
                    f"select distinct {', '.join(keys)} from raw.{quote_ident(dataset)} "
                    "where _source_file = ? and _file_hash = ?",
                    [relative, old_hash],
                ).fetchall()
                out.records[relative] = (old_hash, rows)
    return out


def _compare_with_previous(
    outcome: FileOutcome,
    parsed: ParsedFile,
    spec: config.DatasetSpec,
    previous: Previous,
) -> None:
    """Notes for schema drift (columns new or gone since the agency's last file) and, for a file
    re-sent under the same name, the records its previous version had and this one lacks. Those
    are reported and kept: a re-sent export is never read as an instruction to delete."""
    before = previous.headers.get((outcome.agency_id, outcome.dataset))
    if before is not None and before[0] != outcome.source_file:
        old_file, old_header = before
        new = [c for c in parsed.columns if c not in old_header]
        gone = [c for c in old_header if c not in parsed.columns]
        if new:
            outcome.notes.append(
                f"new column(s) since {old_file}: {', '.join(new)} (loaded as src_* columns)"
            )
        if gone:
            outcome.notes.append(
                f"column(s) no longer delivered since {old_file}: {', '.join(gone)}"
            )
    if outcome.source_file not in previous.records:
        return
    old_hash, old_keys = previous.records[outcome.source_file]
    keys = list(spec.record_key)
    con = parsed.con
    old = pa.table(
        {k: pa.array([str(r[i]) if r[i] is not None else None for r in old_keys], pa.string())
         for i, k in enumerate(keys)}
    )  # fmt: skip
    con.register("_previous_keys", old)
    try:
        cols = ", ".join(quote_ident(k) for k in keys)
        missing, examples = con.execute(
            f"""
            with gone as (
                select {cols} from _previous_keys
                except
                select {cols} from mapped
            )
            select count(*), list(concat_ws('/', {cols}) order by {cols})[1:5] from gone
            """
        ).fetchone()
    finally:
        con.unregister("_previous_keys")
    outcome.records_missing = int(missing)
    if missing:
        outcome.notes.append(
            f"shrank: {missing} record(s) of the previous version of this file ({old_hash[:12]}) "
            f"are missing from this one (e.g. {', '.join(examples)}); they are kept, not deleted: "
            "an agency deletes a record by telling the data team, not by leaving it out"
        )


def excel_header_hint(path: Path, mapping: config.Mapping) -> str:
    """For a workbook whose header is not where the mapping says (title rows above it)."""
    wanted = set(mapping.columns.values())
    try:
        row = find_header_row(path, mapping.excel.get("sheet"), wanted)
    except Exception:  # the hint is a courtesy; the quarantine reason stands without it
        return ""
    skip = int(mapping.excel.get("skip_rows", 0) or 0)
    if row is None or row - 1 == skip:
        return ""
    return f"; the header looks like row {row}: set excel: {{skip_rows: {row - 1}}} in the mapping"


def _read_and_map(
    path: Path,
    outcome: FileOutcome,
    spec: config.DatasetSpec,
    previous: Previous,
    loaded_at: datetime,
    load_id: str,
    the_salt: str,
) -> tuple[ParsedFile | None, MappedFile | None]:
    """Read and map one file; on any problem, the outcome says quarantined and why."""
    mapping = config.load_mapping(outcome.agency_id, outcome.dataset)
    where = f"agency {outcome.agency_id}, file {outcome.source_file}"
    parsed = None
    try:
        parsed = read_file(
            path,
            mapping.format,
            encoding=mapping.encoding,
            csv_options=mapping.csv,
            excel_options=mapping.excel,
        )
        outcome.rows_raw = parsed.rows_raw
        outcome.source_columns = [c for c in parsed.columns if c != "_source_row"]
        if parsed.rows_raw == 0:
            raise UnreadableFile("row 1: the file has a header but no records")
        link_notes = attach_linked(parsed, mapping, linked_paths(path, mapping))
        mapped = map_file(
            parsed,
            mapping,
            spec,
            lineage={
                "agency_id": outcome.agency_id,
                "dataset": outcome.dataset,
                "source_file": outcome.source_file,
                "file_hash": outcome.file_hash,
                "loaded_at": loaded_at,
                "load_id": load_id,
            },
            salt=the_salt,
        )
        _compare_with_previous(outcome, parsed, spec, previous)
    except (UnreadableFile, ContractViolation) as exc:
        hint = excel_header_hint(path, mapping) if isinstance(exc, ContractViolation) else ""
        outcome.status, outcome.reason = "quarantined", f"{where}: {exc}{hint}"
    except Exception as exc:  # never let one file crash the night: quarantine it, say why
        log.exception("%s: unexpected error", where)
        outcome.status = "quarantined"
        outcome.reason = f"{where}: could not be processed ({type(exc).__name__}: {exc})"
    else:
        outcome.rows_accepted = mapped.rows_accepted
        outcome.rows_rejected = len(mapped.rejects)
        outcome.notes = link_notes + mapped.notes + parsed.notes + outcome.notes
        return parsed, mapped
    outcome.rows_quarantined = outcome.rows_raw
    log.error("%s", outcome.reason)
    if parsed is not None:
        parsed.con.close()
    return None, None


def delivered_rows(
    dataset: str,
    files: list[tuple[str, Path]],
    ledger: dict[str, set[str]],
    result: IngestResult,
    loaded_at: datetime,
    previous: Previous | None = None,
) -> Iterator:
    spec = config.dataset_spec(dataset)
    landing = settings.landing_dir()
    previous = previous or Previous()
    the_salt = salt()
    yield dlt.mark.with_table_name(empty_raw_table(dataset), dataset)
    yield dlt.mark.with_table_name(REJECTS_SCHEMA.empty_table(), "rejects")
    yield dlt.mark.with_table_name(FILES_SCHEMA.empty_table(), "files")
    for agency_id, path in files:
        relative = _display_name(path, landing)
        refused = refusal(path, landing)
        if refused:
            outcome = FileOutcome(agency_id, dataset, relative, REFUSED_HASH, "quarantined")
            outcome.reason = f"agency {agency_id}, file {relative}: {refused}"
            result.files.append(outcome)
            log.error("%s", outcome.reason)
            yield dlt.mark.with_table_name(
                _file_table(outcome, path.lstat().st_size, loaded_at, result.load_id), "files"
            )
            continue
        # With linked files, the hash covers every file of the delivery (ingestion/linking.py).
        mapping = config.load_mapping(agency_id, dataset)
        file_hash = delivery_hash(file_sha256(path), linked_paths(path, mapping, must_exist=False))
        if relative in ledger.get(file_hash, set()):
            result.skipped += 1
            continue
        outcome = FileOutcome(agency_id, dataset, relative, file_hash, "loaded")
        result.files.append(outcome)
        if file_hash in ledger:  # same bytes under another name: a re-sent file
            outcome.status = "duplicate"
            outcome.reason = f"identical to {sorted(ledger[file_hash])[0]}, already loaded; skipped"
            ledger[file_hash].add(relative)
            log.info("%s: %s", relative, outcome.reason)
            yield dlt.mark.with_table_name(
                _file_table(outcome, path.stat().st_size, loaded_at, result.load_id), "files"
            )
            continue
        parsed, mapped = _read_and_map(
            path, outcome, spec, previous, loaded_at, result.load_id, the_salt
        )
        if mapped is not None:
            try:
                rejects = (
                    _rejects_table(outcome, mapped.rejects, loaded_at, result.load_id)
                    if mapped.rejects
                    else None
                )
                for batch in mapped.batches():
                    yield dlt.mark.with_table_name(batch, dataset)
                if rejects is not None:
                    yield dlt.mark.with_table_name(rejects, "rejects")
            finally:
                parsed.con.close()
            ledger.setdefault(file_hash, set()).add(relative)
            log.info(
                "%s: %d rows, %d accepted, %d rejected",
                relative,
                outcome.rows_raw,
                outcome.rows_accepted,
                outcome.rows_rejected,
            )
        yield dlt.mark.with_table_name(
            _file_table(outcome, path.stat().st_size, loaded_at, result.load_id), "files"
        )


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

        destination = dlt.destinations.duckdb(
            DuckDbCredentials(str(warehouse), global_config=settings.duckdb_config())
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
    previous = previous_versions(warehouse, plan)

    @dlt.resource(name="delivered", write_disposition="append", max_table_nesting=0)
    def delivered():
        for dataset, files in plan.items():
            yield from delivered_rows(dataset, files, ledger, result, loaded_at, previous)

    resources = [delivered]
    for table_name, table in config_tables(datasets).items():
        resources.append(
            dlt.resource(table, name=table_name, write_disposition="replace", max_table_nesting=0)
        )
    # run() in its three steps, so a test can kill the run between them (ingestion/faults.py)
    pipeline.extract(resources)
    pipeline.normalize()
    fault_point("load")
    pipeline.load()
    return result
