"""Map one parsed file onto the canonical fields of its dataset, in DuckDB SQL.

Column names, codes and formats come from the agency's mapping file, so none of them is ever
spliced into SQL: identifiers are quoted by `quote_ident` and every literal is a bound parameter.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa

from ingestion.config import BOOLEAN_SPELLINGS, LIST_SEPARATOR, DatasetSpec, Mapping
from ingestion.config import SPECIAL_FORMATS as CONFIG_SPECIAL_FORMATS
from ingestion.readers import ParsedFile, Reject, quote_ident

BATCH_ROWS = 250_000
INTEGER_PATTERN = r"^[+-]?[0-9]+(\.0*)?$"
# Column of `src` (ingestion/linking.py) saying why a row's linked files make it unusable.
LINK_REASON = "_linked_reason"


def rename_hint(source: str, candidates: Iterable[str]) -> str:
    """` (renamed to 'X'?)` for a missing column: the old name inside a new one first (ID ->
    Report ID), then a similar spelling; empty when nothing is close."""
    candidates = list(candidates)
    close = [c for c in candidates if source.lower() in c.lower() or c.lower() in source.lower()][
        :1
    ] or difflib.get_close_matches(source, candidates, n=1, cutoff=0.6)
    return f" (renamed to '{close[0]}'?)" if close else ""


class ContractViolation(Exception):
    """The file cannot be loaded under its agency's mapping (e.g. a required column is missing)."""


@dataclass
class MappedFile:
    parsed: ParsedFile
    rows_accepted: int
    rejects: list[Reject]
    notes: list[str] = field(default_factory=list)

    def batches(self) -> Iterator[pa.RecordBatch]:
        reader = self.parsed.con.execute(
            "select * exclude (_reject_reason) from mapped where _reject_reason is null order by _source_row"
        ).fetch_record_batch(BATCH_ROWS)
        yield from reader


def snake(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_") or "column"


# Date and time formats that are not strptime patterns: numbers counting from an epoch.
# epoch_ms / epoch_s: an instant (ArcGIS feature services write dates as milliseconds since
# 1970 UTC), shown in the agency's time zone; excel_serial: days since 1899-12-30 with the time
# as the fraction (a date cell written out as a number), a local date and time already.
SPECIAL_FORMATS = {  # name: (units a second or None for days, lowest and highest: 1900-2100)
    "epoch_ms": (1000.0, -2_208_988_800_000, 4_102_444_800_000),
    "epoch_s": (1.0, -2_208_988_800, 4_102_444_800),
    "excel_serial": (None, 1, 73_051),
}
assert tuple(SPECIAL_FORMATS) == CONFIG_SPECIAL_FORMATS


def special_timestamp_expr(value: str, name: str, time_zone: str) -> str:
    """SQL for the local TIMESTAMP a text `value` (SQL) holds in the special format `name`;
    null for a value that is no number or falls outside 1900-2100. `time_zone`: SQL text."""
    per_second, low, high = SPECIAL_FORMATS[name]
    number = f"try_cast({value} as double)"
    within = f"{number} between {low} and {high}"
    if per_second is None:  # days since 1899-12-30
        micros = f"cast(round({number} * 86400000000) as bigint)"
        return f"case when {within} then timestamp '1899-12-30' + to_microseconds({micros}) end"
    seconds = f"{number} / {per_second}"
    return f"case when {within} then timezone({time_zone}, to_timestamp({seconds})) end"


class _Params:
    def __init__(self) -> None:
        self.values: dict[str, object] = {}

    def add(self, value: object) -> str:
        key = f"p{len(self.values)}"
        self.values[key] = value
        return f"${key}"


def map_file(
    parsed: ParsedFile,
    mapping: Mapping,
    spec: DatasetSpec,
    *,
    lineage: dict[str, object],
    salt: str,
) -> MappedFile:
    """Build table `mapped` (raw columns + lineage + _reject_reason) from table `src`."""
    mapping = mapping.for_columns(parsed.columns)
    params = _Params()
    present = set(parsed.columns)
    missing_required = []
    notes: list[str] = []
    selects: list[str] = []
    reasons: list[str] = []
    produced: set[str] = set()
    typed: list[tuple[str, str, str, str, str]] = []  # (field, column, value, bad, expected)

    null_values = params.add(mapping.null_values or [""])
    column_nulls = {
        source: params.add([*mapping.null_values, *texts])
        for source, texts in mapping.column_null_values.items()
    }

    def value(source: str) -> str:
        trimmed = f"trim({quote_ident(source)})"
        nulls = column_nulls.get(source, null_values)
        return f"(case when list_contains({nulls}::varchar[], upper({trimmed})) then null else nullif({trimmed}, '') end)"

    def describe(field_name: str, source: str) -> str:
        return f"column '{source}' ({field_name})"

    for name, value_text in mapping.constants.items():
        selects.append(f"{params.add(value_text)}::varchar as {quote_ident(name)}")
        produced.add(name)
    for name, sources in mapping.any_of.items():
        absent = [s for s in sources if s not in present]
        if absent and spec.fields[name].required:
            missing_required.extend((name, s) for s in absent)
            continue
        if absent:
            notes.append(f"flag column(s) {', '.join(absent)} of {name} absent from the file")
        sources = [s for s in sources if s in present]
        truthy = sorted(
            k
            for k, v in {**BOOLEAN_SPELLINGS, **mapping.values.get(name, {})}.items()
            if v == "true"
        )
        truthy_param = params.add(truthy)
        if sources:
            anytrue = " or ".join(
                f"list_contains({truthy_param}::varchar[], lower({value(s)}))" for s in sources
            )
            allnull = " and ".join(f"{value(s)} is null" for s in sources)
            expr = f"case when {anytrue} then 'true' when {allnull} then null else 'false' end"
        else:
            expr = "null::varchar"
        if name in mapping.empty_as:
            expr = f"coalesce({expr}, {params.add(mapping.empty_as[name])})"
        selects.append(f"{expr} as {quote_ident(name)}")
        produced.add(name)

    for name, sources in mapping.list_of.items():
        absent = [s for s in sources if s not in present]
        if absent and len(absent) == len(sources) and spec.fields[name].required:
            missing_required.extend((name, s) for s in absent)
            continue
        if absent:
            notes.append(f"list column(s) {', '.join(absent)} of {name} absent from the file")
        elements = ", ".join(value(s) for s in sources if s in present) or "null"
        # concat_ws skips nulls: the non-empty elements in column order, null when there are none
        expr = f"nullif(concat_ws({params.add(LIST_SEPARATOR)}, {elements}), '')"
        selects.append(f"{expr} as {quote_ident(name)}")
        produced.add(name)
    for name, within in mapping.sequence_within.items():
        if within not in present:
            missing_required.append((name, within))
            continue
        selects.append(
            f"(row_number() over (partition by {value(within)} order by _source_row))::varchar"
            f" as {quote_ident(name)}"
        )
        produced.add(name)

    for name, fspec in spec.fields.items():
        source = mapping.columns.get(name)
        if source is None:
            continue
        if source not in present:
            if fspec.required or (
                fspec.type == "datetime" and _datetime_targets(name, spec, mapping)
            ):
                missing_required.append((name, source))
            else:
                notes.append(f"mapped {describe(name, source)} is absent from the file; left empty")
            continue
        v = value(source)
        label = params.add(describe(name, source))
        if fspec.type in ("date", "time", "datetime"):
            fmt = mapping.formats.get(name)
            fmts = [fmt] if isinstance(fmt, str) else list(fmt or [])
            parsed_expr = f"try_cast({v} as timestamp)"
            if fspec.type == "time":
                parsed_expr = f"(date '2000-01-01' + try_cast({v} as time))"
            if fmts:
                zone = params.add(mapping.time_zone) if set(fmts) & set(SPECIAL_FORMATS) else ""
                tries = ", ".join(
                    special_timestamp_expr(v, f, zone)
                    if f in SPECIAL_FORMATS
                    else f"try_strptime({v}, {params.add(f)})"
                    for f in fmts
                )
                parsed_expr = f"coalesce({tries}, {parsed_expr})"
            expected = params.add(f" (expected {' or '.join(fmts) or 'ISO 8601'})")
            bad = f"({v} is not null and {parsed_expr} is null)"
            targets = (
                _datetime_targets(name, spec, mapping)
                if fspec.type == "datetime"
                else [(name, fspec.type)]
            )
            for target, kind in targets:
                pattern = "%Y-%m-%d" if kind == "date" else "%H:%M:%S"
                selects.append(f"strftime({parsed_expr}, '{pattern}') as {quote_ident(target)}")
                produced.add(target)
            required = fspec.required or any(spec.fields[t].required for t, _ in targets)
            shown = " or ".join(fmts) or "ISO 8601"
            typed.append((name, source, v, bad, f"{fspec.type} ({shown})"))
            message = f"{label} || ': unparseable {fspec.type} ''' || {v} || '''' || {expected}"
            if required:
                reasons.append(f"case when {bad} then {message} end")
            else:
                notes_expr = f"case when {bad} then {message} end"
                selects.append(f"{notes_expr} as {quote_ident('_note_' + name)}")
        elif fspec.type == "integer":
            good = f"regexp_matches({v}, '{INTEGER_PATTERN}')"
            selects.append(
                f"case when {good} then cast(cast({v} as double) as bigint)::varchar end as {quote_ident(name)}"
            )
            produced.add(name)
            message = f"{label} || ': not a whole number ''' || {v} || ''''"
            bad = f"({v} is not null and not {good})"
            typed.append((name, source, v, bad, "whole number"))
            if fspec.required:
                reasons.append(f"case when {bad} then {message} end")
            else:
                selects.append(
                    f"case when {bad} then {message} end as {quote_ident('_note_' + name)}"
                )
        elif fspec.personal:
            selects.append(f"sha256({params.add(salt)} || {v}) as {quote_ident(name + '_hash')}")
            produced.add(name)
        else:
            if name in mapping.empty_as:
                v = f"coalesce({v}, {params.add(mapping.empty_as[name])})"
            selects.append(f"{v} as {quote_ident(name)}")
            produced.add(name)
        # A required code with a default (subject_race -> unknown) must be mapped, but an empty
        # cell is a fact to count, not a reason to lose the stop.
        if (
            fspec.required
            and fspec.type not in ("date", "time", "datetime")
            and not fspec.default_code
        ):
            reasons.append(f"case when {v} is null then {label} || ': required value is empty' end")

    src_columns = {
        r[0] for r in parsed.con.execute("select name from pragma_table_info('src')").fetchall()
    }
    if LINK_REASON in src_columns:
        reasons.insert(0, quote_ident(LINK_REASON))

    if missing_required:
        wanted = []
        # A renamed column is one the mapping does not already read for another field.
        mapped_elsewhere = set(mapping.columns.values()) | {
            s for sources in (*mapping.any_of.values(), *mapping.list_of.values()) for s in sources
        }
        candidates = [c for c in parsed.columns if c not in mapped_elsewhere]
        for name, source in missing_required:
            wanted.append(f"'{source}' ({name}){rename_hint(source, candidates)}")
        raise ContractViolation(
            f"required column {', '.join(wanted)} missing; the file has: {', '.join(parsed.columns)}"
        )

    _check_types(parsed, params, typed)

    # Every canonical raw column exists in every batch, so the raw table's shape never depends on
    # which agency happened to load first.
    for column in spec.raw_columns():
        base = column[: -len("_hash")] if column.endswith("_hash") else column
        if base not in produced and column not in produced:
            selects.append(f"null::varchar as {quote_ident(column)}")

    mapped_sources = set(mapping.columns.values()) | {
        source
        for sources in (*mapping.any_of.values(), *mapping.list_of.values())
        for source in sources
    }
    for source in parsed.columns:
        if source in mapped_sources:
            continue
        treatment = mapping.personal_data.get(source)
        if treatment == "drop":
            continue
        if treatment == "hash":
            selects.append(
                f"sha256({params.add(salt)} || {value(source)}) as {quote_ident('src_' + snake(source) + '_hash')}"
            )
        else:
            selects.append(f"{value(source)} as {quote_ident('src_' + snake(source))}")

    lineage_cols = [
        f"{params.add(lineage['agency_id'])}::varchar as _agency_id",
        f"{params.add(lineage['dataset'])}::varchar as _dataset",
        f"{params.add(lineage['source_file'])}::varchar as _source_file",
        "_source_row::bigint as _source_row",
        f"{params.add(lineage['file_hash'])}::varchar as _file_hash",
        f"{params.add(lineage['loaded_at'])}::timestamptz as _loaded_at",
        f"{params.add(lineage['load_id'])}::varchar as _load_id",
    ]
    reason_expr = (
        f"nullif(concat_ws('; ', {', '.join(reasons)}), '')" if reasons else "null::varchar"
    )
    raw_text = (
        "concat_ws(',', "
        + ", ".join(f"coalesce({quote_ident(c)}, '')" for c in parsed.columns)
        + ")"
    )
    sql = f"""
        create or replace table mapped as
        select {", ".join(selects + lineage_cols)},
               {reason_expr} as _reject_reason,
               {raw_text} as _raw_text
        from src
    """
    con = parsed.con
    used = set(re.findall(r"\$(p\d+)\b", sql))
    con.execute(sql, {k: v for k, v in params.values.items() if k in used})

    rejects = list(parsed.rejects)
    for row, reason, text in con.execute(
        "select _source_row, _reject_reason, _raw_text from mapped where _reject_reason is not null order by 1"
    ).fetchall():
        rejects.append(Reject(int(row), reason, text, _column_of(reason, mapping)))
    note_cols = [
        c
        for (c,) in con.execute(
            "select name from pragma_table_info('mapped') where name like '\\_note\\_%' escape '\\'"
        ).fetchall()
    ]
    for column in note_cols:
        count, rows, example = con.execute(
            f"select count(*), list(_source_row order by _source_row)[1:5], "
            f"min({quote_ident(column)}) from mapped where {quote_ident(column)} is not null"
        ).fetchone()
        if count:
            shown = ", ".join(str(r) for r in rows)
            notes.append(f"{count} value(s) set to null (rows {shown}...): {example}")
        con.execute(f"alter table mapped drop column {quote_ident(column)}")
    for name, condition in mapping.only_when.items():
        column = quote_ident(f"{name}_hash" if spec.fields[name].personal else name)
        truthy = sorted(
            k
            for k, v in {**BOOLEAN_SPELLINGS, **mapping.values.get(condition, {})}.items()
            if v == "true"
        )
        nulled = con.execute(
            f"""
            update mapped set {column} = null
            where {column} is not null
              and coalesce(not list_contains($truthy::varchar[], lower({quote_ident(condition)})), true)
            """,
            {"truthy": truthy},
        ).fetchone()[0]
        if nulled:
            notes.append(
                f"{name} set to null on {nulled} row(s) where {condition} is not true (only_when)"
            )
    con.execute("alter table mapped drop column _raw_text")
    accepted = con.execute("select count(*) from mapped where _reject_reason is null").fetchone()[0]
    return MappedFile(parsed, accepted, rejects, notes)


# A typed column is taken for re-typed (schema drift) when most of its values no longer parse:
# a few bad values are an agency's typos (rejected or nulled row by row, as the contract says),
# most of them mean the column now holds something else (ages as "30-39", dates as day/month).
DRIFT_SHARE = 0.5
DRIFT_MIN_VALUES = 10


def _check_types(parsed: ParsedFile, params: _Params, typed: list) -> None:
    for name, source, value, bad, expected in typed:
        sql = f"""
            select count({value}), count(*) filter (where {bad}),
                   min(_source_row) filter (where {bad}),
                   arg_min({value}, _source_row) filter (where {bad})
            from src
        """
        used = set(re.findall(r"\$(p\d+)\b", sql))
        filled, wrong, row, example = parsed.con.execute(
            sql, {k: v for k, v in params.values.items() if k in used}
        ).fetchone()
        if filled >= DRIFT_MIN_VALUES and wrong > DRIFT_SHARE * filled:
            raise ContractViolation(
                f"column '{source}' ({name}): {wrong} of {filled} values are not a {expected}"
                f" (first at row {row}: {example!r}); has the column's type or format changed?"
                " Fix the export, or the mapping's formats"
            )


def _datetime_targets(name: str, spec: DatasetSpec, mapping: Mapping) -> list[tuple[str, str]]:
    """`stop_datetime` fills `stop_date` and `stop_time` unless those are mapped themselves."""
    prefix = name[: -len("_datetime")]
    out = []
    for suffix in ("date", "time"):
        target = f"{prefix}_{suffix}"
        if target in spec.fields and target not in mapping.columns:
            out.append((target, suffix))
    return out


def _column_of(reason: str, mapping: Mapping) -> str | None:
    match = re.match(r"column '(.+?)' \(", reason)
    return match.group(1) if match else None


def now_utc() -> datetime:
    from datetime import UTC

    return datetime.now(UTC)
