"""`lantern validate`: check an export against its agency's mapping without loading anything.

It runs the same readers and mapping step as the nightly load, on a private in-memory DuckDB,
then reports what a records clerk can act on. The export is loadable when no required column is
missing and the file can be read; rejected rows, unmapped codes and thin months are reported but
do not by themselves make it unloadable (they are counted by the nightly checks).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ingestion import config
from ingestion.delivery import header_hint, read_with
from ingestion.linking import attach_linked, linked_paths
from ingestion.mapper import ContractViolation, map_file, quote_ident
from ingestion.pipeline import value_map_entries
from ingestion.readers import UnreadableFile, file_sha256

MAX_EXAMPLES = 5
COVERAGE_THRESHOLD = 0.5


@dataclass
class FileReport:
    file: str
    loadable: bool
    rows_raw: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0
    error: str | None = None
    missing_columns: list[dict] = field(default_factory=list)
    unexpected_columns: list[str] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)
    unmapped_codes: list[dict] = field(default_factory=list)
    duplicate_record_ids: list[dict] = field(default_factory=list)
    low_coverage: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def expand(target: Path, mapping: config.Mapping) -> list[Path]:
    if target.is_dir():
        return sorted(p for p in target.glob(mapping.file_pattern) if p.is_file())
    return [target]


def validate_path(agency_id: str, target: Path, dataset: str = "stops") -> list[FileReport]:
    mapping = config.load_mapping(agency_id, dataset)
    if not target.exists():
        raise FileNotFoundError(f"{target}: no such file or folder")
    files = expand(target, mapping)
    if not files:
        raise FileNotFoundError(f"{target}: no file matches {mapping.file_pattern!r}")
    return [validate_file(agency_id, path, mapping) for path in files]


def validate_file(agency_id: str, path: Path, mapping: config.Mapping) -> FileReport:
    spec = config.dataset_spec(mapping.dataset)
    report = FileReport(file=str(path), loadable=True)
    try:
        parsed = read_with(mapping, path)
    except UnreadableFile as exc:
        report.loadable, report.error = False, f"{exc}{header_hint(path, mapping)}"
        return report
    try:
        try:  # a mapping's linked files (Chicago's TRR tables), joined as for the nightly load
            link_notes = attach_linked(parsed, mapping, linked_paths(path, mapping))
        except ContractViolation as exc:
            report.loadable, report.error = False, str(exc)
            return report
        mapping = mapping.for_columns(parsed.columns)  # a `one_of` field: the name this file has
        report.rows_raw = parsed.rows_raw
        if parsed.rows_raw == 0:  # the nightly load quarantines it too
            report.loadable, report.error = False, "row 1: the file has a header but no records"
            return report
        expected = set(mapping.columns.values()) | {
            s for sources in (*mapping.any_of.values(), *mapping.list_of.values()) for s in sources
        }
        present = set(parsed.columns)
        for name, source in sorted(mapping.columns.items()):
            if source not in present:
                report.missing_columns.append(
                    {"column": source, "field": name, "required": spec.fields[name].required}
                )
        report.unexpected_columns = sorted(
            present - expected - set(mapping.personal_data) - {"_source_row"}
        )
        try:
            mapped = map_file(
                parsed,
                mapping,
                spec,
                lineage={
                    "agency_id": agency_id,
                    "dataset": mapping.dataset,
                    "source_file": path.name,
                    "file_hash": file_sha256(path),
                    "loaded_at": "1970-01-01 00:00:00+00",
                    "load_id": "validate",
                },
                salt="validate",
            )
        except ContractViolation as exc:
            hint = header_hint(path, mapping)
            report.loadable, report.error = False, f"{exc}{hint}"
            return report
        report.rows_accepted = mapped.rows_accepted
        report.rows_rejected = len(mapped.rejects)
        report.notes = link_notes + mapped.notes
        report.rejected = [
            {"row": r.source_row, "column": r.column_name, "reason": r.reason}
            for r in mapped.rejects
        ]
        con = parsed.con
        report.unmapped_codes = _unmapped(con, agency_id, mapping, spec)
        report.duplicate_record_ids = _duplicates(con, spec)
        report.low_coverage = _coverage(con, spec)
    finally:
        parsed.con.close()
    return report


def _unmapped(con, agency_id: str, mapping: config.Mapping, spec: config.DatasetSpec) -> list[dict]:
    out = []
    for name, fspec in spec.fields.items():
        if fspec.type not in ("code", "boolean") or name not in mapping.columns:
            continue
        known = sorted(value_map_entries(mapping, fspec))
        rows = con.execute(
            f"""
            select {quote_ident(name)} as value, count(*) as n, list(_source_row order by _source_row)[1:{MAX_EXAMPLES}]
            from mapped
            where _reject_reason is null and {quote_ident(name)} is not null
              and not list_contains($known::varchar[], lower(trim({quote_ident(name)})))
            group by all order by n desc
            """,
            {"known": known},
        ).fetchall()
        for value, count, rows_at in rows:
            out.append(
                {
                    "field": name,
                    "column": mapping.columns[name],
                    "value": value,
                    "count": count,
                    "rows": rows_at,
                }
            )
    return out


def _duplicates(con, spec: config.DatasetSpec) -> list[dict]:
    keys = [k for k in spec.record_key if k in spec.fields]
    if not keys:
        return []
    default = {k: spec.fields[k].default for k in keys}
    expr = ", ".join(
        f"coalesce({quote_ident(k)}, '{default[k]}')" if default[k] else quote_ident(k)
        for k in keys
    )
    rows = con.execute(
        f"""
        select {expr}, count(*), list(_source_row order by _source_row)[1:{MAX_EXAMPLES}]
        from mapped where _reject_reason is null
        group by all having count(*) > 1 order by 1 limit 100
        """
    ).fetchall()
    return [{"record_id": list(r[: len(keys)]), "count": r[-2], "rows": r[-1]} for r in rows]


def _coverage(con, spec: config.DatasetSpec) -> list[dict]:
    date_fields = [n for n, f in spec.fields.items() if f.type == "date" and f.required]
    if not date_fields:
        return []
    month = f"substr({quote_ident(date_fields[0])}, 1, 7)"
    checked = [
        n
        for n, f in spec.fields.items()
        if f.type in ("code", "boolean", "integer", "time") and not f.personal
    ]
    available = {
        r[0] for r in con.execute("select name from pragma_table_info('mapped')").fetchall()
    }
    checked = [n for n in checked if n in available]
    out = []
    for name in checked:
        col = quote_ident(name)
        missing = f"{col} is null" + (
            f" or lower({col}) = 'unknown'" if spec.fields[name].default_code else ""
        )
        scope = "_reject_reason is null"
        condition = spec.fields[name].applies_when
        if condition in available:
            # contraband_found is only meaningful for searched rows: measure coverage there.
            truthy = ", ".join(f"'{k}'" for k, v in config.BOOLEAN_SPELLINGS.items() if v == "true")
            scope += f" and lower({quote_ident(condition)}) in ({truthy})"
        rows = con.execute(
            f"""
            select {month} as month, count(*) as rows,
                   count(*) filter (where not ({missing})) as filled
            from mapped where {scope}
            group by 1 having count(*) filter (where not ({missing})) < {COVERAGE_THRESHOLD} * count(*)
            order by 1
            """
        ).fetchall()
        total_filled = con.execute(
            f"select count(*) filter (where not ({missing})) from mapped where {scope}"
        ).fetchone()[0]
        if total_filled == 0:
            continue  # not recorded at all: reported as an unmapped or missing field elsewhere
        for month_value, count, filled in rows:
            out.append(
                {
                    "field": name,
                    "month": month_value,
                    "rows": count,
                    "coverage": round(filled / count, 3),
                }
            )
    return out


def format_text(agency_id: str, reports: list[FileReport]) -> str:
    lines = []
    for r in reports:
        status = "LOADABLE" if r.loadable else "NOT LOADABLE"
        lines.append(f"{r.file} ({agency_id}): {status}")
        if r.error:
            lines.append(f"  error: {r.error}")
        if r.rows_raw:
            lines.append(
                f"  rows: {r.rows_raw} = {r.rows_accepted} loadable + {r.rows_rejected} rejected"
            )
        for m in r.missing_columns:
            kind = "required" if m["required"] else "mapped"
            lines.append(f"  missing {kind} column '{m['column']}' (field {m['field']})")
        if r.unexpected_columns:
            lines.append(f"  unexpected columns (kept as src_*): {', '.join(r.unexpected_columns)}")
        for rej in r.rejected[:20]:
            where = f", column '{rej['column']}'" if rej["column"] else ""
            lines.append(f"  row {rej['row']}{where}: {rej['reason']}")
        if len(r.rejected) > 20:
            lines.append(f"  ... and {len(r.rejected) - 20} more rejected rows")
        for u in r.unmapped_codes:
            lines.append(
                f"  unmapped code {u['value']!r} in column '{u['column']}' (field {u['field']}): "
                f"{u['count']} rows, e.g. rows {', '.join(map(str, u['rows']))}"
            )
        for d in r.duplicate_record_ids:
            lines.append(f"  duplicate record id {d['record_id']}: {d['count']} rows ({d['rows']})")
        for c in r.low_coverage:
            lines.append(
                f"  field {c['field']} filled in {c['coverage']:.0%} of {c['rows']} rows in {c['month']}"
            )
        for note in r.notes:
            lines.append(f"  note: {note}")
    return "\n".join(lines)


def to_json(agency_id: str, reports: list[FileReport]) -> str:
    return json.dumps(
        {
            "agency_id": agency_id,
            "loadable": all(r.loadable for r in reports),
            "files": [asdict(r) for r in reports],
        },
        indent=2,
        default=str,
    )
