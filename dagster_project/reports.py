"""Annual reports (HTML, and PDF when Chromium is present) per agency and year, written into a
release from the release's own Parquet files, and the preparation of the community site (reports/).

Every number in a report is read from a published file, and the file is named beside it; nothing
is read from the warehouse, so nothing that did not pass the quality gate can appear. Charts are
inline SVG drawn here (no JavaScript, no fonts or scripts from anywhere), so the HTML prints as it
shows. The agency's own texts (narratives.py) are shown verbatim; a missing one is stated as
missing.

    python -m dagster_project.reports annual [--release DIR] [--no-pdf]
    python -m dagster_project.reports site-sources [--release DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import logging
import math
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Formatter

import duckdb

from dagster_project import narratives
from dagster_project.publication import (
    EMPTY_PART,
    agency_parts,
    file_identity,
    file_sha256,
    part_agency,
    sql_literal,
)
from ingestion import settings

log = logging.getLogger(__name__)

REPORTS_DIR = settings.PROJECT_ROOT / "reports"
SITE_SOURCE_DIR = REPORTS_DIR / "sources" / "lantern"
RELEASE_REPORTS = "reports"
SMALL_NUMBERS = 10  # dbt var small_numbers_threshold (METHODS.md 9)
# Okabe-Ito: distinguishable with every common colour-vision deficiency, and in greyscale print.
BLUE, ORANGE, GREY = "#0072B2", "#E69F00", "#999999"
STOP_TYPES = {"vehicular": "Traffic stops", "pedestrian": "Pedestrian stops"}

SECTIONS = (
    ("summary", "Summary of key activities"),
    ("traffic", "Traffic stops"),
    ("pedestrian", "Pedestrian stops"),
    ("arrests", "Arrests"),
    ("disparities", "Disparate-impact analysis"),
    ("force", "Use of force"),
    ("complaints", "Complaints"),
    ("bwc", "Body-worn cameras"),
    ("school", "School-based officers"),
    ("culture", "Organisational culture"),
    ("actions", "Actions taken to address disparities"),
    ("quality", "Data quality and exclusions"),
    ("methods", "Methods"),
)


class ReportError(RuntimeError):
    pass


# --- reading the release ---------------------------------------------------------------------


class ReleaseData:
    """Read-only SQL over one release folder's Parquet files (data/ and narratives/).

    With `agency`, a table published in parts (dagster_project/publication.py, Parts) is read
    from that agency's parts only: an annual report reads its own agency's files, not the whole
    state's history (every query of a report is about its agency). With `year` too, a query that
    names a table as `{fct_stops:year}` reads only the agency's part of that year (`<agency>-<year>`;
    a table in parts by agency only is read whole): the query's filter keeps only the rows of the
    year of the table's `year_of` column (stop_year of stop_date, year(started_date), ...), so the
    other years' parts hold none of its rows.

    With `cache`, a query whose files are all fingerprinted in release.json (the published rows'
    content, by table and by part) is answered from an earlier report's result when the same
    query with the same parameters read files of the same fingerprints (QueryCache): the reports
    of an agency-year whose parts did not change cost no scan of them."""

    def __init__(
        self,
        root: Path,
        agency: str | None = None,
        year: int | None = None,
        cache: QueryCache | None = None,
    ):
        self.root = Path(root)
        self.agency = agency
        self.year = year
        self.cache = cache
        self.con = duckdb.connect()
        info = self.root / "release.json"
        self.info = json.loads(info.read_text(encoding="utf-8")) if info.is_file() else {}

    def close(self) -> None:
        self.con.close()

    def path(self, table: str) -> Path:
        """The table's Parquet file, or the glob of its parts (`data/<table>/*.parquet`; with
        `agency`, `data/<table>/<agency>-*.parquet`)."""
        for folder in ("data", "narratives"):
            candidate = self.root / folder / f"{table}.parquet"
            if candidate.is_file():
                return candidate
        folder = self.root / "data" / table
        if folder.is_dir():
            if self.agency is None:
                return folder / "*.parquet"
            whole = folder / f"{part_agency(self.agency)}.parquet"  # parts by agency only
            return whole if whole.is_file() else folder / f"{part_agency(self.agency)}-*.parquet"
        return self.root / "data" / f"{table}.parquet"

    def files(self, table: str, scope: str = "") -> list[Path]:
        """The Parquet files a read of `table` reads (`scope` "year": `{table:year}`'s)."""
        if scope not in ("", "year"):
            raise ReportError(f"unknown scope {scope!r} of {table} (only {{{table}:year}})")
        folder = self.root / "data" / table
        if not folder.is_dir() or (self.root / "data" / f"{table}.parquet").is_file():
            return [self.path(table)]
        if self.agency is None:
            return sorted(folder.glob("*.parquet"))
        parts = agency_parts(folder, self.agency)
        name = part_agency(self.agency)
        if scope == "year" and self.year is not None and all(p.stem != name for p in parts):
            return [p for p in parts if p.stem == f"{name}-{self.year}"]
        return parts

    def has(self, table: str) -> bool:
        """Whether the release publishes the table (for any agency)."""
        return (self.root / "data" / table).is_dir() or self.path(table).is_file()

    def tables(self) -> list[str]:
        data = self.root / "data"
        return sorted(
            {p.stem for p in data.glob("*.parquet")}
            | {p.parent.name for p in data.glob("*/*.parquet")}
        )

    def relation(self, table: str, scope: str = "") -> str:
        """SQL for the table's rows: read_parquet of its file or parts; with none of the agency's
        parts (of the year), no rows with the table's columns (from any of its parts)."""
        return self._read(table, self.files(table, scope))

    def _read(self, table: str, files: list[Path]) -> str:
        if not files and self.has(table):
            return f"(select * from read_parquet({sql_literal(self._any_part(table))}) limit 0)"
        listed = ", ".join(sql_literal(f) for f in files)
        return (
            f"read_parquet([{listed}])"
            if files
            else f"read_parquet({sql_literal(self.path(table))})"
        )

    def _any_part(self, table: str) -> Path:
        return min((self.root / "data" / table).glob("*.parquet"))

    def rows(self, sql: str, params: Sequence = ()) -> list[dict]:
        """`sql` names tables as {fct_stops} (or {fct_stops:year}); each becomes the read of its
        published file or parts (`relation`)."""
        fields = [
            (literal, name, scope or "") for literal, name, scope, _ in Formatter().parse(sql)
        ]
        reads = {(name, scope): self.files(name, scope) for _, name, scope in fields if name}
        cache, key = self.cache, None
        if cache is not None:
            key = self._cache_key(sql, params, reads)
            cached = cache.get(key) if key is not None else None
            if cached is not None:
                return cached
        # `{{` is `{` in a literal here, as with str.format
        text = "".join(
            literal + (self._read(name, reads[name, scope]) if name else "")
            for literal, name, scope in fields
        )
        cursor = self.con.execute(text, list(params))
        columns = [c[0] for c in cursor.description]
        result = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
        if cache is not None and key is not None:
            cache.put(key, result)
        return result

    def fingerprint(self, file: Path) -> str | None:
        """The content fingerprint release.json gives the rows of a published Parquet file (a
        whole table's, or a part's), or None."""
        relative = file.relative_to(self.root).parts
        if len(relative) == 2 and relative[0] == "data":
            return (self.info.get("fingerprints") or {}).get(Path(relative[1]).stem)
        if len(relative) == 3 and relative[0] == "data":
            parts = (self.info.get("parts") or {}).get(relative[1])
            if parts is not None and not parts and file.stem == EMPTY_PART:
                return "empty"
            return (parts or {}).get(file.stem)
        return None

    def _columns(self, file: Path) -> list[list[str]]:
        """The columns and types a read of the file gives (a fingerprint is of the values only:
        the same values published with another type are another input). From the file's footer,
        once per file and process."""
        identity = file_identity(file)
        if identity not in _COLUMNS:
            described = self.con.execute(
                f"describe select * from read_parquet({sql_literal(file)})"
            ).fetchall()
            _COLUMNS[identity] = [[str(row[0]), str(row[1])] for row in described]
        return _COLUMNS[identity]

    def _cache_key(
        self, sql: str, params: Sequence, reads: dict[tuple[str, str], list[Path]]
    ) -> str | None:
        """What a query's result depends on: its text, parameters, and the fingerprints and
        columns of the files it reads (`reads`, by table and scope); None when a file has no
        fingerprint (it is not cached)."""
        inputs = []
        for (name, scope), files in sorted(reads.items()):
            if not files:
                if not self.has(name):
                    return None
                inputs.append((name, scope, "no rows", self._columns(self._any_part(name))))
                continue
            prints = [
                (f.relative_to(self.root).as_posix(), self.fingerprint(f), self._columns(f))
                for f in files
            ]
            if any(p is None for _, p, _ in prints):
                return None
            inputs.append((name, scope, prints))
        payload = [sql, [str(p) for p in params], [type(p).__name__ for p in params], inputs]
        return hashlib.sha256(json.dumps(payload).encode()).hexdigest()

    def value(self, sql: str, params: Sequence = ()) -> object:
        rows = self.rows(sql, params)
        return next(iter(rows[0].values())) if rows else None

    def file(self, table: str) -> str:
        return self.path(table).relative_to(self.root).as_posix()


# A Parquet file's columns and types (ReleaseData._columns), by (device, inode, size, mtime): a
# part hard-linked from the last release is the same file.
_COLUMNS: dict[tuple[int, int, int, int], list[list[str]]] = {}


class QueryCache:
    """Results of the annual reports' queries, kept beside the releases (`.report-queries`) from
    one publication to the next, by ReleaseData._cache_key: the query, its parameters and the
    content fingerprints of the files it read. A report of an agency-year whose parts and tables
    did not change is answered without reading them again; what changed is read, and a night's
    cache keeps only the results that night's reports used (it does not grow with history).

    The file holds only query results (numbers, text, dates) of published files; it is read
    with an unpickler that builds nothing else."""

    VERSION = 1

    def __init__(self, path: Path | None):
        self.path = Path(path) if path is not None else None
        self.entries: dict[str, list[dict]] = {}
        self.used: dict[str, list[dict]] = {}
        self.hits = self.misses = 0
        if self.path is None or not self.path.is_file():
            return
        try:
            with self.path.open("rb") as handle:
                payload = _ResultUnpickler(handle).load()
            if payload.get("version") == [self.VERSION, duckdb.__version__]:
                self.entries = dict(payload["entries"])
        except Exception as exc:  # a damaged cache costs the scans it would have saved
            log.warning("report query cache %s not read (%s): every query runs", self.path, exc)

    @classmethod
    def beside(cls, release_root: Path) -> QueryCache:
        """The cache of the releases' folder (the publish folder) a release is written in."""
        return cls(Path(release_root).resolve().parent / REPORT_CACHE)

    def get(self, key: str) -> list[dict] | None:
        rows = self.used.get(key, self.entries.get(key))
        if rows is None:
            self.misses += 1
            return None
        self.hits += 1
        self.used[key] = rows
        return [dict(r) for r in rows]

    def put(self, key: str, rows: list[dict]) -> None:
        self.used[key] = [dict(r) for r in rows]

    def save(self) -> None:
        """Writes the results used since it was read (atomically: a reader sees the old or the
        new file)."""
        if self.path is None:
            return
        temporary = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        with temporary.open("wb") as handle:
            pickle.dump(
                {"version": [self.VERSION, duckdb.__version__], "entries": self.used},
                handle,
                protocol=pickle.HIGHEST_PROTOCOL,
            )
        os.replace(temporary, self.path)


REPORT_CACHE = ".report-queries"
_SAFE_CLASSES = {
    ("datetime", "date"),
    ("datetime", "datetime"),
    ("datetime", "time"),
    ("datetime", "timedelta"),
    ("datetime", "timezone"),
    ("decimal", "Decimal"),
    ("uuid", "UUID"),
    ("zoneinfo", "ZoneInfo"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("pytz", "_p"),  # DuckDB's timestamps with time zone carry pytz zones, pickled by name
    ("pytz", "_UTC"),
}


class _ResultUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in _SAFE_CLASSES:
            raise pickle.UnpicklingError(f"{module}.{name} is not a query result type")
        return super().find_class(module, name)


def report_targets(data: ReleaseData) -> list[tuple[str, int]]:
    """(agency_id, year) pairs with any activity in the release: stops, arrests, use of force or
    complaints received."""
    parts = []
    for table, year in (
        ("fct_stops", "stop_year"),
        ("fct_arrests", "arrest_year"),
        ("fct_use_of_force_incidents", "incident_year"),
        ("fct_complaints", "year(received_date)"),
    ):
        if data.has(table):
            parts.append(f"select agency_id, {year} as year from {{{table}}}")
    if not parts:
        return []
    rows = data.rows(
        "select distinct agency_id, year from (" + " union all ".join(parts) + ")"
        " where year is not null order by all"
    )
    return [(r["agency_id"], int(r["year"])) for r in rows]


# --- formatting ------------------------------------------------------------------------------


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value))


def fmt_int(value: object) -> str:
    return "—" if value is None else f"{int(value):,}"


def fmt_total(values: Iterable[object]) -> str:
    """A column's total; cells suppressed for small numbers (null) are left out, and the total
    says so ("≥ n") rather than pretend to be exact."""
    values = list(values)
    known = [int(v) for v in values if v is not None]
    if not known:
        return "—"
    return ("≥ " if len(known) < len(values) else "") + f"{sum(known):,}"


def fmt_pct(value: object, digits: int = 1) -> str:
    return "—" if value is None else f"{100 * float(value):.{digits}f}%"


def fmt_num(value: object, digits: int = 2) -> str:
    return "—" if value is None else f"{float(value):,.{digits}f}"


def source_note(data: ReleaseData, table: str, where: str) -> str:
    return (
        f'<p class="source">Source: <code>{esc(data.file(table))}</code>'
        f" (release {esc(data.info.get('release_id', '?'))}), {esc(where)}.</p>"
    )


def table_html(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    total: Sequence[str] | None = None,
    numeric: Sequence[int] = (),
    caption: str = "",
) -> str:
    def cells(values: Sequence[str], tag: str) -> str:
        return "".join(
            f"<{tag}{' class=num' if i in numeric else ''}>{v}</{tag}>"
            for i, v in enumerate(values)
        )

    body = "".join(f"<tr>{cells(r, 'td')}</tr>" for r in rows)
    foot = f'<tfoot><tr class="total">{cells(total, "td")}</tr></tfoot>' if total else ""
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return (
        f"<table>{cap}<thead><tr>{cells(headers, 'th')}</tr></thead>"
        f"<tbody>{body}</tbody>{foot}</table>"
    )


def _nice_step(maximum: float) -> float:
    if maximum <= 0:
        return 1.0
    raw = maximum / 5
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def bar_chart_svg(
    title: str,
    labels: Sequence[str],
    values: Sequence[float | None],
    axis_label: str,
    lower: Sequence[float | None] | None = None,
    upper: Sequence[float | None] | None = None,
    highlight: Sequence[bool] | None = None,
    muted: Sequence[bool] | None = None,
    reference_line: float | None = None,
    value_format: Callable[[float], str] = lambda v: f"{v:,.0f}",
) -> str:
    """A horizontal bar chart with optional 95% interval whiskers, as inline SVG. Bars of
    `highlight` rows are orange (the reference group), `muted` ones grey (small numbers)."""
    width, left, right, row, top = 680, 190, 70, 26, 34
    tops = [u for u in (upper or []) if u is not None]
    maximum = max([v for v in values if v is not None] + tops + [reference_line or 0, 0])
    step = _nice_step(maximum)
    axis_max = step * max(1, math.ceil(maximum / step)) if maximum > 0 else 1.0
    plot = width - left - right
    height = top + row * len(labels) + 46

    def x(v: float) -> float:
        return left + plot * v / axis_max

    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}"'
        f' height="{height}" xmlns="http://www.w3.org/2000/svg" aria-label="{esc(title)}">',
        f'<title>{esc(title)}</title><text x="0" y="16" class="chart-title">{esc(title)}</text>',
    ]
    tick = 0.0
    while tick <= axis_max + 1e-9:
        parts.append(
            f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{top - 4}"'
            f' y2="{top + row * len(labels)}" class="grid"/>'
            f'<text x="{x(tick):.1f}" y="{top + row * len(labels) + 14}" class="tick"'
            f' text-anchor="middle">{esc(value_format(tick))}</text>'
        )
        tick += step
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = top + i * row
        colour = BLUE
        if highlight and highlight[i]:
            colour = ORANGE
        if muted and muted[i]:
            colour = GREY
        parts.append(
            f'<text x="{left - 6}" y="{y + row / 2 + 4:.1f}" text-anchor="end"'
            f' class="label">{esc(label)}</text>'
        )
        if value is None:
            parts.append(
                f'<text x="{left + 4}" y="{y + row / 2 + 4:.1f}" class="value">no rate</text>'
            )
            continue
        parts.append(
            f'<rect x="{left}" y="{y + 4}" width="{max(x(value) - left, 0.5):.1f}"'
            f' height="{row - 8}" fill="{colour}"><title>{esc(label)}: '
            f"{esc(value_format(value))}</title></rect>"
        )
        end = x(value)
        if lower and upper and lower[i] is not None and upper[i] is not None:
            lo, hi = x(lower[i]), x(upper[i])
            mid = y + row / 2
            parts.append(
                f'<path d="M{lo:.1f},{mid:.1f}H{hi:.1f}M{lo:.1f},{mid - 5:.1f}V{mid + 5:.1f}'
                f'M{hi:.1f},{mid - 5:.1f}V{mid + 5:.1f}" class="whisker"/>'
            )
            end = max(end, hi)
        parts.append(
            f'<text x="{end + 4:.1f}" y="{y + row / 2 + 4:.1f}" class="value">'
            f"{esc(value_format(value))}</text>"
        )
    if reference_line is not None:
        parts.append(
            f'<line x1="{x(reference_line):.1f}" x2="{x(reference_line):.1f}" y1="{top - 4}"'
            f' y2="{top + row * len(labels)}" class="refline"/>'
        )
    parts.append(
        f'<text x="{left + plot / 2:.1f}" y="{height - 6}" text-anchor="middle"'
        f' class="axis-label">{esc(axis_label)}</text></svg>'
    )
    return "".join(parts)


def narrative_html(markdown: str) -> str:
    """The agency's Markdown, shown as written: paragraphs, '-' lists and '#' headings; every
    character escaped, nothing added or reworded."""
    blocks, out = [b for b in markdown.replace("\r\n", "\n").split("\n\n") if b.strip()], []
    for block in blocks:
        lines = block.split("\n")
        if all(line.lstrip().startswith(("- ", "* ")) or line.startswith("  ") for line in lines):
            items: list[str] = []
            for line in lines:
                if line.lstrip().startswith(("- ", "* ")):
                    items.append(line.lstrip()[2:])
                else:
                    items[-1] += " " + line.strip()
            out.append("<ul>" + "".join(f"<li>{esc(i)}</li>" for i in items) + "</ul>")
        elif lines[0].startswith("#"):
            out.append(f"<h4>{esc(lines[0].lstrip('#').strip())}</h4>")
            if lines[1:]:
                out.append(f"<p>{esc(' '.join(lines[1:]))}</p>")
        else:
            out.append(f"<p>{esc(' '.join(line.strip() for line in lines))}</p>")
    return '<div class="narrative">' + "".join(out) + "</div>"


def missing_html(what: str, agency_name: str) -> str:
    return (
        f'<p class="missing"><strong>Missing:</strong> {esc(agency_name)} has not provided'
        f" its {esc(what.lower())}. Lantern does not write or infer this text.</p>"
    )


def not_published_html(what: str) -> str:
    return (
        f'<p class="pending"><strong>Not yet published:</strong> the release holds no {esc(what)}'
        " data. This section fills in from the release once it does.</p>"
    )


# --- the report ------------------------------------------------------------------------------


@dataclass
class Context:
    data: ReleaseData
    agency_id: str
    agency_name: str
    year: int
    reference_group: str
    documents: dict[str, narratives.Document]
    community_input: list[narratives.CommunityInput] | None


def _document_html(ctx: Context, document: str) -> str:
    doc = ctx.documents.get(document)
    label = narratives.DOCUMENTS[document]
    if doc is None or doc.status != "published":
        return f"<h3>{esc(label)}</h3>" + missing_html(label, ctx.agency_name)
    dates = f"effective from {doc.effective_from}" + (
        f" to {doc.effective_to}" if doc.effective_to else " (in force)"
    )
    adopted = f"; adopted by {esc(doc.adopted_by)}" if doc.adopted_by else ""
    return (
        f"<h3>{esc(doc.title)}</h3>"
        f'<p class="meta">{esc(label)}, {esc(dates)}{adopted}. The agency\'s own text,'
        f" shown verbatim (<code>narratives/agency_documents.parquet</code>, from"
        f" <code>{esc(doc.source_file)}</code>).</p>" + narrative_html(doc.body_markdown or "")
    )


def _by_race_table(
    ctx: Context, table: str, where: str, params: Sequence, what: str
) -> tuple[str, int]:
    rows = ctx.data.rows(
        f"select coalesce(subject_race, 'not recorded') as race, count(*) as n from {{{table}}}"
        f" where {where} group by all order by n desc, race",
        params,
    )
    total = sum(r["n"] for r in rows)
    if not total:
        return "", 0
    chart = bar_chart_svg(
        f"{what} by perceived race, {ctx.agency_name}, {ctx.year}",
        [r["race"] for r in rows],
        [r["n"] for r in rows],
        f"{what} (count)",
        muted=[r["n"] < SMALL_NUMBERS for r in rows],
    )
    body = [
        [esc(r["race"]), fmt_int(r["n"]), fmt_pct(r["n"] / total)]
        + (["small numbers"] if r["n"] < SMALL_NUMBERS else [""])
        for r in rows
    ]
    tab = table_html(
        ["Perceived race", what, "Share", "Note"],
        body,
        ["Total", fmt_int(total), "100.0%", ""],
        numeric=(1, 2),
    )
    return chart + tab, total


def section_summary(ctx: Context) -> str:
    d, a, y = ctx.data, ctx.agency_id, ctx.year
    rows = []

    def add(label: str, table: str, sql: str, params: Sequence, where: str) -> None:
        if not d.has(table):
            rows.append([esc(label), "not yet published", ""])
            return
        rows.append(
            [
                esc(label),
                fmt_int(d.value(sql, params)),
                f"<code>{esc(d.file(table))}</code> {esc(where)}",
            ]
        )

    add(
        "People stopped (person-stops)",
        "fct_stops",
        "select count(*) from {fct_stops:year} where agency_id = ? and stop_year = ?",
        (a, y),
        "rows",
    )
    add(
        "Stops (events)",
        "fct_stops",
        "select count(distinct stop_id) from {fct_stops:year}"
        " where agency_id = ? and stop_year = ?",
        (a, y),
        "distinct stop_id",
    )
    for stop_type, label in STOP_TYPES.items():
        add(
            f"{label}: people stopped",
            "fct_stops",
            "select count(*) from {fct_stops:year} where agency_id = ? and stop_year = ?"
            " and stop_type = ?",
            (a, y, stop_type),
            f"rows with stop_type = {stop_type}",
        )
    add(
        "Searches",
        "fct_stops",
        "select count(*) from {fct_stops:year} where agency_id = ? and stop_year = ?"
        " and search_conducted",
        (a, y),
        "rows with search_conducted",
    )
    add(
        "People arrested",
        "fct_arrests",
        "select count(*) from {fct_arrests:year} where agency_id = ? and arrest_year = ?",
        (a, y),
        "rows",
    )
    add(
        "Use-of-force incidents",
        "fct_use_of_force_incidents",
        "select count(*) from {fct_use_of_force_incidents:year} where agency_id = ?"
        " and incident_year = ?",
        (a, y),
        "rows",
    )
    add(
        "Complaints received",
        "fct_complaints",
        "select count(*) from {fct_complaints:year} where agency_id = ?"
        " and year(received_date) = ?",
        (a, y),
        "rows by received_date",
    )
    add(
        "Calls for service received",
        "fct_calls_for_service",
        "select count(*) from {fct_calls_for_service:year} where agency_id = ?"
        " and received_year = ?",
        (a, y),
        "rows by received_year",
    )
    add(
        "Body-worn camera recordings",
        "fct_bwc_recordings",
        "select count(*) from {fct_bwc_recordings:year} where agency_id = ?"
        " and year(started_date) = ?",
        (a, y),
        "rows by started_date",
    )
    add(
        "School-based officer contacts",
        "fct_school_incidents",
        "select count(*) from {fct_school_incidents:year} where agency_id = ?"
        " and incident_year = ?",
        (a, y),
        "rows",
    )
    add(
        "Survey respondents",
        "fct_survey_responses",
        "select count(*) from {fct_survey_responses:year} where agency_id = ?"
        " and year(completed_date) = ?",
        (a, y),
        "rows by completed_date",
    )
    inputs = [e for e in ctx.community_input or [] if e.received_date.year == y]
    rows.append(
        [
            "Community input received",
            fmt_int(len(inputs)) if ctx.community_input is not None else "no log kept",
            "<code>narratives/community_input.parquet</code>",
        ]
    )
    return (
        f"<p>What {esc(ctx.agency_name)} did in {y}, as recorded in the data it sent to Lantern"
        " and published after the quality gate. Each count names the file it was counted from"
        " (agency and year filters apply to every row).</p>"
        + table_html(["Activity", "Count", "Counted from"], rows, numeric=(1,))
        + _calls_for_service(ctx)
        + (
            "<p>Every agency-wide performance measure of the year is listed in section"
            f" {[k for k, _ in SECTIONS].index('methods') + 1} (Methods).</p>"
            if ctx.data.has("mart_performance_measures")
            else ""
        )
    )


def section_stops(ctx: Context, stop_type: str) -> str:
    d, label = ctx.data, STOP_TYPES[stop_type]
    parts = []
    if stop_type == "pedestrian":
        parts.append(_document_html(ctx, "stop_strategy"))
        parts.append(f"<h3>{esc(label)} in {ctx.year}</h3>")
    if not d.has("fct_stops"):
        return "".join(parts) + not_published_html("stop")
    where = "agency_id = ? and stop_year = ? and stop_type = ?"
    params = (ctx.agency_id, ctx.year, stop_type)
    chart, total = _by_race_table(ctx, "fct_stops:year", where, params, f"{label}: people stopped")
    if not total:
        parts.append(
            f"<p>No {label.lower()} from this agency in {ctx.year} are in the release.</p>"
        )
        return "".join(parts)
    outcomes = d.rows(
        "select count(*) as people,"
        " count(*) filter (where search_conducted) as searched,"
        " count(*) filter (where frisk_performed) as frisked,"
        " count(*) filter (where arrest_made) as arrested,"
        " count(*) filter (where citation_issued) as cited,"
        " count(*) filter (where warning_issued) as warned"
        f" from {{fct_stops:year}} where {where}",
        params,
    )[0]
    rows = [
        [esc(name), fmt_int(outcomes[key]), fmt_pct(outcomes[key] / outcomes["people"])]
        for key, name in (
            ("searched", "Searched"),
            ("frisked", "Frisked"),
            ("arrested", "Arrested"),
            ("cited", "Cited or summonsed"),
            ("warned", "Warned"),
        )
    ]
    parts.append(
        chart
        + source_note(
            d,
            "fct_stops",
            f"rows with agency_id = {ctx.agency_id}, stop_year ="
            f" {ctx.year}, stop_type = {stop_type}; one row per person stopped",
        )
        + f"<h3>What happened in {label.lower()}</h3>"
        + table_html(
            ["Outcome", "People", f"Share of {fmt_int(outcomes['people'])} people stopped"],
            rows,
            numeric=(1, 2),
        )
        + '<p class="note">How this is measured: one row per person stopped; a person can have'
        " several outcomes, so the shares do not add up to 100%. A stop with several people counts"
        " once per person.</p>"
    )
    return "".join(parts)


def section_arrests(ctx: Context) -> str:
    d = ctx.data
    if not d.has("fct_arrests"):
        return not_published_html("arrest")
    where, params = "agency_id = ? and arrest_year = ?", (ctx.agency_id, ctx.year)
    chart, total = _by_race_table(ctx, "fct_arrests:year", where, params, "People arrested")
    if not total:
        return f"<p>No arrests from this agency in {ctx.year} are in the release.</p>"
    kinds = d.rows(
        "select coalesce(offense_severity, 'not recorded') as severity, count(*) as n"
        f" from {{fct_arrests:year}} where {where} group by all order by n desc, severity",
        params,
    )
    return (
        chart
        + source_note(
            d,
            "fct_arrests",
            f"rows with agency_id = {ctx.agency_id}, arrest_year ="
            f" {ctx.year}; one row per person arrested",
        )
        + "<h3>Arrests by offence severity</h3>"
        + table_html(
            ["Offence severity", "People arrested", "Share"],
            [[esc(k["severity"]), fmt_int(k["n"]), fmt_pct(k["n"] / total)] for k in kinds],
            ["Total", fmt_int(total), "100.0%"],
            numeric=(1, 2),
        )
    )


def _ratio_sentence(
    group: str, ratio: float | None, lo: float | None, hi: float | None, reference: str, what: str
) -> str:
    if ratio is None:
        return f"{group}: no ratio (no {what} recorded for one of the groups)."
    if lo is None or hi is None:
        return f"{group}: {ratio:.2f} times the {reference} {what} (no interval)."
    if lo > 1:
        reading = f"{ratio:.2f} times the rate of {reference} people — clearly higher"
    elif hi < 1:
        reading = f"{ratio:.2f} times the rate of {reference} people — clearly lower"
    else:
        reading = f"{ratio:.2f} times the rate of {reference} people — no clear difference"
    return f"{group}: {what} {reading} (95% interval {lo:.2f} to {hi:.2f})."


def _test_stop_rates(ctx: Context) -> str:
    d = ctx.data
    rows = d.rows(
        "select * from {mart_stop_rates} where agency_id = ? and stop_year = ?"
        " order by stops_per_1000 desc nulls last, subject_race",
        (ctx.agency_id, ctx.year),
    )
    if not rows:
        return f"<p>No stop rates for {ctx.year} in the release.</p>"
    rated = [r for r in rows if r["stops_per_1000"] is not None]
    chart = bar_chart_svg(
        f"Stops per 1,000 residents by perceived race, {ctx.agency_name}, {ctx.year}",
        [r["subject_race"] for r in rated],
        [r["stops_per_1000"] for r in rated],
        "Person-stops per 1,000 residents (bars), 95% interval (whiskers)",
        lower=[r["stops_per_1000_lower"] for r in rated],
        upper=[r["stops_per_1000_upper"] for r in rated],
        highlight=[r["subject_race"] == r["reference_group"] for r in rated],
        muted=[bool(r["is_small_numbers"]) for r in rated],
        value_format=lambda v: f"{v:,.1f}",
    )
    table = table_html(
        [
            "Perceived race",
            "Stops",
            "Residents",
            "Per 1,000",
            "95% interval",
            "Ratio to " + esc(ctx.reference_group),
            "95% interval",
        ],
        [
            [
                esc(r["subject_race"]) + (" (small numbers)" if r["is_small_numbers"] else ""),
                fmt_int(r["stops"]),
                fmt_int(r["population"]),
                fmt_num(r["stops_per_1000"], 1),
                f"{fmt_num(r['stops_per_1000_lower'], 1)}–{fmt_num(r['stops_per_1000_upper'], 1)}"
                if r["stops_per_1000"] is not None
                else "—",
                fmt_num(r["disparity_ratio"]),
                f"{fmt_num(r['disparity_ratio_lower'])}–{fmt_num(r['disparity_ratio_upper'])}"
                if r["disparity_ratio_lower"] is not None
                else "—",
            ]
            for r in rows
        ],
        [
            "Total",
            fmt_total(r["stops"] for r in rows),
            fmt_total(r["population"] for r in rows),
            "",
            "",
            "",
            "",
        ],
        numeric=(1, 2, 3, 4, 5, 6),
    )
    sentences = [
        _ratio_sentence(
            r["subject_race"].capitalize(),
            r["disparity_ratio"],
            r["disparity_ratio_lower"],
            r["disparity_ratio_upper"],
            ctx.reference_group,
            "stop rate per resident",
        )
        for r in rows
        if r["subject_race"] != ctx.reference_group and r["population"]
    ]
    return (
        chart
        + table
        + source_note(d, "mart_stop_rates", f"agency_id = {ctx.agency_id}, stop_year = {ctx.year}")
        + "<p><strong>In plain language.</strong> "
        + " ".join(esc(s) for s in sentences)
        + " Residents are not the same as the people who drive or walk in the area, so a"
        " population benchmark shows where to look, not why.</p>"
        + f'<p class="note">How this is measured: {esc(rows[0]["method"])}</p>'
    )


def _test_search_hit(ctx: Context, kind: str) -> str:
    d = ctx.data
    rows = d.rows(
        "select * from {mart_search_hit_rates} where agency_id = ? and stop_year = ?"
        " order by stops desc, subject_race",
        (ctx.agency_id, ctx.year),
    )
    if not rows:
        return f"<p>No search or hit rates for {ctx.year} in the release.</p>"
    rate, num, den = (
        ("search_rate", "searches", "stops_search_recorded")
        if kind == "search"
        else ("hit_rate", "hits", "searches_outcome_recorded")
    )
    rated = [r for r in rows if r[rate] is not None]
    what = "search rate" if kind == "search" else "hit rate (contraband found per search)"
    chart = bar_chart_svg(
        f"{what.capitalize()} by perceived race, {ctx.agency_name}, {ctx.year}",
        [r["subject_race"] for r in rated],
        [r[rate] * 100 for r in rated],
        f"{'Searches per 100 people stopped' if kind == 'search' else 'Hits per 100 searches'}"
        " (%), 95% Wilson interval",
        lower=[r[f"{rate}_lower"] * 100 for r in rated],
        upper=[r[f"{rate}_upper"] * 100 for r in rated],
        highlight=[r["subject_race"] == r["reference_group"] for r in rated],
        muted=[bool(r["is_small_numbers"]) for r in rated],
        value_format=lambda v: f"{v:.1f}%",
    )
    table = table_html(
        [
            "Perceived race",
            num.capitalize(),
            "Out of",
            "Rate",
            "95% interval",
            "Ratio",
            "95% interval",
        ],
        [
            [
                esc(r["subject_race"]) + (" (small numbers)" if r["is_small_numbers"] else ""),
                fmt_int(r[num]),
                fmt_int(r[den]),
                fmt_pct(r[rate]),
                f"{fmt_pct(r[f'{rate}_lower'])}–{fmt_pct(r[f'{rate}_upper'])}"
                if r[rate] is not None
                else "—",
                fmt_num(r[f"{rate}_ratio"]),
                f"{fmt_num(r[f'{rate}_ratio_lower'])}–{fmt_num(r[f'{rate}_ratio_upper'])}"
                if r[f"{rate}_ratio_lower"] is not None
                else "—",
            ]
            for r in rows
        ],
        [
            "Total",
            fmt_total(r[num] for r in rows),
            fmt_total(r[den] for r in rows),
            fmt_pct(sum(r[num] for r in rows) / max(sum(r[den] for r in rows), 1))
            if all(r[num] is not None and r[den] is not None for r in rows)
            else "—",
            "",
            "",
            "",
        ],
        numeric=(1, 2, 3, 4, 5, 6),
    )
    sentences = [
        _ratio_sentence(
            r["subject_race"].capitalize(),
            r[f"{rate}_ratio"],
            r[f"{rate}_ratio_lower"],
            r[f"{rate}_ratio_upper"],
            ctx.reference_group,
            what,
        )
        for r in rows
        if r["subject_race"] != ctx.reference_group and not r["is_small_numbers"]
    ]
    reading = (
        " A group searched more often than the reference group, per person stopped, faces more"
        " searches; whether those searches were justified is what the hit rate asks."
        if kind == "search"
        else " If searches of a group find contraband less often than searches of the reference"
        " group, officers may have searched that group on less evidence (the outcome test);"
        " different groups can carry contraband at different rates (inframarginality), so this"
        " is a signal, not proof."
    )
    return (
        chart
        + table
        + source_note(
            d, "mart_search_hit_rates", f"agency_id = {ctx.agency_id}, stop_year = {ctx.year}"
        )
        + "<p><strong>In plain language.</strong> "
        + " ".join(esc(s) for s in sentences)
        + esc(reading)
        + "</p>"
        + f'<p class="note">How this is measured: {esc(rows[0]["method"])}</p>'
    )


def _flag_note(row: dict) -> str:
    """The published flag of a rate-mart row, in words."""
    if row.get("is_suppressed"):
        return "suppressed (1–9 cases, or to protect one)"
    if row.get("is_insufficient"):
        return "too few cases to compare (under 50)"
    if row.get("is_small_numbers"):
        return "small numbers"
    return ""


def _interval(lo: object, hi: object, fmt: Callable[[object], str]) -> str:
    return "—" if lo is None or hi is None else f"{fmt(lo)}–{fmt(hi)}"


def _rate_mart(
    ctx: Context,
    table: str,
    measure: str,
    what: str,
    unit_label: str,
    *,
    scale: float = 1.0,
    digits: int = 1,
    extra_where: str = "",
    title: str | None = None,
) -> str:
    """One measure of a rate mart (the shared disparity schema: group_name, numerator,
    denominator, estimate, lower, upper, ratio, ratio_lower, ratio_upper, flags, method) for the
    agency and year: chart with 95% whiskers, table with totals, plain-language reading, source
    and "how this is measured" note. `scale` turns the estimate into the unit shown."""
    d = ctx.data
    rows = d.rows(
        f"select * from {{{table}}} where agency_id = ? and period = ? and measure = ?"
        f" and unit_type = 'agency' {extra_where} order by estimate desc nulls last, group_name",
        (ctx.agency_id, ctx.year, measure),
    )
    if not rows:
        return f"<p>No {esc(what)} for {ctx.year} in <code>{esc(d.file(table))}</code>.</p>"

    def show(v: object) -> str:
        return fmt_num(None if v is None else float(v) * scale, digits)

    rated = [r for r in rows if r["estimate"] is not None]
    chart = (
        bar_chart_svg(
            title or f"{what.capitalize()} by perceived race, {ctx.agency_name}, {ctx.year}",
            [r["group_name"] for r in rated],
            [r["estimate"] * scale for r in rated],
            f"{unit_label} (bars), 95% interval (whiskers)",
            lower=[None if r["lower"] is None else r["lower"] * scale for r in rated],
            upper=[None if r["upper"] is None else r["upper"] * scale for r in rated],
            highlight=[r["group_name"] == r["comparison_group"] for r in rated],
            muted=[bool(r["is_small_numbers"] or r["is_insufficient"]) for r in rated],
            value_format=lambda v: f"{v:,.{digits}f}",
        )
        if rated
        else ""
    )
    tab = table_html(
        [
            "Group",
            "Cases",
            "Out of",
            unit_label,
            "95% interval",
            f"Ratio to {esc(rows[0]['comparison_group'] or ctx.reference_group)}",
            "95% interval",
            "Note",
        ],
        [
            [
                esc(r["group_name"]),
                fmt_int(r["numerator"]) if not r["is_suppressed"] else "suppressed",
                fmt_int(r["denominator"]),
                show(r["estimate"]),
                _interval(r["lower"], r["upper"], show),
                fmt_num(r["ratio"]),
                _interval(r["ratio_lower"], r["ratio_upper"], fmt_num),
                esc(_flag_note(r)),
            ]
            for r in rows
        ],
        [
            "Total",
            fmt_total(r["numerator"] for r in rows),
            fmt_total(r["denominator"] for r in rows),
            "",
            "",
            "",
            "",
            "",
        ],
        numeric=(1, 2, 3, 4, 5, 6),
    )
    sentences = []
    for r in rows:
        if r["group_name"] == r["comparison_group"]:
            continue
        group = r["group_name"].capitalize()
        if r["is_suppressed"] or r["is_insufficient"]:
            sentences.append(f"{group}: not read ({_flag_note(r)}).")
        elif r["ratio"] is not None:
            sentences.append(
                _ratio_sentence(
                    group,
                    r["ratio"],
                    r["ratio_lower"],
                    r["ratio_upper"],
                    r["comparison_group"],
                    what,
                )
            )
    return (
        chart
        + tab
        + source_note(
            d,
            table,
            f"agency_id = {ctx.agency_id}, period = {ctx.year}, measure = {measure},"
            " unit_type = agency",
        )
        + ("<p><strong>In plain language.</strong> " + " ".join(esc(s) for s in sentences))
        + " A total marked ≥ leaves out suppressed cells.</p>"
        + f'<p class="note">How this is measured: {esc(rows[0]["method"])}</p>'
    )


def _test_rri(ctx: Context) -> str:
    points = ctx.data.rows(
        "select decision_point_order, decision_point, base, measure, any_value(method) as method"
        " from {mart_relative_rate_index} where agency_id = ? and period = ? group by all"
        " order by decision_point_order",
        (ctx.agency_id, ctx.year),
    )
    if not points:
        return f"<p>No relative rate index for {ctx.year} in the release.</p>"
    out = [
        "<p>The relative rate index follows people through the decision points: at each one, the"
        " rate of events per 100 of the previous point's events (per 1,000 residents for the"
        " first), for each group, divided by the reference group's rate.</p>"
    ]
    for p in points:
        point = p["decision_point"].replace("_", " ")
        # The mart's method states the estimate's multiplier ("estimate = 1000 * ...").
        found = re.search(r"estimate = ([\d,]+) \*", p["method"] or "")
        per = f"{int(found.group(1).replace(',', '')):,}" if found else "100"
        label = f"{point} per {per} {p['base']}"
        out.append(f"<h4>{esc(point.capitalize())} (base: {esc(p['base'])})</h4>")
        out.append(
            _rate_mart(
                ctx,
                "mart_relative_rate_index",
                p["measure"],
                f"{point} rate (per {p['base']})",
                label.capitalize(),
                title=f"Relative rate index, {point}: {label}, {ctx.agency_name}, {ctx.year}",
            )
        )
    return "".join(out)


BENCHMARK_LABELS = {
    "stops_per_1000_residents": "stops per 1,000 residents",
    "arrests_per_1000_residents": "arrests per 1,000 residents",
    "use_of_force_subjects_per_1000_residents": "people force was used on per 1,000 residents",
}


def _test_benchmarks(ctx: Context) -> str:
    measures = [
        r["measure"]
        for r in ctx.data.rows(
            "select distinct measure from {mart_benchmark_rates} where agency_id = ?"
            " and period = ? order by case when measure like 'stops%' then 0"
            " when measure like 'arrests%' then 1 else 2 end, measure",
            (ctx.agency_id, ctx.year),
        )
    ]
    if not measures:
        return f"<p>No benchmark rates for {ctx.year} in the release.</p>"
    out = []
    for measure in measures:
        label = BENCHMARK_LABELS.get(measure, measure.replace("_", " "))
        out.append(f"<h4>{esc(label.capitalize())}</h4>")
        out.append(
            _rate_mart(ctx, "mart_benchmark_rates", measure, label, label.capitalize())
            + "<p>Residents are not the people who drive or walk in the area: a population"
            " benchmark shows where to look, not why.</p>"
        )
    return "".join(out)


def _year_in_period(column: str = "period") -> str:
    """A fitted test's period is 'YYYY-YYYY': the rows whose span holds the report's year."""
    return (
        f"try_cast(split_part({column}, '-', 1) as integer) <= ?"
        f" and try_cast(split_part({column}, '-', 2) as integer) >= ?"
    )


def _test_veil(ctx: Context) -> str:
    d = ctx.data
    rows = d.rows(
        f"select * from {{mart_veil_of_darkness}} where agency_id = ? and {_year_in_period()}"
        " order by analysis",
        (ctx.agency_id, ctx.year, ctx.year),
    )
    if not rows:
        return (
            f"<p>No veil-of-darkness result covers {ctx.year}: the agency's stops did not meet the"
            " eligibility rules (see the decision log below).</p>"
        )
    names = {
        "veil_of_darkness": "All stops in the inter-twilight window",
        "veil_of_darkness_dst": "Stops within 30 days of a clock change",
    }
    short = {"veil_of_darkness": "All stops", "veil_of_darkness_dst": "Near a clock change"}
    chart = bar_chart_svg(
        f"Veil of darkness: odds ratio of a stopped driver being {rows[0]['group']}"
        f" after dark, {ctx.agency_name}",
        [short.get(r["analysis"], r["analysis"]) for r in rows],
        [r["odds_ratio"] for r in rows],
        "Odds ratio, dark vs light at the same clock time (1 = no difference), 95% interval",
        lower=[r["odds_ratio_lower"] for r in rows],
        upper=[r["odds_ratio_upper"] for r in rows],
        muted=[bool(r["is_small_numbers"]) for r in rows],
        reference_line=1.0,
        value_format=lambda v: f"{v:.2f}",
    )
    tab = table_html(
        [
            "Analysis",
            "Period",
            "Stops",
            f"{esc(rows[0]['group'].capitalize())}",
            f"{esc(rows[0]['reference_group'].capitalize())}",
            "After dark",
            "Odds ratio",
            "95% interval",
            "p",
            "Note",
        ],
        [
            [
                esc(names.get(r["analysis"], r["analysis"])),
                esc(r["period"]),
                fmt_int(r["n"]),
                fmt_int(r["n_black"]),
                fmt_int(r["n_white"]),
                fmt_int(r["n_dark"]),
                fmt_num(r["odds_ratio"]),
                _interval(r["odds_ratio_lower"], r["odds_ratio_upper"], fmt_num),
                fmt_num(r["p_value"], 3),
                "small numbers" if r["is_small_numbers"] else "",
            ]
            for r in rows
        ],
        numeric=(2, 3, 4, 5, 6, 7, 8),
    )
    sentences = []
    for r in rows:
        name = names.get(r["analysis"], r["analysis"])
        lo, hi, ratio = r["odds_ratio_lower"], r["odds_ratio_upper"], r["odds_ratio"]
        if r["is_small_numbers"]:
            sentences.append(f"{name}: too few stops to read (small numbers).")
        elif hi is not None and hi < 1:
            sentences.append(
                f"{name}: {r['group']} drivers made up a smaller share of stops after dark, when"
                f" race is harder to see (odds ratio {ratio:.2f}, 95% interval {lo:.2f} to"
                f" {hi:.2f}) — a sign that race played a part in who was stopped in daylight."
            )
        elif lo is not None and lo > 1:
            sentences.append(
                f"{name}: {r['group']} drivers made up a larger share of stops after dark"
                f" (odds ratio {ratio:.2f}, 95% interval {lo:.2f} to {hi:.2f}); this test finds"
                " no sign of daylight bias against them."
            )
        else:
            sentences.append(
                f"{name}: no clear difference between light and dark (odds ratio {ratio:.2f},"
                f" 95% interval {lo:.2f} to {hi:.2f})."
            )
    return (
        chart
        + tab
        + source_note(d, "mart_veil_of_darkness", f"agency_id = {ctx.agency_id}, period {ctx.year}")
        + "<p><strong>In plain language.</strong> "
        + " ".join(esc(s) for s in sentences)
        + " The test compares stops at the same clock time in light and in darkness; it says"
        " nothing about stops at other times of day.</p>"
        + f'<p class="note">How this is measured: {esc(rows[0]["method"])}.</p>'
    )


def _test_threshold(ctx: Context) -> str:
    d = ctx.data
    rows = d.rows(
        f"select * from {{mart_threshold_test}} where agency_id = ? and {_year_in_period()}"
        ' order by district, "group"',
        (ctx.agency_id, ctx.year, ctx.year),
    )
    if not rows:
        return (
            f"<p>No threshold-test result covers {ctx.year}: no district had enough searches"
            " (see the decision log below).</p>"
        )
    groups = {}
    for r in rows:
        groups.setdefault(r["group"], r)
    pooled = sorted(groups.values(), key=lambda r: r["group"])
    chart = bar_chart_svg(
        f"Threshold test: inferred search threshold by perceived race, {ctx.agency_name}",
        [r["group"] for r in pooled],
        [r["group_threshold"] * 100 for r in pooled],
        "Inferred probability of contraband at which officers search (%), 95% credible interval",
        lower=[r["group_threshold_lower"] * 100 for r in pooled],
        upper=[r["group_threshold_upper"] * 100 for r in pooled],
        highlight=[r["group"] == r["reference_group"] for r in pooled],
        value_format=lambda v: f"{v:.1f}%",
    )
    tab = table_html(
        ["District", "Group", "Stops", "Searches", "Hits", "Threshold", "95% interval", "Note"],
        [
            [
                esc(r["district"]),
                esc(r["group"]),
                fmt_int(r["stops"]),
                fmt_int(r["searches"]),
                fmt_int(r["hits"]),
                fmt_pct(r["threshold"]),
                _interval(r["threshold_lower"], r["threshold_upper"], fmt_pct),
                "small numbers" if r["is_small_numbers"] else "",
            ]
            for r in rows
        ],
        [
            "Total",
            f"{len(rows)} cells",
            fmt_total(r["stops"] for r in rows),
            fmt_total(r["searches"] for r in rows),
            fmt_total(r["hits"] for r in rows),
            "",
            "",
            "",
        ],
        numeric=(2, 3, 4, 5, 6),
    )
    sentences = []
    for r in pooled:
        if r["group"] == r["reference_group"]:
            continue
        lo, hi = r["group_threshold_lower"], r["group_threshold_upper"]
        ref = groups.get(r["reference_group"])
        reading = "lower than" if r["is_lower_than_reference"] else "not clearly lower than"
        sentences.append(
            f"{r['group'].capitalize()}: officers searched when they judged the chance of"
            f" contraband to be about {100 * r['group_threshold']:.1f}% (95% interval"
            f" {100 * lo:.1f}% to {100 * hi:.1f}%), {reading} for {r['reference_group']} people"
            + (f" ({100 * ref['group_threshold']:.1f}%)" if ref else "")
            + "."
        )
    worst = max((r["max_rhat"] or 0) for r in rows)
    divergences = max((r["divergences"] or 0) for r in rows)
    return (
        chart
        + tab
        + source_note(d, "mart_threshold_test", f"agency_id = {ctx.agency_id}, period {ctx.year}")
        + "<p><strong>In plain language.</strong> "
        + " ".join(esc(s) for s in sentences)
        + " A lower threshold means a group is searched on less evidence. The model is fitted to"
        " counts of stops, searches and hits per district; it is a model, not a measurement.</p>"
        + f'<p class="note">How this is measured: {esc(rows[0]["method"])}; sampler checks:'
        f" largest R-hat {worst:.2f}, {divergences} divergent transitions.</p>"
    )


def _decision_log(ctx: Context) -> str:
    d, out = ctx.data, []
    for table, where in (
        ("mart_decision_log", "period = ?"),
        ("mart_decision_log_fits", _year_in_period()),
    ):
        if not d.has(table):
            continue
        params = (ctx.agency_id, ctx.year) + ((ctx.year,) if "split_part" in where else ())
        rows = d.rows(
            f"select * from {{{table}}} where agency_id = ? and {where} order by analysis",
            params,
        )
        if rows:
            out.append(
                table_html(
                    ["Analysis", "Rule", "Before", "After", "Why"],
                    [
                        [
                            esc(r["analysis"]),
                            esc(r["rule"]),
                            fmt_int(r["rows_before"]),
                            fmt_int(r["rows_after"]),
                            esc(r["reason"]),
                        ]
                        for r in rows
                    ],
                    numeric=(2, 3),
                )
                + source_note(d, table, f"agency_id = {ctx.agency_id}, period {ctx.year}")
            )
    if not out:
        return ""
    return (
        "<h3>Eligibility rules applied (decision log)</h3><p>Every filter an analysis applied,"
        " with the records (or rows) before and after it.</p>" + "".join(out)
    )


# Every disparity test of METHODS.md: the published table it reads, or the name fragments a table
# for it will carry once the analytics marts publish it (then it is listed as published, and a
# renderer here summarises it).
DISPARITY_TESTS: tuple[tuple[str, str, tuple[str, ...], Callable[[Context], str] | None], ...] = (
    (
        "Stop rate per 1,000 residents and disparity ratio (METHODS.md 1, 2)",
        "mart_stop_rates",
        ("mart_stop_rates",),
        _test_stop_rates,
    ),
    (
        "Search rate and search-rate ratio (METHODS.md 4)",
        "mart_search_hit_rates",
        ("mart_search_hit_rates",),
        lambda ctx: _test_search_hit(ctx, "search"),
    ),
    (
        "Hit rate: the outcome test (METHODS.md 5)",
        "mart_search_hit_rates",
        ("mart_search_hit_rates",),
        lambda ctx: _test_search_hit(ctx, "hit"),
    ),
    (
        "Relative rate index at each decision point (METHODS.md 3)",
        "mart_relative_rate_index",
        ("relative_rate", "rri"),
        _test_rri,
    ),
    (
        "Benchmarks: stops, arrests and use of force per 1,000 residents (METHODS.md 2)",
        "mart_benchmark_rates",
        ("benchmark",),
        _test_benchmarks,
    ),
    ("Veil of darkness (METHODS.md 6)", "mart_veil_of_darkness", ("veil", "darkness"), _test_veil),
    ("Threshold test (METHODS.md 7)", "mart_threshold_test", ("threshold",), _test_threshold),
)


def section_disparities(ctx: Context) -> str:
    out = [
        "<p>Each test compares groups by perceived race with the agency's reference group"
        f" ({esc(ctx.reference_group)}). Every test the analytics publish is shown; a test not in"
        " this release is listed as such.</p>"
    ]
    tables = ctx.data.tables()
    for title, table, fragments, render in DISPARITY_TESTS:
        out.append(f"<h3>{esc(title)}</h3>")
        found = [t for t in tables if any(f in t for f in fragments)]
        if render is not None and table and ctx.data.has(table):
            out.append(render(ctx))
        elif found:
            out.append(
                '<p class="pending">Published in '
                + ", ".join(f"<code>{esc(ctx.data.file(t))}</code>" for t in found)
                + "; this report does not summarise it yet — read the file directly.</p>"
            )
        else:
            out.append(
                '<p class="pending"><strong>Not yet published:</strong> no table for this test'
                " is in this release.</p>"
            )
    out.append(_decision_log(ctx))
    return "".join(out)


def section_force(ctx: Context) -> str:
    d = ctx.data
    if not d.has("fct_use_of_force_incidents"):
        return not_published_html("use-of-force")
    where, params = "agency_id = ? and incident_year = ?", (ctx.agency_id, ctx.year)
    levels = d.rows(
        "select coalesce(highest_force_level, 'not recorded') as level, count(*) as n"
        f" from {{fct_use_of_force_incidents:year}} where {where}"
        " group by all order by n desc, level",
        params,
    )
    total = sum(r["n"] for r in levels)
    if not total:
        return (
            f"<p>No use-of-force incidents from this agency in {ctx.year} are in the release"
            f" (<code>{esc(d.file('fct_use_of_force_incidents'))}</code>).</p>"
        )
    out = table_html(
        ["Highest force level", "Incidents", "Share"],
        [[esc(r["level"]), fmt_int(r["n"]), fmt_pct(r["n"] / total)] for r in levels],
        ["Total", fmt_int(total), "100.0%"],
        numeric=(1, 2),
    ) + source_note(
        d, "fct_use_of_force_incidents", f"agency_id = {ctx.agency_id}, incident_year = {ctx.year}"
    )
    if d.has("fct_use_of_force_subjects"):
        chart, _ = _by_race_table(
            ctx,
            "fct_use_of_force_subjects",
            "agency_id = ? and uof_id in (select uof_id from {fct_use_of_force_incidents:year}"
            " where agency_id = ? and incident_year = ?)",
            (ctx.agency_id, ctx.agency_id, ctx.year),
            "People force was used on",
        )
        out += chart + source_note(d, "fct_use_of_force_subjects", "subjects of those incidents")
    if d.has("mart_use_of_force_rates"):
        out += "<h3>Force per 1,000 arrests, by perceived race</h3>" + _rate_mart(
            ctx,
            "mart_use_of_force_rates",
            "use_of_force_per_1000_arrests",
            "use-of-force rate per arrest",
            "People force was used on per 1,000 arrests",
        )
    return out


def section_complaints(ctx: Context) -> str:
    d = ctx.data
    if not d.has("fct_complaints"):
        return not_published_html("complaint")
    rows = d.rows(
        "select coalesce(status, 'not recorded') as status, count(*) as n,"
        " sum(allegation_count) as allegations, sum(sustained_allegation_count) as sustained"
        " from {fct_complaints:year} where agency_id = ? and year(received_date) = ?"
        " group by all order by n desc, status",
        (ctx.agency_id, ctx.year),
    )
    total = sum(r["n"] for r in rows)
    if not total:
        return (
            f"<p>No complaints received by this agency in {ctx.year} are in the release"
            f" (<code>{esc(d.file('fct_complaints'))}</code>).</p>"
        )
    return (
        table_html(
            ["Status", "Complaints", "Allegations", "Sustained allegations"],
            [
                [
                    esc(r["status"]),
                    fmt_int(r["n"]),
                    fmt_int(r["allegations"]),
                    fmt_int(r["sustained"]),
                ]
                for r in rows
            ],
            [
                "Total",
                fmt_int(total),
                fmt_int(sum(r["allegations"] or 0 for r in rows)),
                fmt_int(sum(r["sustained"] or 0 for r in rows)),
            ],
            numeric=(1, 2, 3),
        )
        + source_note(d, "fct_complaints", f"agency_id = {ctx.agency_id}, received in {ctx.year}")
        + (
            "<h3>Sustained allegations by the complainant's perceived race</h3>"
            + _rate_mart(
                ctx,
                "mart_complaint_outcomes",
                "sustained_rate",
                "sustained rate of allegations",
                "Sustained allegations per 100 closed",
                scale=100,
                extra_where="and group_type = 'complainant_race'",
            )
            if d.has("mart_complaint_outcomes")
            else ""
        )
    )


def _pending_domain(ctx: Context, fragments: tuple[str, ...], what: str) -> str:
    found = [t for t in ctx.data.tables() if any(f in t for f in fragments)]
    if found:
        return (
            '<p class="pending">Published in '
            + ", ".join(f"<code>{esc(ctx.data.file(t))}</code>" for t in found)
            + "; this report does not summarise it yet — read the file directly.</p>"
        )
    return not_published_html(what)


LATE_ACTIVATION_S = 30  # seconds after the first unit arrived (CANONICAL-MODEL.md b6)


def _share_row(label: str, part: object, whole: object, where: str) -> list[str]:
    share = "—" if not whole or part is None else fmt_pct(int(part) / int(whole))
    note = "small numbers" if whole is not None and 0 < int(whole) < SMALL_NUMBERS else ""
    return [esc(label), fmt_int(part), fmt_int(whole), share, esc(note), esc(where)]


def _bwc_measures(ctx: Context) -> str:
    d, a, y = ctx.data, ctx.agency_id, ctx.year
    if not d.has("fct_bwc_recordings"):
        return _pending_domain(ctx, ("bwc", "body_worn"), "body-worn camera")
    recordings = d.rows(
        "select coalesce(category, 'not recorded') as category, count(*) as n,"
        " count(*) filter (where is_publicly_released) as released,"
        " count(*) filter (where is_deleted) as deleted"
        " from {fct_bwc_recordings:year} where agency_id = ? and year(started_date) = ?"
        " group by all order by n desc, category",
        (a, y),
    )
    total = sum(r["n"] for r in recordings)
    if not total:
        return f"<p>No body-worn camera recordings from this agency in {y} are in the release.</p>"
    out = [
        bar_chart_svg(
            f"Body-worn camera recordings by category, {ctx.agency_name}, {y}",
            [r["category"] for r in recordings],
            [r["n"] for r in recordings],
            "Recordings started in the year (count)",
        ),
        table_html(
            ["Category", "Recordings", "Share", "Publicly released", "Deleted"],
            [
                [
                    esc(r["category"]),
                    fmt_int(r["n"]),
                    fmt_pct(r["n"] / total),
                    fmt_int(r["released"]),
                    fmt_int(r["deleted"]),
                ]
                for r in recordings
            ],
            [
                "Total",
                fmt_int(total),
                "100.0%",
                fmt_int(sum(r["released"] for r in recordings)),
                fmt_int(sum(r["deleted"] for r in recordings)),
            ],
            numeric=(1, 2, 3, 4),
        ),
        source_note(d, "fct_bwc_recordings", f"agency_id = {a}, started in {y}"),
    ]
    rows = []
    if d.has("fct_use_of_force_incidents"):
        force = d.rows(
            "select count(*) as incidents, count(*) filter (where exists (select 1 from"
            " {fct_bwc_recordings} r where r.agency_id = i.agency_id and r.uof_id = i.uof_id))"
            " as recorded from {fct_use_of_force_incidents:year} i"
            " where i.agency_id = ? and i.incident_year = ?",
            (a, y),
        )[0]
        rows.append(
            _share_row(
                "Use-of-force incidents with a recording",
                force["recorded"],
                force["incidents"],
                "fct_use_of_force_incidents.uof_id = fct_bwc_recordings.uof_id",
            )
        )
        if d.has("fct_calls_for_service"):
            late = d.rows(
                "with first as (select r.uof_id, min(r.started_at) as started_at"
                " from {fct_bwc_recordings} r where r.agency_id = ? and r.uof_id is not null"
                " group by r.uof_id)"
                " select count(*) as timed, count(*) filter (where first.started_at >"
                f" c.arrived_at + interval {LATE_ACTIVATION_S} second) as late"
                " from {fct_use_of_force_incidents:year} i join first on first.uof_id = i.uof_id"
                " join {fct_calls_for_service} c on c.call_id = i.call_id"
                " where i.agency_id = ? and i.incident_year = ? and c.arrived_at is not null",
                (a, a, y),
            )[0]
            rows.append(
                _share_row(
                    f"Late activations: first recording more than {LATE_ACTIVATION_S} s after"
                    " the first unit arrived",
                    late["late"],
                    late["timed"],
                    "recorded force incidents with the call's arrival time"
                    " (fct_calls_for_service.arrived_at)",
                )
            )
    if d.has("fct_stops"):
        # The year's stops (the summary's query: answered once) and, of them, those a
        # recording names: the recordings' stop ids (few) probe the year's stops.
        stops = {
            "stops": d.value(
                "select count(distinct stop_id) from {fct_stops:year}"
                " where agency_id = ? and stop_year = ?",
                (a, y),
            ),
            "recorded": d.value(
                "select count(distinct r.stop_id) from {fct_bwc_recordings} r"
                " where r.agency_id = ? and r.stop_id in (select s.stop_id from {fct_stops:year} s"
                " where s.agency_id = ? and s.stop_year = ?)",
                (a, a, y),
            ),
        }
        rows.append(
            _share_row(
                "Stops with a recording",
                stops["recorded"],
                stops["stops"],
                "distinct fct_stops.stop_id = fct_bwc_recordings.stop_id",
            )
        )
    out.append(
        "<h3>Activation</h3>"
        + table_html(
            ["Measure", "With", "Out of", "Share", "Note", "Linked by"], rows, numeric=(1, 2, 3)
        )
        + source_note(
            d,
            "fct_bwc_recordings",
            f"with {d.file('fct_use_of_force_incidents')}, {d.file('fct_calls_for_service')} and"
            f" {d.file('fct_stops')}, agency_id = {a}, {y}",
        )
        + '<p class="note">How this is measured: a recording documents an encounter when its'
        " link key (uof_id, stop_id, call_id) names it. Activation share = encounters of the"
        " year with at least one linked recording ÷ encounters; a late activation is a recorded"
        f" force incident whose first recording started more than {LATE_ACTIVATION_S} seconds"
        " after the first unit arrived on the call. Recordings are counted by the date they"
        " started.</p>"
    )
    if d.has("fct_bwc_audit_events"):
        events = d.rows(
            "select event_type, count(*) as n from {fct_bwc_audit_events:year}"
            " where agency_id = ? and year(event_date) = ? group by all order by n desc, event_type",
            (a, y),
        )
        if events:
            out.append(
                "<h3>Who looked at the footage (audit trail)</h3>"
                + table_html(
                    ["Audit event", "Events"],
                    [[esc(e["event_type"]), fmt_int(e["n"])] for e in events],
                    ["Total", fmt_int(sum(e["n"] for e in events))],
                    numeric=(1,),
                )
                + source_note(d, "fct_bwc_audit_events", f"agency_id = {a}, events in {y}")
            )
    return "".join(out)


def _small(value: object) -> str:
    """A count about students: 1 to 9 is shown as "fewer than 10"."""
    if value is not None and 0 < int(value) < SMALL_NUMBERS:
        return f"fewer than {SMALL_NUMBERS}"
    return fmt_int(value)


def _school_measures(ctx: Context) -> str:
    d, a, y = ctx.data, ctx.agency_id, ctx.year
    if not d.has("fct_school_incidents"):
        return _pending_domain(ctx, ("school",), "school-based officer")
    reasons = d.rows(
        "select coalesce(reason_for_contact, 'not recorded') as reason, count(*) as n,"
        " bool_or(is_school_discipline_matter) as discipline,"
        " count(*) filter (where is_arrest) as arrests,"
        " count(*) filter (where is_justice_referral) as referrals"
        " from {fct_school_incidents:year} where agency_id = ? and incident_year = ?"
        " group by all order by n desc, reason",
        (a, y),
    )
    total = sum(r["n"] for r in reasons)
    if not total:
        return (
            f"<p>No school-based officer contacts from this agency in {y} are in the release.</p>"
        )
    discipline = d.value(
        "select count(*) from {fct_school_incidents:year} where agency_id = ? and incident_year = ?"
        " and is_school_discipline_matter",
        (a, y),
    )
    out = [
        f"<p><strong>{fmt_int(discipline)} of {fmt_int(total)} contacts"
        f" ({fmt_pct(discipline / total)}) were school-discipline matters</strong> (not criminal:"
        " disruption, school-policy violations, truancy), which a limited role would leave to"
        " the school.</p>",
        bar_chart_svg(
            f"School-based officer contacts by reason, {ctx.agency_name}, {y}",
            [r["reason"] for r in reasons],
            [r["n"] for r in reasons],
            "Contacts (count); orange: school-discipline matters",
            highlight=[bool(r["discipline"]) for r in reasons],
        ),
        table_html(
            [
                "Reason for contact",
                "School discipline",
                "Contacts",
                "Share",
                "Arrests",
                "Referrals",
            ],
            [
                [
                    esc(r["reason"]),
                    "yes" if r["discipline"] else "no",
                    fmt_int(r["n"]),
                    fmt_pct(r["n"] / total),
                    fmt_int(r["arrests"]),
                    fmt_int(r["referrals"]),
                ]
                for r in reasons
            ],
            [
                "Total",
                "",
                fmt_int(total),
                "100.0%",
                fmt_int(sum(r["arrests"] for r in reasons)),
                fmt_int(sum(r["referrals"] for r in reasons)),
            ],
            numeric=(2, 3, 4, 5),
        ),
        source_note(d, "fct_school_incidents", f"agency_id = {a}, incident_year = {y}"),
    ]
    races = d.rows(
        "select coalesce(subject_race, 'not recorded') as race, count(*) as n,"
        " count(*) filter (where is_arrest) as arrests,"
        " count(*) filter (where is_justice_referral) as referrals"
        " from {fct_school_incidents:year} where agency_id = ? and incident_year = ?"
        " group by all order by n desc, race",
        (a, y),
    )

    def shown(v: int) -> int | None:
        return None if 0 < v < SMALL_NUMBERS else v

    out.append(
        "<h3>Student arrests and justice referrals by perceived race</h3>"
        + table_html(
            ["Perceived race", "Contacts", "Arrests", "Referrals to the justice system"],
            [
                [esc(r["race"]), _small(r["n"]), _small(r["arrests"]), _small(r["referrals"])]
                for r in races
            ],
            [
                "Total",
                fmt_total(shown(r["n"]) for r in races),
                fmt_total(shown(r["arrests"]) for r in races),
                fmt_total(shown(r["referrals"]) for r in races),
            ],
            numeric=(1, 2, 3),
        )
        + f'<p class="note">How this is measured: rows of the published file, one per student'
        f" contact. Counts about students from 1 to {SMALL_NUMBERS - 1} are shown as “fewer than"
        f" {SMALL_NUMBERS}”; a total marked ≥ leaves them out. A contact is a school-discipline"
        " matter when the agency's record says so (is_school_discipline_matter).</p>"
    )
    return "".join(out)


SURVEY_TYPES = {"officer_climate": "Officer climate survey", "community": "Community survey"}


def _culture_measures(ctx: Context) -> str:
    d, a, y = ctx.data, ctx.agency_id, ctx.year
    if not (d.has("fct_survey_responses") and d.has("fct_survey_item_responses")):
        return _pending_domain(ctx, ("survey", "culture"), "organisational-culture survey")
    # One score per respondent and construct (mean of its items, reverse-scored where the
    # survey says so), then the mean over respondents of each unit.
    cells = d.rows(
        "with scores as (select r.survey_type, r.survey_wave, r.unit, i.construct,"
        " r.response_id, avg(i.scored_value) as score from {fct_survey_responses:year} r"
        " join {fct_survey_item_responses} i on i.response_id = r.response_id"
        " where r.agency_id = ? and year(r.completed_date) = ? and i.scored_value is not null"
        " group by all)"
        " select survey_type, survey_wave, unit, construct, count(*) as respondents,"
        " avg(score) as mean, stddev_samp(score) as sd from scores group by all"
        " order by survey_type desc, construct, unit",
        (a, y),
    )
    if not cells:
        return f"<p>No survey responses from this agency in {y} are in the release.</p>"
    out = []
    for survey_type in dict.fromkeys(c["survey_type"] for c in cells):
        these = [c for c in cells if c["survey_type"] == survey_type]
        label = SURVEY_TYPES.get(survey_type, survey_type)
        waves = ", ".join(dict.fromkeys(c["survey_wave"] for c in these))
        shown = [c for c in these if c["respondents"] >= SMALL_NUMBERS]

        def half(c: dict) -> float | None:
            if c["sd"] is None:
                return None
            return 1.96 * c["sd"] / math.sqrt(c["respondents"])

        out.append(f"<h3>{esc(label)} ({esc(waves)})</h3>")
        if shown:
            out.append(
                bar_chart_svg(
                    f"{label}: construct scores by unit, {ctx.agency_name}, {y}",
                    [f"{c['construct'].replace('_', ' ')} · {c['unit']}" for c in shown],
                    [c["mean"] for c in shown],
                    "Mean score on a 1–5 scale (higher is more favourable), 95% interval",
                    lower=[c["mean"] - (half(c) or 0) for c in shown],
                    upper=[c["mean"] + (half(c) or 0) for c in shown],
                    value_format=lambda v: f"{v:.2f}",
                )
            )
        out.append(
            table_html(
                ["Construct", "Unit", "Respondents", "Mean score (1–5)", "95% interval"],
                [
                    [
                        esc(c["construct"].replace("_", " ")),
                        esc(c["unit"]),
                        fmt_int(c["respondents"]),
                        fmt_num(c["mean"])
                        if c["respondents"] >= SMALL_NUMBERS
                        else f"not shown (fewer than {SMALL_NUMBERS} respondents)",
                        _interval(c["mean"] - half(c), c["mean"] + half(c), fmt_num)
                        if c["respondents"] >= SMALL_NUMBERS and half(c) is not None
                        else "—",
                    ]
                    for c in these
                ],
                numeric=(2, 3, 4),
            )
        )
    respondents = d.rows(
        "select survey_type, count(*) as n from {fct_survey_responses:year}"
        " where agency_id = ? and year(completed_date) = ? group by all order by survey_type desc",
        (a, y),
    )
    out.append(
        table_html(
            ["Survey", "Respondents"],
            [
                [esc(SURVEY_TYPES.get(r["survey_type"], r["survey_type"])), fmt_int(r["n"])]
                for r in respondents
            ],
            ["Total", fmt_int(sum(r["n"] for r in respondents))],
            numeric=(1,),
        )
        + source_note(
            d,
            "fct_survey_item_responses",
            f"joined with {d.file('fct_survey_responses')} on response_id; agency_id = {a},"
            f" completed in {y}",
        )
        + f'<p class="note">How this is measured: each respondent\'s construct score is the mean'
        " of its items (reverse-scored items turned round, scored_value); a unit's score is the"
        " mean over its respondents, with a 95% normal interval. To keep answers anonymous, a"
        f" unit with fewer than {SMALL_NUMBERS} respondents to a construct is not shown.</p>"
    )
    return "".join(out)


def _performance_measures(ctx: Context) -> str:
    """mart_performance_measures, read generically by its `measure` column: every agency-wide
    measure of the year, with its ratio (the measure named `<measure>_ratio`) beside it."""
    d = ctx.data
    if not d.has("mart_performance_measures"):
        return not_published_html("performance-measure")
    rows = d.rows(
        "select m.*, r.value as ratio, r.lower as ratio_lower, r.upper as ratio_upper"
        " from {mart_performance_measures} m left join {mart_performance_measures} r"
        " on r.agency_id = m.agency_id and r.unit_type = m.unit_type and r.unit = m.unit"
        " and r.period = m.period and r.measure = m.measure || '_ratio'"
        " and r.group_type is not distinct from m.group_type"
        " and r.group_name is not distinct from m.group_name"
        " where m.agency_id = ? and m.period = ? and m.unit_type = 'agency'"
        " and not (m.measure like '%\\_ratio' escape '\\' and exists (select 1 from"
        " {mart_performance_measures} b where b.agency_id = m.agency_id and b.period = m.period"
        " and b.measure || '_ratio' = m.measure))"
        " order by m.measure, m.group_type, m.group_name",
        (ctx.agency_id, ctx.year),
    )
    if not rows:
        return f"<p>No agency-wide performance measures for {ctx.year} in the release.</p>"

    def value(v: object) -> str:
        if v is None:
            return "—"
        return f"{float(v):,.1f}" if abs(float(v)) >= 100 else f"{float(v):.3g}"

    measures = len({r["measure"] for r in rows})
    return (
        f"<p>{measures} measures, agency-wide, {ctx.year}; unit rows (districts, precincts) are in"
        " the file.</p>"
        + table_html(
            ["Measure", "Group", "Value", "95% interval", "Cases", "Out of", "Ratio", "Flag"],
            [
                [
                    esc(r["measure"]),
                    esc(r["group_name"] if r["group_type"] != "all" else "all")
                    + (
                        f" <small>({esc(r['group_type'])})</small>"
                        if r["group_type"] not in (None, "all", "race")
                        else ""
                    ),
                    value(r["value"]),
                    _interval(r["lower"], r["upper"], value),
                    fmt_int(r["numerator"]),
                    fmt_int(r["denominator"]),
                    fmt_num(r["ratio"]),
                    esc(r["flag"] if r["flag"] != "ok" else ""),
                ]
                for r in rows
            ],
            numeric=(2, 3, 4, 5, 6),
        )
        + source_note(
            d,
            "mart_performance_measures",
            f"agency_id = {ctx.agency_id}, period = {ctx.year}, unit_type = agency;"
            " the ratio is the row of measure <name>_ratio",
        )
        + '<p class="note">How this is measured: each row names its source mart'
        " (source_model) and method in the file; rates carry 95% intervals, and a flagged row"
        " (suppressed, small_numbers, insufficient_cases) is not to be read as a rate.</p>"
    )


def _calls_for_service(ctx: Context) -> str:
    d = ctx.data
    if not d.has("fct_calls_for_service"):
        return ""
    rows = d.rows(
        "select coalesce(cast(priority as varchar), 'not recorded') as priority, count(*) as n,"
        " count(response_seconds) as timed, median(response_seconds) / 60.0 as median_minutes,"
        " count(*) filter (where is_mental_health_call) as mental_health"
        " from {fct_calls_for_service:year} where agency_id = ? and received_year = ?"
        " group by all order by priority",
        (ctx.agency_id, ctx.year),
    )
    if not rows:
        return ""
    return (
        "<h3>Calls for service</h3>"
        + table_html(
            [
                "Priority",
                "Calls",
                "With a response time",
                "Median response (minutes)",
                "Mental health",
            ],
            [
                [
                    esc(r["priority"]),
                    fmt_int(r["n"]),
                    fmt_int(r["timed"]),
                    fmt_num(r["median_minutes"], 1),
                    fmt_int(r["mental_health"]),
                ]
                for r in rows
            ],
            [
                "Total",
                fmt_int(sum(r["n"] for r in rows)),
                fmt_int(sum(r["timed"] for r in rows)),
                "",
                fmt_int(sum(r["mental_health"] for r in rows)),
            ],
            numeric=(1, 2, 3, 4),
        )
        + source_note(
            d, "fct_calls_for_service", f"agency_id = {ctx.agency_id}, received_year = {ctx.year}"
        )
        + '<p class="note">How this is measured: response time = first unit arrived − call'
        " received (response_seconds); calls cancelled before anyone arrived have none.</p>"
    )


def _freshness(ctx: Context) -> str:
    d = ctx.data
    if not d.has("mart_quality_freshness"):
        return ""
    rows = d.rows(
        "select dataset, expected_cadence, strftime(last_received_at, '%Y-%m-%d') as last,"
        " files_received, days_since_last_received, freshness_status"
        " from {mart_quality_freshness} where agency_id = ? order by dataset",
        (ctx.agency_id,),
    )
    if not rows:
        return ""
    stale = [r for r in rows if r["freshness_status"] != "fresh"]
    return (
        "<h3>Freshness: when each dataset last arrived</h3>"
        + (
            f"<p>{len(stale)} of {len(rows)} datasets are not fresh: "
            + ", ".join(esc(f"{r['dataset']} ({r['freshness_status']})") for r in stale)
            + ".</p>"
            if stale
            else f"<p>All {len(rows)} datasets arrived within their expected cadence.</p>"
        )
        + table_html(
            ["Dataset", "Expected", "Last received", "Files", "Days since", "Status"],
            [
                [
                    esc(r["dataset"]),
                    esc(r["expected_cadence"]),
                    esc(r["last"] or "never"),
                    fmt_int(r["files_received"]),
                    fmt_int(r["days_since_last_received"]),
                    esc(r["freshness_status"]),
                ]
                for r in rows
            ],
            ["Total", "", "", fmt_int(sum(r["files_received"] or 0 for r in rows)), "", ""],
            numeric=(3, 4),
        )
        + source_note(
            d, "mart_quality_freshness", f"agency_id = {ctx.agency_id}, as checked at publication"
        )
    )


def section_bwc(ctx: Context) -> str:
    return (
        _document_html(ctx, "bwc_policy")
        + f"<h3>Recordings in {ctx.year}</h3>"
        + _bwc_measures(ctx)
    )


def section_school(ctx: Context) -> str:
    return (
        _document_html(ctx, "school_officer_role")
        + f"<h3>School-based contacts in {ctx.year}</h3>"
        + _school_measures(ctx)
    )


def section_culture(ctx: Context) -> str:
    return _culture_measures(ctx)


def section_actions(ctx: Context) -> str:
    out = _document_html(ctx, "actions_taken") + "<h3>Community input received</h3>"
    if ctx.community_input is None:
        return out + missing_html("community-input log", ctx.agency_name)
    entries = [e for e in ctx.community_input if e.received_date.year == ctx.year]
    if not entries:
        return out + f"<p>The agency's log records no community input received in {ctx.year}.</p>"
    return out + table_html(
        ["Date", "Channel", "Topic", "What was said", "Agency's response"],
        [
            [
                esc(e.received_date),
                esc(e.channel),
                esc(e.topic),
                esc(e.summary),
                esc(e.response or "no response recorded"),
            ]
            for e in entries
        ],
        ["Total", f"{len(entries)} entries", "", "", ""],
        caption="As the agency logged it (narratives/community_input.parquet); summaries carry"
        " no names or contact details.",
    )


def section_quality(ctx: Context) -> str:
    d, out = ctx.data, []
    if d.has("mart_quality_files"):
        files = d.rows(
            "select dataset, source_file, status, rows_raw, rows_accepted, rows_rejected,"
            " rows_quarantined, loaded_at from {mart_quality_files} where agency_id = ?"
            " order by dataset, source_file",
            (ctx.agency_id,),
        )
        out.append(
            "<h3>Files received and rows kept</h3>"
            + table_html(
                [
                    "Dataset",
                    "File",
                    "Status",
                    "Rows delivered",
                    "Loaded",
                    "Rejected",
                    "Quarantined",
                ],
                [
                    [
                        esc(f["dataset"]),
                        f"<code>{esc(f['source_file'])}</code>",
                        esc(f["status"]),
                        fmt_int(f["rows_raw"]),
                        fmt_int(f["rows_accepted"]),
                        fmt_int(f["rows_rejected"]),
                        fmt_int(f["rows_quarantined"]),
                    ]
                    for f in files
                ],
                [
                    "Total",
                    f"{len(files)} files",
                    "",
                    fmt_int(sum(f["rows_raw"] or 0 for f in files)),
                    fmt_int(sum(f["rows_accepted"] or 0 for f in files)),
                    fmt_int(sum(f["rows_rejected"] or 0 for f in files)),
                    fmt_int(sum(f["rows_quarantined"] or 0 for f in files)),
                ],
                numeric=(3, 4, 5, 6),
            )
            + source_note(d, "mart_quality_files", f"agency_id = {ctx.agency_id}, all years")
        )
    if d.has("mart_quality_rejects"):
        rejects = d.rows(
            "select dataset, coalesce(column_name, '(whole row)') as column_name, problem,"
            " rejected_rows from {mart_quality_rejects} where agency_id = ?"
            " order by rejected_rows desc, dataset",
            (ctx.agency_id,),
        )
        out.append("<h3>Rows excluded, and why</h3>")
        out.append(
            table_html(
                ["Dataset", "Column", "Problem", "Rows"],
                [
                    [
                        esc(r["dataset"]),
                        esc(r["column_name"]),
                        esc(r["problem"]),
                        fmt_int(r["rejected_rows"]),
                    ]
                    for r in rejects
                ],
                ["Total", "", "", fmt_int(sum(r["rejected_rows"] for r in rejects))],
                numeric=(3,),
            )
            + source_note(d, "mart_quality_rejects", f"agency_id = {ctx.agency_id}")
            if rejects
            else "<p>No rows were excluded.</p>"
        )
    if d.has("mart_quality_unmapped_codes"):
        codes = d.rows(
            "select field_name, raw_value, row_count from {mart_quality_unmapped_codes}"
            " where agency_id = ? order by row_count desc, field_name",
            (ctx.agency_id,),
        )
        out.append("<h3>Codes the agency's mapping does not translate</h3>")
        out.append(
            table_html(
                ["Field", "Value as sent", "Rows"],
                [
                    [esc(c["field_name"]), esc(c["raw_value"]), fmt_int(c["row_count"])]
                    for c in codes
                ],
                ["Total", "", fmt_int(sum(c["row_count"] for c in codes))],
                numeric=(2,),
            )
            if codes
            else "<p>Every code the agency sent is mapped.</p>"
        )
    if d.has("fct_stops"):
        fresh = d.rows(
            "select min(stop_date) as first, max(stop_date) as last,"
            " count(*) filter (where subject_race is null or subject_race = 'unknown') as unknown,"
            " count(*) as n from {fct_stops:year} where agency_id = ? and stop_year = ?",
            (ctx.agency_id, ctx.year),
        )[0]
        if fresh["n"]:
            out.append(
                "<h3>Coverage and freshness</h3>"
                f"<p>Stops in {ctx.year} run from {esc(fresh['first'])} to {esc(fresh['last'])}."
                f" Perceived race is unknown for {fmt_int(fresh['unknown'])} of"
                f" {fmt_int(fresh['n'])} people stopped ({fmt_pct(fresh['unknown'] / fresh['n'])})."
                "</p>"
            )
    out.append(_freshness(ctx))
    checks = d.root / "checks.json"
    if checks.is_file():
        results = json.loads(checks.read_text(encoding="utf-8"))
        passed = sum(1 for c in results if c.get("passed"))
        out.append(
            f"<p>The release passed the quality gate: {passed} of {len(results)} checks passed"
            " (<code>checks.json</code>); a blocking failure would have stopped publication.</p>"
        )
    return "".join(out) or not_published_html("quality")


def section_methods(ctx: Context) -> str:
    used = [
        t
        for t in (
            "fct_stops",
            "fct_arrests",
            "mart_stop_rates",
            "mart_search_hit_rates",
            "fct_use_of_force_incidents",
            "fct_use_of_force_subjects",
            "fct_complaints",
            "mart_relative_rate_index",
            "mart_benchmark_rates",
            "mart_veil_of_darkness",
            "mart_threshold_test",
            "mart_decision_log",
            "mart_decision_log_fits",
            "mart_use_of_force_rates",
            "mart_complaint_outcomes",
            "mart_performance_measures",
            "fct_calls_for_service",
            "fct_bwc_recordings",
            "fct_bwc_audit_events",
            "fct_school_incidents",
            "fct_survey_responses",
            "fct_survey_item_responses",
            "mart_quality_files",
            "mart_quality_freshness",
            "mart_quality_rejects",
            "mart_quality_unmapped_codes",
            "agency_documents",
            "community_input",
        )
        if ctx.data.has(t)
    ]
    return (
        "<ul>"
        "<li>Every count is a count of rows of the published file named beside it, filtered to"
        f" agency_id = {esc(ctx.agency_id)} and the year. Stops are counted per person stopped"
        " (a stop with three people is three rows); traffic stops are stop_type"
        " <code>vehicular</code>.</li>"
        "<li>Race is as the officer perceived it, unless the agency records otherwise.</li>"
        f"<li>Small numbers: a rate whose numerator or denominator is below {SMALL_NUMBERS} is"
        " flagged (grey bars, “small numbers”) and not read in plain language; intervals are"
        " 95%.</li>"
        "<li>The agency's texts are shown as the agency wrote them; a missing text is stated as"
        " missing.</li>"
        "</ul>"
        + "<h3>Performance measures (agency-wide)</h3>"
        + _performance_measures(ctx)
        + "<h3>Files read</h3>"
        + table_html(
            ["Published file", "SHA-256"],
            [
                [
                    f"<code>{esc(path.relative_to(ctx.data.root).as_posix())}</code>",
                    f"<code>{file_sha256(path)}</code>",
                ]
                for t in used
                for path in ctx.data.files(t)
            ],
        )
    )


CSS = """
body{font-family:"DejaVu Sans",Arial,sans-serif;color:#111;max-width:760px;margin:2em auto;
 line-height:1.45;font-size:11pt}
h1{font-size:20pt;margin-bottom:0}h2{font-size:15pt;border-bottom:2px solid #0072B2;
 margin-top:1.8em}h3{font-size:12pt;margin-bottom:.3em}
table{border-collapse:collapse;margin:.6em 0 1em;font-size:9.5pt;width:100%}
th,td{border-bottom:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#eef3f8}td.num,th.num{text-align:right}tr.total td{font-weight:bold;
 border-top:2px solid #333}caption{text-align:left;font-size:9pt;color:#444}
.source,.note,.meta{font-size:9pt;color:#444}.missing{background:#fff3e0;padding:6px 8px;
 border-left:4px solid #E69F00}.pending{background:#f2f2f2;padding:6px 8px;border-left:4px solid
 #999}.narrative{border-left:4px solid #0072B2;padding:0 10px;background:#f7fafd}
ul.toc{list-style:none;padding-left:1em}svg.chart{max-width:100%;height:auto;display:block;margin:.5em 0}
.chart-title{font-weight:bold;font-size:12px}.label,.value,.tick,.axis-label{font-size:11px}
.grid{stroke:#ddd}.whisker{stroke:#111;stroke-width:1.5;fill:none}.refline{stroke:#111;
 stroke-dasharray:4 3}.tick,.axis-label{fill:#333}
@page{size:A4;margin:16mm}@media print{body{margin:0;max-width:none}h2{break-after:avoid}
 table,svg{break-inside:avoid}}
"""


def render_annual_report(data: ReleaseData, agencies_dir: Path, agency_id: str, year: int) -> str:
    """The annual report of one agency and year, as a standalone HTML document."""
    agency = data.rows("select * from {dim_agencies} where agency_id = ?", (agency_id,))
    if not agency:
        raise ReportError(f"agency {agency_id} is not in {data.file('dim_agencies')}")
    documents = {d.document: d for d in narratives.load_documents(agencies_dir, agency_id)}
    ctx = Context(
        data,
        agency_id,
        agency[0]["agency_name"],
        year,
        agency[0]["reference_group"] or "white",
        documents,
        narratives.load_community_input(agencies_dir, agency_id),
    )
    renderers: dict[str, Callable[[Context], str]] = {
        "summary": section_summary,
        "traffic": lambda c: section_stops(c, "vehicular"),
        "pedestrian": lambda c: section_stops(c, "pedestrian"),
        "arrests": section_arrests,
        "disparities": section_disparities,
        "force": section_force,
        "complaints": section_complaints,
        "bwc": section_bwc,
        "school": section_school,
        "culture": section_culture,
        "actions": section_actions,
        "quality": section_quality,
        "methods": section_methods,
    }
    release_id = data.info.get("release_id", "?")
    toc = "".join(
        f'<li><a href="#{key}">{number}. {esc(title)}</a></li>'
        for number, (key, title) in enumerate(SECTIONS, 1)
    )
    body = "".join(
        f'<section id="{key}"><h2>{number}. {esc(title)}</h2>{renderers[key](ctx)}</section>'
        for number, (key, title) in enumerate(SECTIONS, 1)
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(ctx.agency_name)}: annual report {year}</title><style>{CSS}</style>"
        "</head><body>"
        f"<header><h1>{esc(ctx.agency_name)}</h1><p><strong>Annual report {year}</strong>:"
        " key activities, stops, arrests, disparities and the actions taken to address them.</p>"
        f'<p class="meta">Generated by Lantern from open-data release {esc(release_id)}'
        f" ({esc(data.info.get('created_at', ''))}). Every number is read from the published"
        " file named beside it.</p></header>"
        f'<nav><ul class="toc">{toc}</ul></nav>{body}</body></html>'
    )


# --- writing reports and PDFs ------------------------------------------------------------------


def chromium_path() -> str | None:
    """The headless browser used for PDFs and the site tests: $CHROMIUM, else Debian's package."""
    candidate = os.environ.get("CHROMIUM")
    if candidate and Path(candidate).is_file():
        return candidate
    # Debian's /usr/bin/chromium is a wrapper that adds Google API keys and remote extensions
    # (more calls home); the browser it wraps takes our flags alone.
    for name in ("/usr/lib/chromium/chromium", "/usr/bin/chromium", shutil.which("chromium") or ""):
        if name and Path(name).is_file():
            return name
    return None


CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,MediaRouter,Translate,"
    "AutofillServerCommunication,CertificateTransparencyComponentUpdater",
)


def print_pdf(html_path: Path, pdf_path: Path, chromium: str) -> None:
    with tempfile.TemporaryDirectory(prefix="lantern-chromium-") as profile:
        result = subprocess.run(
            [
                chromium,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                "--no-pdf-header-footer",
                f"--print-to-pdf={pdf_path}",
                html_path.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    if result.returncode != 0 or not pdf_path.is_file():
        raise ReportError(f"chromium could not print {html_path}: {result.stderr[-500:]}")


def write_annual_reports(
    release_root: Path,
    agencies_dir: Path | None = None,
    *,
    pdf: bool | None = None,
    pdf_latest_only: bool = False,
    cache: QueryCache | None = None,
) -> list[Path]:
    """Writes reports/<agency_id>/<year>.html (and .pdf when `pdf`, or by default when Chromium
    is installed; with `pdf_latest_only`, only for each agency's latest year) into a release
    folder; returns the files written. Queries are answered from `cache` where their files did
    not change (by default the cache beside the releases, QueryCache.beside)."""
    release_root = Path(release_root)
    agencies_dir = Path(agencies_dir or settings.agencies_dir())
    chromium = chromium_path() if pdf is not False else None
    if pdf and chromium is None:
        raise ReportError("PDF requested but chromium is not installed (reports/scripts/)")
    cache = cache if cache is not None else QueryCache.beside(release_root)
    data = ReleaseData(release_root)
    written: list[Path] = []
    try:
        targets = report_targets(data)
        latest = {agency_id: year for agency_id, year in targets}  # sorted: the last year wins
        for agency_id, year in targets:
            folder = release_root / RELEASE_REPORTS / agency_id
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / f"{year}.html"
            # the agency's parts only; {table:year}, the year's
            own = ReleaseData(release_root, agency=agency_id, year=year, cache=cache)
            try:
                html_text = render_annual_report(own, agencies_dir, agency_id, year)
            finally:
                own.close()
            target.write_text(html_text, encoding="utf-8")
            written.append(target)
            if chromium and (not pdf_latest_only or latest[agency_id] == year):
                print_pdf(target, folder / f"{year}.pdf", chromium)
                written.append(folder / f"{year}.pdf")
    finally:
        data.close()
    cache.save()
    log.info(
        "wrote %d annual report files; %d queries answered from the last reports', %d run",
        len(written),
        cache.hits,
        cache.misses,
    )
    return written


def add_to_release(release_root: Path) -> None:
    """The publication hook: the agencies' narratives, then the annual reports, written into a
    release folder before its checksums are taken.

    PDFs only where Chromium is installed, and by default only for each agency's latest year (the
    report being issued; printing is about 2.5 s a report, and an agency with 17 years of history
    would add 40 s to every night). LANTERN_REPORT_PDF=all prints every year, =none none;
    `make reports` prints every year."""
    from ingestion import config

    release_root = Path(release_root)
    agencies = config.agency_ids(settings.agencies_dir())
    narratives.write_narratives(release_root, settings.agencies_dir(), agencies)
    want_pdf = os.environ.get("LANTERN_REPORT_PDF", "latest")
    write_annual_reports(
        release_root,
        pdf=False if want_pdf == "none" else None,
        pdf_latest_only=want_pdf != "all",
    )


# --- the community site ----------------------------------------------------------------------


PLACEHOLDERS = "placeholders"  # git-ignored: empty stand-ins for tables a release lacks


def contract_columns(table: str) -> dict[str, str] | None:
    """A public table's columns and types, as its contract states them: the dbt model's YAML
    (data_type per column, enforced) or the model fits' column list (analytics/nightly.py)."""
    import yaml

    from dagster_project.analytics import nightly

    if table in nightly.TABLES:
        return {c: t for c, (t, _) in nightly.TABLES[table][1].items()}
    for path in sorted((settings.PROJECT_ROOT / "dbt" / "models").rglob("*.yml")):
        for model in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("models", []):
            if model.get("name") == table and model.get("columns"):
                return {c["name"]: c.get("data_type") or "varchar" for c in model["columns"]}
    return None


_SITE_READ = re.compile(r"read_parquet\('([a-z0-9_]+)(/\*)?\.parquet'\)")


def site_reads(source_dir: Path = SITE_SOURCE_DIR) -> dict[str, bool]:
    """The published tables the site's sources read -> whether in parts: `read_parquet(
    '<table>.parquet')`, or `read_parquet('<table>/*.parquet')` for a table published in parts
    (dagster_project/publication.py, Parts)."""
    return {
        name: bool(parted)
        for sql in source_dir.glob("*.sql")
        for name, parted in _SITE_READ.findall(sql.read_text())
    }


def site_tables(source_dir: Path = SITE_SOURCE_DIR) -> set[str]:
    """The published tables the site's sources read."""
    return set(site_reads(source_dir))


def write_placeholders(release_root: Path, source_dir: Path = SITE_SOURCE_DIR) -> list[str]:
    """For every table the site reads that the release lacks (an older release, a table not yet
    published), an empty Parquet file with the table's contract columns (in a folder of its
    own for a table read in parts), so the sources still run and the page says the section is
    not published. Returns the tables stood in for."""
    folder = source_dir / PLACEHOLDERS
    shutil.rmtree(folder, ignore_errors=True)
    reads = site_reads(source_dir)
    missing = sorted(
        t
        for t, parted in reads.items()
        if not any(
            any((release_root / f).glob(f"{t}/*.parquet" if parted else f"{t}.parquet"))
            for f in ("data", "narratives")
        )
    )
    if not missing:
        return []
    folder.mkdir(parents=True)
    con = duckdb.connect()
    try:
        for table in missing:
            columns = contract_columns(table)
            if columns is None:
                read = f"{table}/*.parquet" if reads[table] else f"{table}.parquet"
                raise ReportError(
                    f"the site reads {read}, which {release_root} lacks, and no contract"
                    " (dbt YAML or analytics/nightly.py) gives its columns"
                )
            select = ", ".join(f'cast(null as {t}) as "{c}"' for c, t in columns.items())
            target = (
                folder / table / "empty.parquet" if reads[table] else folder / f"{table}.parquet"
            )
            target.parent.mkdir(exist_ok=True)
            con.execute(f"copy (select {select} limit 0) to '{target}'")
    finally:
        con.close()
    log.info("site: no %s in the release; empty placeholders written", ", ".join(missing))
    return missing


def write_site_sources(release_root: Path, source_dir: Path = SITE_SOURCE_DIR) -> None:
    """Points the Evidence source at a release: an empty DuckDB file for the connector to open
    (storage v1.0.0, readable by Evidence's Node DuckDB) and initialize.sql setting DuckDB's
    file_search_path to the release, so `sources/lantern/*.sql` read `read_parquet('x.parquet')`."""
    release_root = Path(release_root).resolve()
    if not (release_root / "data").is_dir():
        raise ReportError(f"{release_root} is not a release (no data/ folder); run `make demo`")
    source_dir.mkdir(parents=True, exist_ok=True)
    database = source_dir / "lantern.duckdb"
    database.unlink(missing_ok=True)
    duckdb.connect(str(database), config={"storage_compatibility_version": "v1.0.0"}).close()
    folders = [release_root / "data", release_root / "narratives", release_root]
    placeholders = write_placeholders(release_root, source_dir)
    if placeholders:
        folders.append(source_dir / PLACEHOLDERS)
    search_path = ",".join(str(f) for f in folders).replace("'", "''")
    (source_dir / "initialize.sql").write_text(
        f"-- written by dagster_project.reports for release {release_root.name}\n"
        f"SET file_search_path = '{search_path}';\n",
        encoding="utf-8",
    )


def site_enabled() -> bool:
    """The nightly job builds the site only when asked (LANTERN_BUILD_SITE=1) and reports/ is
    installed (`make reports`): a build takes about a minute and 3 GB, too much for `make demo`."""
    return (
        os.environ.get("LANTERN_BUILD_SITE", "0").lower() in ("1", "true", "yes")
        and (REPORTS_DIR / "node_modules").is_dir()
    )


def build_site(release_root: Path, out_dir: Path, project: Path = REPORTS_DIR) -> Path:
    """Builds the Evidence site of `project` over a release and copies it to `out_dir` (replaced
    only once the new build is complete)."""
    write_site_sources(release_root, project / "sources" / "lantern")
    env = {
        **os.environ,
        "NODE_OPTIONS": os.environ.get("NODE_OPTIONS", "--max-old-space-size=4096"),
    }
    for script in ("sources", "build"):
        result = subprocess.run(
            ["npm", "run", script], cwd=project, env=env, capture_output=True, text=True
        )
        if result.returncode != 0:
            raise ReportError(
                f"npm run {script} failed in {project}: {result.stdout[-2000:]}"
                f"{result.stderr[-2000:]}"
            )
    out_dir = Path(out_dir)
    staging = out_dir.with_name(f".{out_dir.name}-new")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(project / "build", staging)
    previous = out_dir.with_name(f".{out_dir.name}-old")
    shutil.rmtree(previous, ignore_errors=True)
    if out_dir.exists():
        out_dir.rename(previous)
    staging.rename(out_dir)
    shutil.rmtree(previous, ignore_errors=True)
    return out_dir


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dagster_project.reports")
    commands = parser.add_subparsers(dest="command", required=True)
    annual = commands.add_parser("annual", help="write the annual reports into a release")
    annual.add_argument("--release", type=Path, default=settings.publish_dir() / "current")
    annual.add_argument("--no-pdf", action="store_true")
    site = commands.add_parser("site-sources", help="point reports/ at a release")
    site.add_argument("--release", type=Path, default=settings.publish_dir() / "current")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    release = args.release.resolve()
    if not (release / "data").is_dir():
        print(f"no release at {args.release}: run `make demo` first", file=sys.stderr)
        return 1
    if args.command == "annual":
        if not (release / "narratives").is_dir():
            from ingestion import config

            narratives.write_narratives(
                release, settings.agencies_dir(), config.agency_ids(settings.agencies_dir())
            )
        files = write_annual_reports(release, pdf=False if args.no_pdf else None)
        # The release gained files: keep it verifiable (verify_release, SHA256SUMS).
        from dagster_project.publication import write_sha256sums

        write_sha256sums(release)
        for file in files:
            print(file.relative_to(release))
    else:
        write_site_sources(release)
        print(f"reports/sources/lantern now reads {release}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
