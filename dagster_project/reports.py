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
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from dagster_project import narratives
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
    """Read-only SQL over one release folder's Parquet files (data/ and narratives/)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.con = duckdb.connect()
        info = self.root / "release.json"
        self.info = json.loads(info.read_text(encoding="utf-8")) if info.is_file() else {}

    def close(self) -> None:
        self.con.close()

    def path(self, table: str) -> Path:
        for folder in ("data", "narratives"):
            candidate = self.root / folder / f"{table}.parquet"
            if candidate.is_file():
                return candidate
        return self.root / "data" / f"{table}.parquet"

    def has(self, table: str) -> bool:
        return self.path(table).is_file()

    def tables(self) -> list[str]:
        return sorted(p.stem for p in (self.root / "data").glob("*.parquet"))

    def rows(self, sql: str, params: Sequence = ()) -> list[dict]:
        """`sql` names tables as {fct_stops}; each becomes read_parquet of the published file."""
        names = {t: f"read_parquet('{self.path(t)}')" for t in _placeholders(sql)}
        cursor = self.con.execute(sql.format(**names), list(params))
        columns = [c[0] for c in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

    def value(self, sql: str, params: Sequence = ()) -> object:
        rows = self.rows(sql, params)
        return next(iter(rows[0].values())) if rows else None

    def file(self, table: str) -> str:
        return self.path(table).relative_to(self.root).as_posix()


def _placeholders(sql: str) -> set[str]:
    import string

    return {name for _, name, _, _ in string.Formatter().parse(sql) if name}


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
        "select count(*) from {fct_stops} where agency_id = ? and stop_year = ?",
        (a, y),
        "rows",
    )
    add(
        "Stops (events)",
        "fct_stops",
        "select count(distinct stop_id) from {fct_stops} where agency_id = ? and stop_year = ?",
        (a, y),
        "distinct stop_id",
    )
    for stop_type, label in STOP_TYPES.items():
        add(
            f"{label}: people stopped",
            "fct_stops",
            "select count(*) from {fct_stops} where agency_id = ? and stop_year = ?"
            " and stop_type = ?",
            (a, y, stop_type),
            f"rows with stop_type = {stop_type}",
        )
    add(
        "Searches",
        "fct_stops",
        "select count(*) from {fct_stops} where agency_id = ? and stop_year = ?"
        " and search_conducted",
        (a, y),
        "rows with search_conducted",
    )
    add(
        "People arrested",
        "fct_arrests",
        "select count(*) from {fct_arrests} where agency_id = ? and arrest_year = ?",
        (a, y),
        "rows",
    )
    add(
        "Use-of-force incidents",
        "fct_use_of_force_incidents",
        "select count(*) from {fct_use_of_force_incidents} where agency_id = ?"
        " and incident_year = ?",
        (a, y),
        "rows",
    )
    add(
        "Complaints received",
        "fct_complaints",
        "select count(*) from {fct_complaints} where agency_id = ? and year(received_date) = ?",
        (a, y),
        "rows by received_date",
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
    chart, total = _by_race_table(ctx, "fct_stops", where, params, f"{label}: people stopped")
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
        f" from {{fct_stops}} where {where}",
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
    chart, total = _by_race_table(ctx, "fct_arrests", where, params, "People arrested")
    if not total:
        return f"<p>No arrests from this agency in {ctx.year} are in the release.</p>"
    kinds = d.rows(
        "select coalesce(offense_severity, 'not recorded') as severity, count(*) as n"
        f" from {{fct_arrests}} where {where} group by all order by n desc, severity",
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
        "",
        ("relative_rate", "rri"),
        None,
    ),
    ("Benchmarks beyond residents (METHODS.md 2)", "", ("benchmark",), None),
    ("Veil of darkness (METHODS.md 6)", "", ("veil", "darkness"), None),
    ("Threshold test (METHODS.md 7)", "", ("threshold",), None),
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
                + ", ".join(f"<code>data/{esc(t)}.parquet</code>" for t in found)
                + "; this report does not summarise it yet — read the file directly.</p>"
            )
        else:
            out.append(
                '<p class="pending"><strong>Not yet published:</strong> no table for this test'
                " is in this release.</p>"
            )
    return "".join(out)


def section_force(ctx: Context) -> str:
    d = ctx.data
    if not d.has("fct_use_of_force_incidents"):
        return not_published_html("use-of-force")
    where, params = "agency_id = ? and incident_year = ?", (ctx.agency_id, ctx.year)
    levels = d.rows(
        "select coalesce(highest_force_level, 'not recorded') as level, count(*) as n"
        f" from {{fct_use_of_force_incidents}} where {where} group by all order by n desc, level",
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
            "agency_id = ? and uof_id in (select uof_id from {fct_use_of_force_incidents}"
            " where agency_id = ? and incident_year = ?)",
            (ctx.agency_id, ctx.agency_id, ctx.year),
            "People force was used on",
        )
        out += chart + source_note(d, "fct_use_of_force_subjects", "subjects of those incidents")
    return out


def section_complaints(ctx: Context) -> str:
    d = ctx.data
    if not d.has("fct_complaints"):
        return not_published_html("complaint")
    rows = d.rows(
        "select coalesce(status, 'not recorded') as status, count(*) as n,"
        " sum(allegation_count) as allegations, sum(sustained_allegation_count) as sustained"
        " from {fct_complaints} where agency_id = ? and year(received_date) = ?"
        " group by all order by n desc, status",
        (ctx.agency_id, ctx.year),
    )
    total = sum(r["n"] for r in rows)
    if not total:
        return (
            f"<p>No complaints received by this agency in {ctx.year} are in the release"
            f" (<code>{esc(d.file('fct_complaints'))}</code>).</p>"
        )
    return table_html(
        ["Status", "Complaints", "Allegations", "Sustained allegations"],
        [
            [esc(r["status"]), fmt_int(r["n"]), fmt_int(r["allegations"]), fmt_int(r["sustained"])]
            for r in rows
        ],
        [
            "Total",
            fmt_int(total),
            fmt_int(sum(r["allegations"] or 0 for r in rows)),
            fmt_int(sum(r["sustained"] or 0 for r in rows)),
        ],
        numeric=(1, 2, 3),
    ) + source_note(d, "fct_complaints", f"agency_id = {ctx.agency_id}, received in {ctx.year}")


def _pending_domain(ctx: Context, fragments: tuple[str, ...], what: str) -> str:
    found = [t for t in ctx.data.tables() if any(f in t for f in fragments)]
    if found:
        return (
            '<p class="pending">Published in '
            + ", ".join(f"<code>data/{esc(t)}.parquet</code>" for t in found)
            + "; this report does not summarise it yet — read the file directly.</p>"
        )
    return not_published_html(what)


def section_bwc(ctx: Context) -> str:
    return (
        _document_html(ctx, "bwc_policy")
        + "<h3>Recordings and audits</h3>"
        + _pending_domain(ctx, ("bwc", "body_worn"), "body-worn camera")
    )


def section_school(ctx: Context) -> str:
    return (
        _document_html(ctx, "school_officer_role")
        + "<h3>School-based contacts</h3>"
        + _pending_domain(ctx, ("school",), "school-based officer")
    )


def section_culture(ctx: Context) -> str:
    return _pending_domain(ctx, ("survey", "culture"), "organisational-culture survey")


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
            " count(*) as n from {fct_stops} where agency_id = ? and stop_year = ?",
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
            "mart_quality_files",
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
        + table_html(
            ["Published file", "SHA-256"],
            [
                [
                    f"<code>{esc(ctx.data.file(t))}</code>",
                    f"<code>{_sha256(ctx.data.path(t))}</code>",
                ]
                for t in used
            ],
        )
    )


def _sha256(path: Path) -> str:
    """The file's SHA-256, as the release's SHA256SUMS and datapackage.json list it."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


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
) -> list[Path]:
    """Writes reports/<agency_id>/<year>.html (and .pdf when `pdf`, or by default when Chromium
    is installed; with `pdf_latest_only`, only for each agency's latest year) into a release
    folder; returns the files written."""
    release_root = Path(release_root)
    agencies_dir = Path(agencies_dir or settings.agencies_dir())
    chromium = chromium_path() if pdf is not False else None
    if pdf and chromium is None:
        raise ReportError("PDF requested but chromium is not installed (reports/scripts/)")
    data = ReleaseData(release_root)
    written: list[Path] = []
    try:
        targets = report_targets(data)
        latest = {agency_id: year for agency_id, year in targets}  # sorted: the last year wins
        for agency_id, year in targets:
            folder = release_root / RELEASE_REPORTS / agency_id
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / f"{year}.html"
            target.write_text(
                render_annual_report(data, agencies_dir, agency_id, year), encoding="utf-8"
            )
            written.append(target)
            if chromium and (not pdf_latest_only or latest[agency_id] == year):
                print_pdf(target, folder / f"{year}.pdf", chromium)
                written.append(folder / f"{year}.pdf")
    finally:
        data.close()
    log.info("wrote %d annual report files", len(written))
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
