"""Linked files: further files of one delivery joined to the main file's rows by key.

Chicago PD's Tactical Response Reports come as eight files sharing `trr_id` (TRR-main, -subjects,
-officers, -actions-responses...). A mapping names the main file in `file_pattern` and each
further file under `linked_files`; before mapping, each linked file is read with the main file's
format and options and joined onto table `src`, its column C becoming column "<name>.C":

- `rows: one`: at most one linked row per main row (a main row whose key matches several is
  rejected, naming the linked file and the key);
- `rows: many`: the values of C over the matching rows, empty ones skipped, in file order, joined
  with '|' (the separator of `list` fields, so `list_of` can collect them).

A linked file's name is the main file's name with its own fixed parts: each `*` of the linked
pattern stands for the text the main pattern's `*` matched, so one delivery's files are always
joined together. Everything is a bound parameter or a quoted identifier; a mapping adds no SQL.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from ingestion.config import LIST_SEPARATOR, LinkedFile, Mapping
from ingestion.mapper import LINK_REASON, ContractViolation, quote_ident, rename_hint
from ingestion.readers import ParsedFile, UnreadableFile, file_sha256, read_file


def linked_paths(path: Path, mapping: Mapping, *, must_exist: bool = True) -> dict[str, Path]:
    """The linked files of main file `path`, by link name; a missing one is a ContractViolation
    (or, with must_exist=False, left out)."""
    if not mapping.linked_files:
        return {}
    parts = mapping.file_pattern.split("*")
    match = re.fullmatch("(.*)".join(re.escape(p) for p in parts), path.name, re.DOTALL)
    if match is None:
        raise ContractViolation(f"{path.name} does not match {mapping.file_pattern!r}")
    out = {}
    for name, link in mapping.linked_files.items():
        pieces = link.file_pattern.split("*")
        file_name = pieces[0] + "".join(
            text + piece for text, piece in zip(match.groups(), pieces[1:], strict=True)
        )
        linked = path.parent / file_name
        if not linked.is_file() and not must_exist:
            continue
        if not linked.is_file():
            raise ContractViolation(
                f"linked file {name!r} ({file_name}, pattern {link.file_pattern!r}) is missing"
                f" beside {path.name}"
            )
        out[name] = linked
    return out


def delivery_hash(file_hash: str, paths: dict[str, Path]) -> str:
    """The main file's hash alone, or with linked files a hash over every file of the delivery
    (so a corrected linked file alone is a new delivery)."""
    if not paths:
        return file_hash
    digest = hashlib.sha256(file_hash.encode())
    for name in sorted(paths):
        digest.update(f"|{name}:{file_sha256(paths[name])}".encode())
    return digest.hexdigest()


def attach_linked(parsed: ParsedFile, mapping: Mapping, paths: dict[str, Path]) -> list[str]:
    """Join every linked file onto `src` (see the module docstring); return notes on the joins."""
    notes: list[str] = []
    reasons: list[str] = []
    con = parsed.con
    params: dict[str, object] = {"nulls": [*mapping.null_values, ""]}
    joins, selects, added = [], [], []
    rows_main = con.execute("select count(*) from src").fetchone()[0]
    for index, (name, link) in enumerate(mapping.linked_files.items()):
        alias = f"_link{index}"
        columns, unreadable = _load(con, f"{alias}_rows", link, paths[name], mapping)
        if link.on not in parsed.columns:
            raise ContractViolation(
                f"column '{link.on}' (key of linked file {name!r})"
                f"{rename_hint(link.on, parsed.columns)} missing; the file has: "
                f"{', '.join(parsed.columns)}"
            )
        for column in [link.key, *link.where]:
            if column not in columns:
                raise ContractViolation(
                    f"linked file {paths[name].name} ({name}): column '{column}' missing; "
                    f"it has: {', '.join(columns)}"
                )
        conditions = []
        for position, (column, texts) in enumerate(link.where.items()):
            params[f"w{index}_{position}"] = texts
            conditions.append(
                f"list_contains($w{index}_{position}::varchar[], trim({quote_ident(column)}))"
            )
        filtered = f"(select * from {alias}_rows where {' and '.join(conditions) or 'true'})"
        values = [c for c in columns if c != link.key]
        aggregate = (
            "first({} order by _source_row)"
            if link.rows == "one"
            else f"string_agg({{}}, '{LIST_SEPARATOR}' order by _source_row)"
        )
        outputs = [name + "." + c for c in values]
        cells = ", ".join(
            f"{aggregate.format(_clean(c))} as {quote_ident(out)}"
            for c, out in zip(values, outputs, strict=True)
        )
        grouped = f"""
            create table {alias} as
            select {_clean(link.key)} as _key, count(*) as _n{", " + cells if cells else ""}
            from {filtered} as linked
            group by 1 having _key is not null
        """
        con.execute(grouped, _used(params, grouped))
        on = f"nullif(trim(src.{quote_ident(link.on)}), '')"
        joins.append(f"left join {alias} on {on} = {alias}._key")
        selects += [f"{alias}.{quote_ident(out)}" for out in outputs]
        added += outputs
        if link.rows == "one":
            params[f"n{index}"] = f"linked file {paths[name].name} ({name}): "
            params[f"k{index}"] = f" rows for {link.on} '"
            reasons.append(
                f"case when {alias}._n > 1 then $n{index} || {alias}._n || $k{index}"
                f" || {alias}._key || ''' (rows: one)' end"
            )
        counted = f"""
            select (select count(*) from {filtered}),
                   (select coalesce(sum(_n), 0) from {alias}
                    where not exists (select 1 from src where {on} = {alias}._key)),
                   (select count(*) from src join {alias} on {on} = {alias}._key)
        """
        kept, orphans, matched = con.execute(counted, _used(params, counted)).fetchone()
        notes.append(
            f"linked {name}: {paths[name].name}, {kept} row(s)"
            f"{' kept by where' if link.where else ''}, joined to {matched} of {rows_main}"
            f" row(s); {orphans} linked row(s) match no main row"
        )
        if unreadable:
            notes.append(
                f"linked {name}: {len(unreadable)} unreadable row(s) of {paths[name].name} not "
                f"joined (line {unreadable[0].source_row}: {unreadable[0].reason})"
            )
    reason = f"nullif(concat_ws('; ', {', '.join(reasons)}), '')" if reasons else "null::varchar"
    sql = f"""
        create or replace table src as
        select src.*{"".join(", " + s for s in selects)}, {reason} as {LINK_REASON}
        from src {" ".join(joins)}
        order by src._source_row
    """
    con.execute(sql, _used(params, sql))
    parsed.columns.extend(added)
    return notes


def _load(con, table: str, link: LinkedFile, path: Path, mapping: Mapping):
    try:
        linked = read_file(
            path,
            mapping.format,
            encoding=mapping.encoding,
            csv_options=mapping.csv,
            excel_options=mapping.excel,
            json_options=mapping.json,
        )
    except UnreadableFile as exc:
        raise ContractViolation(f"linked file {path.name} ({link.name}): {exc}") from exc
    try:
        arrow = linked.con.execute("select * from src").fetch_arrow_table()
        columns, rejects = list(linked.columns), list(linked.rejects)
    finally:
        linked.con.close()
    con.register(f"{table}_arrow", arrow)
    con.execute(f"create table {table} as select * from {table}_arrow")
    con.unregister(f"{table}_arrow")
    return columns, rejects


def _clean(column: str) -> str:
    """A cell as the mapper reads it: trimmed, empty or a null text -> null."""
    cell = f"trim({quote_ident(column)})"
    return f"(case when list_contains($nulls::varchar[], upper({cell})) then null else nullif({cell}, '') end)"


def _used(params: dict[str, object], sql: str) -> dict[str, object]:
    used = set(re.findall(r"\$([a-z0-9_]+)\b", sql))
    return {k: v for k, v in params.items() if k in used}
