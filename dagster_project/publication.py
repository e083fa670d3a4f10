"""Open-data releases: Parquet + CSV of the public marts, a Frictionless data dictionary, checks,
checksums; switched to `current` only once complete (DESIGN.md section 7).

Pure library code (no Dagster): the publish asset calls `publish_release` after the quality gate.

Layout of `publish_dir`:
    <release_id>/            one complete release (never modified after the switch):
        data/<table>.parquet, data/<table>.csv           a table in one file pair
        data/<table>/<agency>-<year>.parquet, .csv       a fact published in parts (`Parts`)
    current -> <release_id>  relative symlink, replaced atomically
    .staging-<release_id>/   a release being written; removed if anything fails
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from dagster_project import warehouse
from ingestion import settings
from ingestion.faults import fault_point

log = logging.getLogger(__name__)

CURRENT = "current"
STAGING_PREFIX = ".staging-"
DATAPACKAGE = "datapackage.json"
CHECKS = "checks.json"
RELEASE = "release.json"
SHA256SUMS = "SHA256SUMS"
DATA_DIR = "data"
DEFAULT_KEEP = 7

# Frictionless resource names: lowercase alphanumerics with '.', '_', '-' (Data Package v1).
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_RELEASE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class PublicationError(RuntimeError):
    """A release was refused or failed; `current` still points at the previous release."""


@dataclass(frozen=True)
class Parts:
    """A large fact published as one Parquet and CSV pair per agency (and year of `year_of`):
    `data/<table>/<agency>-<year>.parquet` (`<agency>.parquet` without `year_of`). A night that
    adds a day of one agency's records rewrites that agency-year's files and hard-links the
    others from the earlier release, so its cost follows one agency's year, not all history.
    A part's name is the agency id in lowercase with anything but `a-z0-9_.` as `_` (`unknown`
    when missing) and the year (`undated` when the date is missing); a table with no rows is
    one empty part, `empty`, so a reader's glob always finds its columns. Declared in dbt as
    the model's `meta: {publish_parts: {by: agency_id, year_of: <date column>}}`."""

    by: str = "agency_id"
    year_of: str | None = None

    @classmethod
    def from_meta(cls, meta: dict[str, Any] | None) -> Parts | None:
        spec = (meta or {}).get("publish_parts")
        if spec is None:
            return None
        if not isinstance(spec, dict) or set(spec) - {"by", "year_of"}:
            raise PublicationError(
                f"publish_parts must be a mapping with `by` and optionally `year_of`, not {spec!r}"
            )
        return cls(str(spec.get("by", "agency_id")), spec.get("year_of"))

    def key_sql(self) -> str:
        """The part a published row goes to, over the published columns."""
        agency = (
            "coalesce(nullif(regexp_replace(lower(cast("
            f"{_quote(self.by)} as varchar)), '[^a-z0-9_.]+', '_', 'g'), ''), 'unknown')"
        )
        if self.year_of is None:
            return agency
        year = f"coalesce(cast(year({_quote(self.year_of)}) as varchar), 'undated')"
        return f"{agency} || '-' || {year}"


EMPTY_PART = "empty"


def part_agency(agency_id: str | None) -> str:
    """The agency's name in its parts' file names (Parts.key_sql, in Python)."""
    name = re.sub(r"[^a-z0-9_.]+", "_", str(agency_id).lower()) if agency_id is not None else ""
    return name or "unknown"


def agency_parts(folder: Path, agency_id: str, fmt: str = "parquet") -> list[Path]:
    """One agency's parts of a table published in parts (`<agency>-<year>` or `<agency>`)."""
    name = part_agency(agency_id)
    return sorted(
        p for p in Path(folder).glob(f"*.{fmt}") if p.stem == name or p.stem.startswith(f"{name}-")
    )


@dataclass(frozen=True)
class PublicTable:
    """A public mart as dbt documents it; only the documented columns are published."""

    schema: str
    name: str
    description: str
    columns: dict[str, str] = field(default_factory=dict)  # column -> description
    parts: Parts | None = None  # published in parts by agency (and year), not as one file

    @property
    def relation(self) -> str:
        return f"{_quote(self.schema)}.{_quote(self.name)}"


@dataclass(frozen=True)
class Release:
    release_id: str
    path: Path
    created_at: datetime
    row_counts: dict[str, int]
    files: list[str]  # paths relative to `path`, SHA256SUMS included


@dataclass(frozen=True)
class Reuse:
    """What a release may take from an earlier one instead of exporting again: hard links to the
    earlier release's files of a table whose published rows are the same (the same content
    fingerprint, recorded in each release.json), and, with `changed` given, of every table not
    in it without looking (a quiet or narrow night, which rebuilt only the tables in `changed`;
    dagster_project/defs/automation.py). A table whose columns or types differ from the earlier
    release's is exported anyway."""

    release: Path
    changed: frozenset[str] | None = None


def new_release_id(now: datetime | None = None) -> str:
    """UTC `YYYYMMDDTHHMMSSffffffZ`: sorts in time order and is unique per microsecond."""
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def personal_column_hits(
    tables: Iterable[PublicTable], personal_columns: Iterable[str]
) -> list[tuple[str, str]]:
    """(table, column) pairs that would publish personal data: a column named like a personal
    field or ending in one (`primary_officer_id`), case-insensitively. Salted hashes are named
    `<field>_hash` (ingestion/CONTRACT.md), so they do not match."""
    personal = {p.lower() for p in personal_columns if p}
    return [
        (f"{table.schema}.{table.name}", column)
        for table in tables
        for column in table.columns
        if any(column.lower().endswith(p) for p in personal)
    ]


def publish_release(
    warehouse_path: Path,
    publish_dir: Path,
    tables: list[PublicTable],
    checks: list[dict],
    *,
    release_id: str | None = None,
    personal_columns: set[str],
    keep: int = DEFAULT_KEEP,
    extras: Sequence[Callable[[Path], object]] = (),
    reuse: Reuse | None = None,
) -> Release:
    """Export `tables` from the warehouse into a new release and make it `current`.

    With `reuse`, unchanged tables' files are hard links to the earlier release's (same bytes,
    no export, no re-hashing), so a release on a night with no new data costs seconds at any
    history size.

    Each of `extras` is called with the staging folder once the data, checks and release.json
    are written and before the checksums are taken (the annual reports, dagster_project/reports.py),
    so what it writes is part of the release and a failure in it fails the release.

    Refuses (PublicationError, nothing written) when a table would publish a personal column.
    Any failure while writing removes the staging folder and leaves `current` as it was. After
    the switch, only the newest `keep` releases are kept (the current one never goes).
    """
    warehouse_path, publish_dir = Path(warehouse_path), Path(publish_dir)
    created_at = datetime.now(UTC)
    release_id = release_id or new_release_id(created_at)
    _check_request(tables, personal_columns, release_id, keep)
    if not settings.is_postgres() and not warehouse_path.exists():
        raise PublicationError(f"warehouse {warehouse_path} does not exist")

    publish_dir.mkdir(parents=True, exist_ok=True)
    with _publishing_lock(publish_dir):
        return _publish_locked(
            warehouse_path,
            publish_dir,
            tables,
            checks,
            release_id,
            created_at,
            personal_columns,
            keep,
            extras,
            reuse,
        )


@contextmanager
def _publishing_lock(publish_dir: Path) -> Iterator[None]:
    """One publisher at a time. The lock is the kernel's (flock): a killed publisher releases it
    by dying, so whoever holds it knows every other staging folder is a dead run's leftovers."""
    descriptor = os.open(publish_dir, os.O_RDONLY)  # the folder itself: no lock file to publish
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def _publish_locked(
    warehouse_path: Path,
    publish_dir: Path,
    tables: list[PublicTable],
    checks: list[dict],
    release_id: str,
    created_at: datetime,
    personal_columns: set[str],
    keep: int,
    extras: Sequence[Callable[[Path], object]],
    reuse: Reuse | None,
) -> Release:
    final = publish_dir / release_id
    staging = publish_dir / f"{STAGING_PREFIX}{release_id}"
    if final.exists() or staging.exists():
        raise PublicationError(f"release {release_id} already exists in {publish_dir}")
    _remove_stale_staging(publish_dir)

    try:
        row_counts = _write_release(
            staging,
            warehouse_path,
            tables,
            checks,
            release_id,
            created_at,
            personal_columns,
            extras,
            reuse,
        )
        files = sorted(_release_files(staging))
        os.rename(staging, final)
        _fsync_dir(publish_dir)
    except BaseException as exc:  # KeyboardInterrupt too: never leave a half release behind
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, PublicationError) or not isinstance(exc, Exception):
            raise
        raise PublicationError(f"release {release_id} failed while writing: {exc}") from exc

    try:
        _switch_current(publish_dir, release_id)
    except Exception as exc:
        # Never current, so nobody reads it; keeping it would only confuse retention.
        shutil.rmtree(final, ignore_errors=True)
        raise PublicationError(f"release {release_id} written but not switched: {exc}") from exc

    log.info("published release %s (%s)", release_id, row_counts)
    prune_releases(publish_dir, keep)
    return Release(release_id, final, created_at, row_counts, files)


def current_release(publish_dir: Path) -> Path | None:
    """The release `current` points at, or None before the first release."""
    link = Path(publish_dir) / CURRENT
    if not link.is_symlink():
        return None
    target = link.resolve()
    return target if target.is_dir() else None


def verify_release(path: Path) -> list[str]:
    """Problems found in a release: files the data package or SHA256SUMS lists that are missing or
    differ (bytes, sha256), and files neither lists. An empty list means the release is intact."""
    path = Path(path)
    problems: list[str] = []
    actual = _release_files(path)

    sums_path = path / SHA256SUMS
    listed: dict[str, str] = {}
    if not sums_path.is_file():
        problems.append(f"{SHA256SUMS} is missing")
    else:
        for number, line in enumerate(sums_path.read_text(encoding="utf-8").splitlines(), 1):
            digest, sep, name = line.partition("  ")
            if not sep or not re.fullmatch(r"[0-9a-f]{64}", digest):
                problems.append(f"{SHA256SUMS} line {number} is malformed: {line!r}")
                continue
            listed[name] = digest
        for name, digest in listed.items():
            file = _inside(path, name)
            if file is None or not file.is_file():
                problems.append(f"{name}: listed in {SHA256SUMS} but missing")
            elif file_sha256(file, trust_known=False) != digest:
                problems.append(f"{name}: checksum mismatch")
        for name in sorted(actual - set(listed) - {SHA256SUMS}):
            problems.append(f"{name}: not listed in {SHA256SUMS}")

    package_path = path / DATAPACKAGE
    if not package_path.is_file():
        problems.append(f"{DATAPACKAGE} is missing")
        return problems
    try:
        package = json.loads(package_path.read_text(encoding="utf-8"))
        resources = package["resources"]
    except (ValueError, KeyError, TypeError) as exc:
        problems.append(f"{DATAPACKAGE} is unreadable: {exc}")
        return problems
    for resource in resources:
        name = resource.get("path")
        file = _inside(path, name) if isinstance(name, str) else None
        if file is None or not file.is_file():
            problems.append(f"{name}: listed in {DATAPACKAGE} but missing")
            continue
        if resource.get("bytes") is not None and file.stat().st_size != resource["bytes"]:
            problems.append(f"{name}: size differs from {DATAPACKAGE}")
        expected = resource.get("hash")
        if expected is not None and f"sha256:{file_sha256(file, trust_known=False)}" != expected:
            problems.append(f"{name}: hash differs from {DATAPACKAGE}")
    return problems


def prune_releases(publish_dir: Path, keep: int = DEFAULT_KEEP) -> list[Path]:
    """Delete all but the newest `keep` releases, never the current one; returns what went.

    Only folders holding a release.json count as releases, so nothing else is ever touched."""
    if keep < 1:
        raise ValueError("keep must be at least 1")
    publish_dir = Path(publish_dir)
    current = current_release(publish_dir)
    releases = sorted(
        (p for p in publish_dir.iterdir() if _is_release(p)),
        key=_release_sort_key,
        reverse=True,
    )
    removed = []
    for old in releases[keep:]:
        if current is not None and old.resolve() == current:
            continue
        shutil.rmtree(old)
        removed.append(old)
    if removed:
        log.info("removed old releases: %s", ", ".join(p.name for p in removed))
    return removed


# --- writing -------------------------------------------------------------------------------


def _check_request(
    tables: Sequence[PublicTable], personal_columns: set[str], release_id: str, keep: int
) -> None:
    if keep < 1:
        raise PublicationError("keep must be at least 1")
    if not _RELEASE_ID_RE.match(release_id) or release_id == CURRENT:
        raise PublicationError(f"invalid release id {release_id!r}")
    if not tables:
        raise PublicationError("no tables to publish")
    names = [t.name for t in tables]
    for name in names:
        if not _NAME_RE.match(name):
            raise PublicationError(f"table name {name!r} is not a valid resource name")
        if names.count(name) > 1:
            raise PublicationError(f"two public tables are named {name!r}")
    _guard_privacy(tables, personal_columns)


def _guard_privacy(tables: Iterable[PublicTable], personal_columns: set[str]) -> None:
    hits = personal_column_hits(tables, personal_columns)
    if hits:
        listed = ", ".join(f"{table}.{column}" for table, column in hits)
        raise PublicationError(f"refusing to publish personal data: {listed}")


def _write_release(
    root: Path,
    warehouse_path: Path,
    tables: Sequence[PublicTable],
    checks: list[dict],
    release_id: str,
    created_at: datetime,
    personal_columns: set[str],
    extras: Sequence[Callable[[Path], object]] = (),
    reuse: Reuse | None = None,
) -> dict[str, int]:
    row_counts: dict[str, int] = {}
    fingerprints: dict[str, str] = {}
    parts: dict[str, dict[str, str]] = {}  # table published in parts -> part -> fingerprint
    earlier = _Earlier(reuse)
    schemas: dict[str, list[dict[str, Any]]] = {}
    # One read-only connection for the export, closed before anything else happens: a held
    # DuckDB connection blocks every other process's writer (STACK-NOTES.md). A PostgreSQL
    # warehouse's public tables are copied into an in-memory DuckDB first, so the same writer
    # makes the same files (dagster_project/warehouse.py).
    with contextlib.ExitStack() as stack:
        if settings.is_postgres():
            con = stack.enter_context(
                warehouse.duckdb_copy([(table.schema, table.name) for table in tables])
            )
        else:
            con = duckdb.connect(
                str(warehouse_path), read_only=True, config=settings.duckdb_config()
            )
            stack.callback(con.close)
        resolved: list[tuple[PublicTable, dict[str, str]]] = []
        for table in tables:
            types = _table_columns(con, table)
            full = PublicTable(
                table.schema,
                table.name,
                table.description,
                {name: table.columns.get(name, "") for name in types},
                table.parts,
            )
            unpublished = (
                [c for c in (table.parts.by, table.parts.year_of) if c and c not in types]
                if table.parts
                else []
            )
            if unpublished:
                raise PublicationError(
                    f"{table.schema}.{table.name} is published in parts by {unpublished}, "
                    "which it does not publish"
                )
            resolved.append((full, types))
        # Undocumented tables publish all their columns: check the real names too, still
        # before the first byte is written.
        _guard_privacy([full for full, _ in resolved], personal_columns)

        data = root / DATA_DIR
        data.mkdir(parents=True)
        # CSV timestamps with time zone render in UTC (+00), whatever the machine's zone is.
        con.execute("SET TimeZone = 'UTC'")
        # A file's rows come in no particular order (the fingerprint ignores it); unordered,
        # DuckDB writes a CSV on every core (10 million stops: 11.7 s instead of 18.7 s).
        con.execute("SET preserve_insertion_order = false")
        for number, (full, types) in enumerate(resolved):
            if number == len(resolved) // 2:
                fault_point("publish")  # half the tables written (tests/faults/)
            schemas[full.name] = [
                _frictionless_field(name, types[name], full.columns[name]) for name in types
            ]
            if full.parts is not None:
                parts[full.name] = _publish_parts(con, full, schemas[full.name], earlier, data)
                row_counts[full.name], fingerprints[full.name] = _table_print(parts[full.name])
                continue
            fingerprints[full.name] = earlier.carried_fingerprint(full.name) or content_fingerprint(
                con, full
            )
            linked = earlier.link(full.name, schemas[full.name], data, fingerprints[full.name])
            row_counts[full.name] = linked if linked is not None else export_table(con, full, data)

    _write_json(root / CHECKS, checks)
    _write_json(
        root / RELEASE,
        {
            "release_id": release_id,
            "created_at": _iso(created_at),
            "tables": [f"{t.schema}.{t.name}" for t in tables],
            "row_counts": row_counts,
            "fingerprints": fingerprints,
            "parts": parts,
        },
    )
    for extra in extras:
        extra(root)
    _write_json(root / DATAPACKAGE, _datapackage(root, tables, schemas, release_id, created_at))
    _write_sha256sums(root)
    return row_counts


class _Earlier:
    """The earlier release a new one reuses files from (publish_release's `reuse`)."""

    def __init__(self, reuse: Reuse | None):
        self.reuse = reuse
        self.row_counts: dict[str, int] = {}
        self.fingerprints: dict[str, str] = {}
        self.fields: dict[str, list] = {}
        self.parts: dict[str, dict[str, str]] = {}
        if reuse is None:
            return
        try:
            manifest = json.loads((reuse.release / RELEASE).read_text())
            self.row_counts = manifest["row_counts"]
            self.fingerprints = manifest.get("fingerprints") or {}
            self.parts = manifest.get("parts") or {}
            package = json.loads((reuse.release / DATAPACKAGE).read_text())
            self.fields = {
                r.get(TABLE_PROPERTY, r["name"]): r["schema"]["fields"]
                for r in package["resources"]
                if r.get("profile") == "tabular-data-resource"
            }
            _remember_hashes(reuse.release)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("release %s not reusable (%s): every table exported", reuse.release, exc)
            self.reuse = None

    def carried_fingerprint(self, name: str) -> str | None:
        """The earlier release's fingerprint of a table outside `changed` (taken as it is,
        without a scan), or None: the table's rows are fingerprinted."""
        if self.reuse is None or self.reuse.changed is None or name in self.reuse.changed:
            return None
        return self.fingerprints.get(name)

    def link(self, name: str, fields: list, data_dir: Path, fingerprint: str) -> int | None:
        """Hard-link `name`'s Parquet and CSV from the earlier release when its rows are the
        same (the same fingerprint, or a table outside `changed`) and its fields too; returns
        its row count, or None to export it."""
        if self.reuse is None:
            return None
        allowed = self.fingerprints.get(name) == fingerprint or (
            self.reuse.changed is not None and name not in self.reuse.changed
        )
        if not allowed or name not in self.row_counts or self.fields.get(name) != fields:
            return None
        if not _link_pair(self.reuse.release / DATA_DIR / name, data_dir):
            return None
        return int(self.row_counts[name])

    def carried_parts(self, name: str, fields: list) -> dict[str, str] | None:
        """The earlier release's parts of a table outside `changed` with the same fields (taken
        as they are, without a scan), or None: the table's parts are fingerprinted."""
        if self.reuse is None or self.reuse.changed is None or name in self.reuse.changed:
            return None
        if name not in self.parts or self.fields.get(name) != fields:
            return None
        return dict(self.parts[name])

    def link_part(self, name: str, part: str, fingerprint: str, fields: list, folder: Path) -> bool:
        """Hard-link one part's Parquet and CSV from the earlier release when its rows and the
        table's fields are the same; False: export it."""
        if self.reuse is None or self.parts.get(name, {}).get(part) != fingerprint:
            return False
        if self.fields.get(name) != fields:
            return False
        return _link_pair(self.reuse.release / DATA_DIR / name / part, folder)


def _publish_parts(
    con: duckdb.DuckDBPyConnection,
    table: PublicTable,
    fields: list,
    earlier: _Earlier,
    data: Path,
) -> dict[str, str]:
    """Write (or link) the parts of a table published in parts; returns part -> fingerprint."""
    folder = data / table.name
    folder.mkdir()
    prints = earlier.carried_parts(table.name, fields)
    if prints is None:
        prints = part_fingerprints(con, table)
    changed = [p for p in prints if not earlier.link_part(table.name, p, prints[p], fields, folder)]
    if changed:
        export_parts(con, table, folder, changed, everything=len(changed) == len(prints))
    if not prints:  # no rows: one empty part keeps the table's columns readable
        _copy_formats(con, f"{_published_select(table)} where false", folder / EMPTY_PART)
    log.info(
        "%s: %d parts, %d written, %d linked from the earlier release",
        table.name,
        len(prints),
        len(changed),
        len(prints) - len(changed),
    )
    return prints


def _table_print(prints: dict[str, str]) -> tuple[int, str]:
    """Rows and the table's fingerprint (content_fingerprint's) from its parts'."""
    rows = total = 0
    for value in prints.values():
        count, _, summed = value.partition(":")
        rows, total = rows + int(count), total + int(summed)
    return rows, f"{rows}:{total}"


def part_fingerprints(con: duckdb.DuckDBPyConnection, table: PublicTable) -> dict[str, str]:
    """Part -> content_fingerprint of its rows, in one scan of the table."""
    assert table.parts is not None
    rows = con.execute(
        f"select {table.parts.key_sql()} as part, count(*), sum(hash(published)::hugeint)"
        f" from ({_published_select(table)}) as published group by part order by part"
    ).fetchall()
    return {part: f"{count}:{total or 0}" for part, count, total in rows}


def export_parts(
    con: duckdb.DuckDBPyConnection,
    table: PublicTable,
    folder: Path,
    parts: list[str],
    everything: bool = False,
) -> None:
    """Write `folder/<part>.parquet` and `.csv` of the listed parts: one scan per format for up
    to PARTS_PER_SCAN parts, DuckDB splitting the rows by part (a numbered partition column,
    which it leaves out of the files). Past DuckDB's limit of open files in one partitioned
    write (100) a part would come out as several files, so more parts take more scans."""
    assert table.parts is not None
    staging = folder.parent / f".parts-{table.name}"
    staging.mkdir()
    try:
        for start in range(0, len(parts), PARTS_PER_SCAN):
            chunk = parts[start : start + PARTS_PER_SCAN]
            listed = "[" + ", ".join(sql_literal(p) for p in chunk) + "]"
            number = f"list_position({listed}, {table.parts.key_sql()})"
            where = (
                "" if everything and len(chunk) == len(parts) else f" where {number} is not null"
            )
            select = (
                f"select *, {number} as {_PART_COLUMN} from ({_published_select(table)})"
                f" as published{where}"
            )
            for fmt, options in _COPY_OPTIONS.items():
                target = staging / f"{start}-{fmt}"
                con.execute(
                    f"copy ({select}) to {sql_literal(target)}"
                    f" ({options}, partition_by ({_PART_COLUMN}))"
                )
                for index, part in enumerate(chunk, 1):
                    written = sorted((target / f"{_PART_COLUMN}={index}").glob(f"*.{fmt}"))
                    if len(written) != 1:
                        raise PublicationError(
                            f"{table.name}: part {part} came out as {len(written)} {fmt} files"
                        )
                    os.replace(written[0], folder / f"{part}.{fmt}")
    finally:
        shutil.rmtree(staging, ignore_errors=True)


PARTS_PER_SCAN = 64
FORMATS = ("parquet", "csv")
_COPY_OPTIONS = {"parquet": "format parquet, compression zstd", "csv": "format csv, header true"}
_PART_COLUMN = "lantern_part_number"
# datapackage.json: the table a part's resources belong to, and the part
TABLE_PROPERTY = "lantern:table"
PART_PROPERTY = "lantern:part"


def table_files(release: Path, table: str, fmt: str = "parquet") -> list[Path]:
    """The files of one published table in a release: `data/<table>.<fmt>`, or its parts in
    name order (an empty list when the release has neither)."""
    single = Path(release) / DATA_DIR / f"{table}.{fmt}"
    if single.is_file():
        return [single]
    return sorted((Path(release) / DATA_DIR / table).glob(f"*.{fmt}"))


def published_tables(release: Path, fmt: str = "parquet") -> dict[str, list[Path]]:
    """Every table of a release -> its `fmt` files: `data/<table>.<fmt>`, or its parts in name
    order."""
    data = Path(release) / DATA_DIR
    out = {p.stem: [p] for p in data.glob(f"*.{fmt}")}
    for folder in data.iterdir():
        if folder.is_dir() and not folder.name.startswith("."):
            out[folder.name] = sorted(folder.glob(f"*.{fmt}"))
    return dict(sorted(out.items()))


def _link_pair(stem: Path, folder: Path) -> bool:
    """Link `stem.parquet` and `stem.csv` of an earlier release into `folder`; False (nothing
    linked) when either is missing."""
    sources = [stem.with_name(f"{stem.name}.{fmt}") for fmt in FORMATS]
    if not all(source.is_file() for source in sources):
        return False
    for source in sources:
        _link_or_copy(source, folder / source.name)
    return True


def _link_or_copy(source: Path, target: Path) -> None:
    """A hard link to a file of an earlier release (same bytes, no space); a copy across file
    systems."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


# The files every release writes itself; whatever else it holds (the annual reports, the
# narratives) an extra wrote, and `carry_files` can take over from an earlier release.
_FIXED_FILES = frozenset({CHECKS, RELEASE, DATAPACKAGE, SHA256SUMS})


def carry_files(earlier: Path) -> Callable[[Path], None]:
    """An extra (publish_release's `extras`) that hard-links every file of the `earlier` release
    outside data/ and the fixed files: a quiet night's annual reports and narratives, made from
    the same tables (each report names the release it was made in)."""

    def carry(root: Path) -> None:
        for relative in sorted(_release_files(earlier) - _FIXED_FILES):
            if relative.startswith(f"{DATA_DIR}/"):
                continue
            target = root / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            _link_or_copy(earlier / relative, target)

    return carry


def _published_select(table: PublicTable) -> str:
    return (
        f"select {', '.join(_quote(c) for c in table.columns)} from {table.relation}"
        if table.columns
        else f"select * from {table.relation}"
    )


def content_fingerprint(con: duckdb.DuckDBPyConnection, table: PublicTable) -> str:
    """Rows and the sum of every published row's hash: equal when the published rows are the
    same (in any order), so an unchanged table's files can be taken from the earlier release.
    One set-based scan (0.14 s for a million stops)."""
    rows, total = con.execute(
        f"select count(*), sum(hash(published)::hugeint) from ({_published_select(table)})"
        " as published"
    ).fetchone()
    return f"{rows}:{total or 0}"


def export_table(con: duckdb.DuckDBPyConnection, table: PublicTable, data_dir: Path) -> int:
    """Write `<name>.parquet` and `<name>.csv` of one table's published columns; returns rows."""
    _copy_formats(con, _published_select(table), data_dir / table.name)
    row = con.execute(f"select count(*) from {table.relation}").fetchone()
    return int(row[0]) if row else 0


def _copy_formats(con: duckdb.DuckDBPyConnection, select: str, stem: Path) -> None:
    """`stem.parquet` and `stem.csv` of a query's rows."""
    for fmt, options in _COPY_OPTIONS.items():
        con.execute(f"copy ({select}) to {sql_literal(f'{stem}.{fmt}')} ({options})")


def _table_columns(con: duckdb.DuckDBPyConnection, table: PublicTable) -> dict[str, str]:
    """Published columns -> DuckDB type: the documented ones (in dbt's order), or all of them."""
    rows = con.execute(
        "select column_name, data_type from information_schema.columns"
        " where table_schema = ? and table_name = ? order by ordinal_position",
        [table.schema, table.name],
    ).fetchall()
    if not rows:
        raise PublicationError(f"table {table.schema}.{table.name} not found in the warehouse")
    types = dict(rows)
    missing = [c for c in table.columns if c not in types]
    if missing:
        raise PublicationError(
            f"{table.schema}.{table.name}: documented columns not in the warehouse: {missing}"
        )
    if table.columns:
        return {c: types[c] for c in table.columns}
    return types


def _datapackage(
    root: Path,
    tables: Sequence[PublicTable],
    schemas: dict[str, list[dict[str, Any]]],
    release_id: str,
    created_at: datetime,
) -> dict[str, Any]:
    """Frictionless Data Package v1. The CSV of a table is its tabular data resource; its Parquet
    twin is a plain data resource (`<name>-parquet`) carrying the same schema. A table published
    in parts has a pair per part (`<name>-<part>`, `<name>-<part>-parquet`), each naming its
    table and part (`lantern:table`, `lantern:part`)."""
    resources: list[dict[str, Any]] = []
    described = [
        (table, part)
        for table in tables
        for part in (
            [None]
            if table.parts is None
            else [p.stem for p in table_files(root, table.name, "csv")]
        )
    ]
    prefetch_sha256(root / DATA_DIR)
    for table, part in described:
        fields = schemas[table.name]
        for suffix, fmt, mediatype, profile in (
            ("", "csv", "text/csv", "tabular-data-resource"),
            ("-parquet", "parquet", "application/vnd.apache.parquet", "data-resource"),
        ):
            stem = table.name if part is None else f"{table.name}/{part}"
            relative = f"{DATA_DIR}/{stem}.{fmt}"
            file = root / relative
            resource: dict[str, Any] = {
                "name": stem.replace("/", "-") + suffix,
                "path": relative,
                "profile": profile,
                "title": table.name,
                "description": table.description,
                "format": fmt,
                "mediatype": mediatype,
                "bytes": file.stat().st_size,
                "hash": f"sha256:{file_sha256(file)}",
                "schema": {"fields": fields},
            }
            if part is not None:
                resource[TABLE_PROPERTY], resource[PART_PROPERTY] = table.name, part
            if fmt == "csv":
                resource["encoding"] = "utf-8"
                resource["dialect"] = {
                    "delimiter": ",",
                    "quoteChar": '"',
                    "doubleQuote": True,
                    "lineTerminator": "\n",
                    "header": True,
                }
            resources.append(resource)
    for name, relative, description in (
        ("quality-checks", CHECKS, "Results of the quality checks this release passed through."),
        ("release", RELEASE, "Release id, creation time and row counts."),
    ):
        file = root / relative
        resources.append(
            {
                "name": name,
                "path": relative,
                "profile": "data-resource",
                "description": description,
                "format": "json",
                "mediatype": "application/json",
                "encoding": "utf-8",
                "bytes": file.stat().st_size,
                "hash": f"sha256:{file_sha256(file)}",
            }
        )
    resources += _file_resources(root, {r["path"] for r in resources})
    return {
        "profile": "data-package",
        "name": "lantern",
        "id": f"lantern-{release_id}",
        "title": "Lantern open police data",
        "description": "Public marts of the Lantern warehouse, published after the quality gate.",
        "created": _iso(created_at),
        "resources": resources,
    }


# Files a release holds beside the tables (written by publish_release's extras): folder ->
# what they are, for their datapackage.json resources.
_FILE_DESCRIPTIONS = {
    "reports": "Annual report of one agency and year (dagster_project/reports.py).",
    "narratives": "The agencies' own texts and community-input logs, published verbatim "
    "(dagster_project/narratives.py).",
}
_MEDIATYPES = {
    "csv": "text/csv",
    "parquet": "application/vnd.apache.parquet",
    "json": "application/json",
    "html": "text/html",
    "pdf": "application/pdf",
    "md": "text/markdown",
    "svg": "image/svg+xml",
}


def _file_resources(root: Path, described: set[str]) -> list[dict[str, Any]]:
    """A data resource for every file of the release not otherwise described (the annual reports,
    the narratives), so datapackage.json lists every published file."""
    resources = []
    for relative in sorted(_release_files(root) - described - {DATAPACKAGE, SHA256SUMS}):
        file = root / relative
        fmt = file.suffix.lstrip(".").lower()
        folder = relative.split("/", 1)[0]
        name = re.sub(r"[^a-z0-9._-]+", "-", relative.lower().replace("/", "-"))
        resources.append(
            {
                "name": name,
                "path": relative,
                "profile": "data-resource",
                "description": _FILE_DESCRIPTIONS.get(folder, "A file of the release."),
                "format": fmt,
                "mediatype": _MEDIATYPES.get(fmt, "application/octet-stream"),
                "bytes": file.stat().st_size,
                "hash": f"sha256:{file_sha256(file)}",
            }
        )
    return resources


# DuckDB type (its leading word) -> Frictionless Table Schema v1 type.
_FRICTIONLESS_TYPES = {
    "VARCHAR": "string",
    "CHAR": "string",
    "TEXT": "string",
    "UUID": "string",
    "ENUM": "string",
    "BLOB": "string",
    "BIT": "string",
    "BOOLEAN": "boolean",
    "TINYINT": "integer",
    "SMALLINT": "integer",
    "INTEGER": "integer",
    "BIGINT": "integer",
    "HUGEINT": "integer",
    "UTINYINT": "integer",
    "USMALLINT": "integer",
    "UINTEGER": "integer",
    "UBIGINT": "integer",
    "UHUGEINT": "integer",
    "FLOAT": "number",
    "REAL": "number",
    "DOUBLE": "number",
    "DECIMAL": "number",
    "NUMERIC": "number",
    "DATE": "date",
    "TIME": "time",
    "TIMESTAMP": "datetime",
    "TIMESTAMP_S": "datetime",
    "TIMESTAMP_MS": "datetime",
    "TIMESTAMP_NS": "datetime",
    # DuckDB writes intervals as `1 day 02:00:00`, not the ISO 8601 `duration` form.
    "INTERVAL": "string",
    "JSON": "string",
}


def frictionless_type(duckdb_type: str) -> str:
    """Frictionless type of a DuckDB column type; nested types (lists, structs, maps) are
    `string`, since their CSV text is DuckDB's own notation, not the JSON Frictionless expects."""
    upper = duckdb_type.strip().upper()
    if upper.endswith("]") or upper.startswith(("STRUCT", "MAP", "UNION")):
        return "string"
    head = re.split(r"[\s(]", upper, maxsplit=1)[0]
    return _FRICTIONLESS_TYPES.get(head, "string")


def _frictionless_field(name: str, duckdb_type: str, description: str) -> dict[str, Any]:
    kind = frictionless_type(duckdb_type)
    out: dict[str, Any] = {"name": name, "type": kind}
    if description:
        out["description"] = description
    if kind in ("datetime", "time"):
        # DuckDB writes `2024-01-31 22:15:00[.ffffff][+00]`, not the default `...T...Z` form,
        # and fractional seconds the default `hh:mm:ss` time form does not allow.
        out["format"] = "any"
    out["lantern:duckdb_type"] = duckdb_type
    return out


def write_sha256sums(root: Path) -> None:
    """Rewrites a release's index after files were added to it (`make reports` adds the annual
    reports' PDFs to the current release): datapackage.json's file resources, then SHA256SUMS
    over every file it holds."""
    root = Path(root)
    package_path = root / DATAPACKAGE
    if package_path.is_file():
        package = json.loads(package_path.read_text(encoding="utf-8"))
        # the tables' and the fixed files' resources stay; the other files are described anew
        kept = [
            r
            for r in package["resources"]
            if r["path"].startswith(f"{DATA_DIR}/") or r["path"] in (CHECKS, RELEASE)
        ]
        described = {r["path"] for r in kept}
        package["resources"] = kept + _file_resources(root, described)
        _write_json(package_path, package)
    _write_sha256sums(root)


def _write_sha256sums(root: Path) -> None:
    lines = [
        f"{file_sha256(root / name)}  {name}\n"
        for name in sorted(_release_files(root) - {SHA256SUMS})
    ]
    (root / SHA256SUMS).write_text("".join(lines), encoding="utf-8")


def _switch_current(publish_dir: Path, release_id: str) -> None:
    """Point `current` at the release with one rename, so readers see the old or the new
    release, never a missing or half-written one."""
    link = publish_dir / CURRENT
    if link.exists() and not link.is_symlink():
        raise PublicationError(f"{link} exists and is not a symlink")
    temporary = publish_dir / f".{CURRENT}-{release_id}"
    if temporary.is_symlink() or temporary.exists():
        temporary.unlink()
    os.symlink(release_id, temporary, target_is_directory=True)
    try:
        os.replace(temporary, link)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_dir(publish_dir)


def _remove_stale_staging(publish_dir: Path) -> None:
    """Called under the publishing lock: every staging folder (and temporary `current` link)
    left in the folder belongs to a publisher that died before finishing."""
    for entry in publish_dir.iterdir():
        if entry.name.startswith(STAGING_PREFIX) and entry.is_dir() and not entry.is_symlink():
            log.warning("removing the unfinished release of a killed run: %s", entry)
            shutil.rmtree(entry, ignore_errors=True)
        elif entry.name.startswith(f".{CURRENT}-") and entry.is_symlink():
            entry.unlink(missing_ok=True)


# --- small helpers -------------------------------------------------------------------------


def _is_release(path: Path) -> bool:
    return (
        path.is_dir()
        and not path.is_symlink()
        and not path.name.startswith(".")
        and path.name != CURRENT
        and (path / RELEASE).is_file()
    )


def _release_sort_key(path: Path) -> tuple[str, str]:
    """Newest first by created_at from release.json (ids need not sort by time), then name."""
    try:
        created = json.loads((path / RELEASE).read_text(encoding="utf-8"))["created_at"]
    except (OSError, ValueError, KeyError, TypeError):
        created = ""
    return (str(created), path.name)


def _release_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def _inside(root: Path, relative: str) -> Path | None:
    """`root/relative`, or None when `relative` would escape the release folder."""
    candidate = (root / relative).resolve()
    return candidate if candidate.is_relative_to(root.resolve()) else None


# sha256 of files already hashed, by (device, inode, size, mtime): a file hard-linked from an
# earlier release (Reuse) is not read again.
_KNOWN_HASHES: dict[tuple[int, int, int, int], str] = {}


def file_identity(path: Path) -> tuple[int, int, int, int]:
    """(device, inode, size, modification time): a hard link is the same file."""
    stat = path.stat()
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _remember_hashes(release: Path) -> None:
    """The checksums an intact release lists for its files (its own index files excepted), as
    known hashes."""
    sums = release / SHA256SUMS
    for line in sums.read_text(encoding="utf-8").splitlines():
        digest, sep, name = line.partition("  ")
        file = _inside(release, name) if sep else None
        if file is not None and name not in _FIXED_FILES and file.is_file():
            _KNOWN_HASHES[file_identity(file)] = digest


def file_sha256(path: Path, trust_known: bool = True) -> str:
    """A file's SHA-256; with `trust_known`, the one already computed for the same file (device,
    inode, size, modification time): a new release lists each file twice (datapackage.json and
    SHA256SUMS), and 10 million stops are gigabytes to read again."""
    identity = file_identity(path)
    known = _KNOWN_HASHES.get(identity) if trust_known else None
    if known is not None:
        return known
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    if trust_known:
        _KNOWN_HASHES[identity] = digest.hexdigest()
    return digest.hexdigest()


def prefetch_sha256(folder: Path, threads: int = 2) -> None:
    """The SHA-256 of every file under `folder`, computed in `threads` threads and kept as
    known hashes (file_sha256): hashlib and reading release the GIL, so a release's gigabytes
    are hashed on both cores (10 million stops: 7.5 s in one thread)."""
    from concurrent.futures import ThreadPoolExecutor

    files = sorted(
        (path for path in Path(folder).rglob("*") if path.is_file()),
        key=lambda path: -path.stat().st_size,  # the largest first: the threads end together
    )
    with ThreadPoolExecutor(max(1, threads)) as pool:
        list(pool.map(file_sha256, files))


def _write_json(path: Path, payload: Any) -> None:
    path.write_text(
        json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
    )


def _fsync_dir(path: Path) -> None:
    """Make a rename durable (best effort: not every filesystem allows opening a directory)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def sql_literal(text: str | Path) -> str:
    """A SQL string literal of a text or a path."""
    return "'" + str(text).replace("'", "''") + "'"
