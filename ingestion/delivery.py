"""One delivered file, read and mapped (into a Parquet file of its accepted rows, with its
rejects and its outcome): the part of a load that scales with the data, run file by file in
worker processes (pipeline.ingest) or in the loading process itself.

No dlt here: a worker process imports only the readers and the mapper.
"""

from __future__ import annotations

import logging
import os
import traceback
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing import get_context
from pathlib import Path

import pyarrow as pa

from ingestion import config, settings
from ingestion.linking import attach_linked, linked_paths
from ingestion.mapper import ContractViolation, MappedFile, map_file, quote_ident
from ingestion.readers import (
    ParsedFile,
    Reject,
    UnreadableFile,
    csv_layout_hint,
    find_header_row,
    read_file,
)

log = logging.getLogger(__name__)


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
    # an unexpected error's traceback, for the log of the process that records the outcome
    trace: str | None = None


@dataclass
class Previous:
    """What the warehouse already holds that a new file is compared with."""

    # (agency_id, dataset) -> (source_file, header) of the latest loaded file: new and gone columns
    headers: dict[tuple[str, str], tuple[str, list[str]]] = field(default_factory=dict)
    # source_file -> record keys of its latest loaded version, for files delivered again changed
    records: dict[str, tuple[str, list[tuple]]] = field(default_factory=dict)

    def for_file(self, source_file: str) -> Previous:
        """What one file is compared with (a worker is sent only its own file's records)."""
        records = {source_file: self.records[source_file]} if source_file in self.records else {}
        return Previous(self.headers, records)


def compare_with_previous(
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


def header_hint(path: Path, mapping: config.Mapping) -> str:
    """A likely cause of a file's missing columns or unreadable records, as the mapping
    setting to change: a workbook's or a CSV's header below title lines, a CSV's delimiter."""
    try:
        if mapping.format == "excel":
            return _excel_header_hint(path, mapping)
        if mapping.format == "csv":
            return csv_layout_hint(
                path,
                mapping.csv.get("delimiter", ","),
                int(mapping.csv.get("skip_rows", 0) or 0),
                mapping.encoding,
            )
    except Exception:  # the hint is a courtesy; the quarantine reason stands without it
        log.debug("%s: no header hint", path, exc_info=True)
    return ""


def _excel_header_hint(path: Path, mapping: config.Mapping) -> str:
    """For a workbook whose header is not where the mapping says (title rows above it)."""
    row = find_header_row(path, mapping.excel.get("sheet"), set(mapping.columns.values()))
    skip = int(mapping.excel.get("skip_rows", 0) or 0)
    if row is None or row - 1 == skip:
        return ""
    return f"; the header looks like row {row}: set excel: {{skip_rows: {row - 1}}} in the mapping"


def read_with(mapping: config.Mapping, path: Path) -> ParsedFile:
    """A delivered file read in its mapping's format, encoding and dialect."""
    return read_file(
        path,
        mapping.format,
        encoding=mapping.encoding,
        csv_options=mapping.csv,
        excel_options=mapping.excel,
        json_options=mapping.json,
    )


def read_and_map(
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
        parsed = read_with(mapping, path)
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
        compare_with_previous(outcome, parsed, spec, previous)
    except (UnreadableFile, ContractViolation) as exc:
        hint = header_hint(path, mapping)
        outcome.status, outcome.reason = "quarantined", f"{where}: {exc}{hint}"
    except Exception as exc:  # never let one file crash the night: quarantine it, say why
        log.exception("%s: unexpected error", where)
        outcome.trace = traceback.format_exc()
        outcome.status = "quarantined"
        outcome.reason = f"{where}: could not be processed ({type(exc).__name__}: {exc})"
    else:
        outcome.rows_accepted = mapped.rows_accepted
        outcome.rows_rejected = len(mapped.rejects)
        outcome.notes = link_notes + mapped.notes + parsed.notes + outcome.notes
        return parsed, mapped
    outcome.rows_quarantined = outcome.rows_raw
    if parsed is not None:
        parsed.con.close()
    return None, None


@dataclass
class FileTask:
    """One file to read and map, and where to write its accepted rows."""

    index: int
    path: Path
    outcome: FileOutcome
    loaded_at: datetime
    load_id: str
    salt: str
    previous: Previous
    parquet: Path


@dataclass
class FileResult:
    index: int
    outcome: FileOutcome
    rejects: list[Reject]
    parquet: Path | None = None  # the accepted rows (None when there are none)
    schema: pa.Schema | None = None


def process_file(task: FileTask) -> FileResult:
    """Read and map `task`'s file; write its accepted rows, in file order, to `task.parquet`."""
    outcome = task.outcome
    spec = config.dataset_spec(outcome.dataset)
    parsed, mapped = read_and_map(
        task.path, outcome, spec, task.previous, task.loaded_at, task.load_id, task.salt
    )
    if mapped is None:
        return FileResult(task.index, outcome, [])
    try:
        return FileResult(task.index, outcome, mapped.rejects, *_write_accepted(mapped, task))
    finally:
        parsed.con.close()


def _write_accepted(mapped: MappedFile, task: FileTask) -> tuple[Path | None, pa.Schema | None]:
    if not mapped.rows_accepted:
        return None, None
    con = mapped.parsed.con
    accepted = "select * exclude (_reject_reason) from mapped where _reject_reason is null"
    schema = con.execute(f"{accepted} limit 0").fetch_arrow_table().schema
    target = str(task.parquet).replace("'", "''")
    con.execute(f"copy ({accepted} order by _source_row) to '{target}' (format parquet)")
    return task.parquet, schema


# What reading and mapping a file holds in memory per byte of the file, by its mapping's format,
# beyond the worker's own ~0.25 GB (peak resident memory of one file read in a fresh process, at
# 10 million stops): CSV 9 (a wide 274 MB stops file, 2.5 GB) to 20 (a narrow 10 MB one; DuckDB
# keeps every value as its own string, so narrow rows cost more per byte); JSON lines 4.7 (377 MB)
# to 5.6 (225 MB), since DuckDB parses them; an Excel workbook 37 to 39 (its XML is compressed,
# and every cell becomes a Python object: 60 MB, 2.3 GB). A JSON document 8.5 (read whole by
# Python's json module: a 35 MB array of Seattle's Terry stops, 0.29 GB), counted as 12.
# Parquet: not measured, as a wide CSV.
MEMORY_PER_BYTE = {"csv": 20, "jsonl": 6, "json": 12, "excel": 40, "parquet": 10}


def expected_memory(task: FileTask) -> int:
    """Bytes that reading and mapping the task's file is expected to hold at most."""
    try:
        fmt = config.load_mapping(task.outcome.agency_id, task.outcome.dataset).format
    except Exception:  # the read reports a broken mapping; here, assume the costliest format
        fmt = "excel"
    return file_size(task.path) * MEMORY_PER_BYTE.get(fmt, MEMORY_PER_BYTE["excel"])


def next_to_start(
    pending: Sequence[int], needs: dict[int, int], running: int, budget: int
) -> int | None:
    """Which of the `pending` files (largest expected memory first) starts now that a worker is
    free, with `running` bytes expected of the files being read: the largest that fits the
    budget beside them, or with nothing running the largest, alone if it must be; None: wait for
    a file to finish."""
    if not pending:
        return None
    if not running:
        return pending[0]
    return next((i for i in pending if running + needs[i] <= budget), None)


def process_files(tasks: Sequence[FileTask], workers: int) -> Iterator[FileResult]:
    """Every task's result, in task order: in this process (`workers` 0), or in that many
    spawned worker processes, each file in one of them. A free worker starts the file with the
    largest expected memory (`expected_memory`) that fits, together with the files being read,
    one and a half times the memory limit (settings.duckdb_memory_bytes); a file too large to
    share it is read alone. A worker's DuckDB gets its share of the limit."""
    if workers < 1 or len(tasks) < 2:
        yield from map(process_file, tasks)
        return
    budget = settings.duckdb_memory_bytes() * 3 // 2
    share = f"{max(settings.duckdb_memory_bytes() // workers, 256 * 2**20) // 2**20}MB"
    needs = {task.index: expected_memory(task) for task in tasks}
    by_index = {task.index: task for task in tasks}
    pending = sorted(by_index, key=lambda i: (-needs[i], i))
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=get_context("spawn"),
        initializer=_init_worker,
        initargs=(share,),
    ) as pool:
        futures, running = {}, {}
        while pending:
            start = (
                next_to_start(pending, needs, sum(running.values()), budget)
                if len(running) < workers
                else None
            )
            if start is None:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    del running[future]
                continue
            pending.remove(start)
            future = pool.submit(process_file, by_index[start])
            futures[start] = future
            running[future] = needs[start]
        for task in tasks:
            yield futures[task.index].result()


def _init_worker(memory_limit: str) -> None:
    os.environ["LANTERN_DUCKDB_MEMORY_LIMIT"] = memory_limit


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
