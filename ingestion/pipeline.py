"""The dlt pipeline: every agency's delivered files for one dataset into `raw.<dataset>`.

One resource walks the landing zone and, file by file, yields the accepted rows (Arrow record
batches: dlt's fast path; dict rows cost ~200x here, STACK-NOTES.md), the rejected rows and the
file's ledger row, each to its own table. Handling one file at a time keeps memory flat whatever
the number of files. Configuration tables (value maps, agencies, population) are replaced on
every run from the agencies' YAML, so a corrected mapping applies to all history in dbt.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import dlt
import duckdb
import pyarrow as pa

from ingestion import config, settings
from ingestion.linking import attach_linked, delivery_hash, linked_paths
from ingestion.mapper import ContractViolation, map_file
from ingestion.readers import UnreadableFile, file_sha256, read_file

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
        ("loaded_at", pa.timestamp("us", tz="UTC")),
        ("load_id", pa.string()),
    ]
)


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
            resolved = path.resolve()
            if not path.is_file() or path.name.startswith("."):
                continue
            if landing not in resolved.parents:
                log.warning("ignoring %s: it points outside the landing zone", path)
                continue
            out.append((agency_id, path))
    return out


def unknown_agency_folders() -> list[str]:
    landing = settings.landing_dir()
    if not landing.is_dir():
        return []
    known = set(config.agency_ids()) | set(config.reference_sources())
    return sorted(p.name for p in landing.iterdir() if p.is_dir() and p.name not in known)


def loaded_ledger(warehouse: Path) -> dict[str, set[str]]:
    """file_hash -> source files already recorded as loaded or duplicate."""
    if not warehouse.exists():
        return {}
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
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
    finally:
        con.close()


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


def delivered_rows(
    dataset: str,
    files: list[tuple[str, Path]],
    ledger: dict[str, set[str]],
    result: IngestResult,
    loaded_at: datetime,
) -> Iterator:
    spec = config.dataset_spec(dataset)
    landing = settings.landing_dir()
    the_salt = salt()
    yield dlt.mark.with_table_name(empty_raw_table(dataset), dataset)
    yield dlt.mark.with_table_name(REJECTS_SCHEMA.empty_table(), "rejects")
    yield dlt.mark.with_table_name(FILES_SCHEMA.empty_table(), "files")
    for agency_id, path in files:
        relative = path.relative_to(landing).as_posix()
        mapping = config.load_mapping(agency_id, dataset)
        # With linked files, the hash covers every file of the delivery (ingestion/linking.py).
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
        try:
            parsed = read_file(
                path,
                mapping.format,
                encoding=mapping.encoding,
                csv_options=mapping.csv,
                excel_options=mapping.excel,
            )
        except UnreadableFile as exc:
            outcome.status, outcome.reason = "quarantined", f"{relative}: {exc}"
            log.error("agency %s, file %s: %s", agency_id, relative, exc)
        else:
            try:
                link_notes = attach_linked(parsed, mapping, linked_paths(path, mapping))
                mapped = map_file(
                    parsed,
                    mapping,
                    spec,
                    lineage={
                        "agency_id": agency_id,
                        "dataset": dataset,
                        "source_file": relative,
                        "file_hash": file_hash,
                        "loaded_at": loaded_at,
                        "load_id": result.load_id,
                    },
                    salt=the_salt,
                )
            except ContractViolation as exc:
                outcome.status = "quarantined"
                outcome.reason = f"{relative}: {exc}"
                outcome.rows_raw = outcome.rows_quarantined = parsed.rows_raw
                log.error("agency %s, file %s: %s", agency_id, relative, exc)
            else:
                outcome.rows_raw = parsed.rows_raw
                outcome.rows_accepted = mapped.rows_accepted
                outcome.rows_rejected = len(mapped.rejects)
                outcome.notes = link_notes + mapped.notes + parsed.notes
                for batch in mapped.batches():
                    yield dlt.mark.with_table_name(batch, dataset)
                if mapped.rejects:
                    yield dlt.mark.with_table_name(
                        _rejects_table(outcome, mapped.rejects, loaded_at, result.load_id),
                        "rejects",
                    )
                ledger.setdefault(file_hash, set()).add(relative)
                log.info(
                    "%s: %d rows, %d accepted, %d rejected",
                    relative,
                    outcome.rows_raw,
                    outcome.rows_accepted,
                    outcome.rows_rejected,
                )
            finally:
                parsed.con.close()
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
    agencies, population, value_maps, not_recorded = [], [], [], []
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
    warehouse = settings.warehouse_path()
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    return dlt.pipeline(
        pipeline_name="lantern",
        destination=dlt.destinations.duckdb(str(warehouse)),
        dataset_name="raw",
        pipelines_dir=str(settings.data_dir() / ".dlt"),
        progress="log" if os.environ.get("LANTERN_PROGRESS") else None,
    )


def ingest(
    datasets: Iterable[str] = settings.DATASETS, agencies: Iterable[str] | None = None
) -> IngestResult:
    """Load every new file of `datasets` (all onboarded agencies, or only `agencies`)."""
    settings.quiet_telemetry()
    datasets = tuple(datasets)
    warehouse = settings.warehouse_path()
    loaded_at = datetime.now(UTC)
    result = IngestResult(datasets, new_load_id(loaded_at), [], 0, unknown_agency_folders())
    for name in result.unknown_agencies:
        log.warning("landing folder %r has no agency configuration; its files are not loaded", name)
    ledger = loaded_ledger(warehouse)
    plan = {dataset: landed_files(dataset, agencies) for dataset in datasets}

    @dlt.resource(name="delivered", write_disposition="append", max_table_nesting=0)
    def delivered():
        for dataset, files in plan.items():
            yield from delivered_rows(dataset, files, ledger, result, loaded_at)

    resources = [delivered]
    for table_name, table in config_tables(datasets).items():
        resources.append(
            dlt.resource(table, name=table_name, write_disposition="replace", max_table_nesting=0)
        )
    make_pipeline().run(resources)
    return result
