"""The community site, built from a demo release and served on 127.0.0.1, loaded in headless
Chromium: the overview and one agency page render their tables and charts with the numbers of the
published files, and the browser asks nothing of any host but 127.0.0.1 (every other request would
go to a counting proxy)."""

from __future__ import annotations

import functools
import html
import http.server
import os
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import duckdb
import pytest

from dagster_project import reports

NODE_MODULES = reports.REPORTS_DIR / "node_modules"
pytestmark = pytest.mark.skipif(
    not NODE_MODULES.is_dir() or reports.chromium_path() is None or shutil.which("npm") is None,
    reason="needs reports/node_modules and chromium: `make reports` or `make test` sets them up",
)
# What a fresh copy of reports/ must not carry over from a developer's build.
NOT_COPIED = {
    "node_modules",
    ".evidence",
    "build",
    "lantern.duckdb",
    "initialize.sql",
    "placeholders",
}


class _Files(http.server.SimpleHTTPRequestHandler):
    """The static build, with SvelteKit's page files found without their .html suffix."""

    served: list[str] = []

    def translate_path(self, path):
        _Files.served.append(path)
        local = Path(super().translate_path(path))
        if not local.exists() and local.with_suffix(".html").is_file():
            return str(local.with_suffix(".html"))
        return str(local)

    def log_message(self, *args):
        pass


# Chromium's own services, which it calls whatever page it shows (measured: loading about:blank
# with the same flags calls the first two; --disable-component-update and
# --disable-background-networking do not stop them). They are browser housekeeping, not the site:
# they are refused by the proxy like everything else and listed apart. Any other host fails.
CHROMIUM_SERVICES = {
    "update.googleapis.com",
    "accounts.google.com",
    "clients2.google.com",
    "content-autofill.googleapis.com",
}


def outside_requests() -> list[str]:
    """Requests for hosts other than 127.0.0.1 that are not Chromium's own services."""
    out = []
    for line in _Proxy.seen:
        target = line.split(" ")[1]
        host = re.sub(r"^[a-z]+://", "", target).split("/")[0].split(":")[0]
        if host not in CHROMIUM_SERVICES:
            out.append(line)
    return out


class _Proxy(http.server.BaseHTTPRequestHandler):
    """Chromium's --proxy-server: every request for a host other than 127.0.0.1 lands here."""

    seen: list[str] = []

    def _refuse(self):
        _Proxy.seen.append(self.requestline)
        self.send_error(403)

    do_GET = do_POST = do_HEAD = do_CONNECT = do_OPTIONS = _refuse

    def log_message(self, *args):
        pass


def _serve(handler) -> tuple[http.server.ThreadingHTTPServer, int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


@pytest.fixture(scope="module")
def site(demo_release, tmp_path_factory):
    """reports/ copied beside the worktree's node_modules, pointed at the demo release, built."""
    project = tmp_path_factory.mktemp("site") / "reports"
    shutil.copytree(
        reports.REPORTS_DIR, project, ignore=lambda _d, names: [n for n in names if n in NOT_COPIED]
    )
    (project / "node_modules").symlink_to(NODE_MODULES)
    reports.write_site_sources(demo_release, project / "sources" / "lantern")
    env = {**os.environ, "NODE_OPTIONS": "--max-old-space-size=4096"}
    for script in ("sources", "build"):
        result = subprocess.run(
            ["npm", "run", script], cwd=project, env=env, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    files, port = _serve(functools.partial(_Files, directory=str(project / "build")))
    proxy, proxy_port = _serve(_Proxy)
    yield {"port": port, "proxy_port": proxy_port, "release": demo_release}
    files.shutdown()
    proxy.shutdown()


def rendered(site, path: str) -> str:
    """The page's DOM once its scripts ran (DuckDB-wasm queries, charts), as text."""
    with tempfile.TemporaryDirectory(prefix="lantern-chromium-") as profile:
        result = subprocess.run(
            [
                reports.chromium_path(),
                *reports.CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                f"--proxy-server=http://127.0.0.1:{site['proxy_port']}",
                "--proxy-bypass-list=<-loopback>;127.0.0.1",
                "--virtual-time-budget=15000",
                "--window-size=1280,4000",
                "--dump-dom",
                f"http://127.0.0.1:{site['port']}{path}",
            ],
            capture_output=True,
            text=True,
            timeout=180,
        )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def cells(dom: str) -> list[str]:
    return [
        html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
        for c in re.findall(r"<td[^>]*>(.*?)</td>", dom, re.S)
    ]


def published(release: Path, sql: str, params=()) -> list[tuple]:
    con = duckdb.connect()
    try:
        return con.execute(sql.format(data=release / "data"), list(params)).fetchall()
    finally:
        con.close()


def charts(dom: str) -> dict[str, str]:
    """Chart title -> the data ECharts wrote into the chart's aria-label (the pages turn ECharts'
    aria option on, so the numbers drawn are in the DOM, not only in the canvas)."""
    labels = [html.unescape(a) for a in re.findall(r'aria-label="(This is a chart[^"]*)"', dom)]
    out = {}
    for label in labels:
        title = re.search(r'chart about "(.*?)"', label)
        out[title.group(1) if title else label] = label
    assert len(re.findall(r"<canvas", dom)) >= len(out)
    return out


def drawn(chart: str, category: str) -> float:
    """The value drawn for one category: `the data for <category> is <value>, <index>, ...`."""
    match = re.search(rf"the data for {re.escape(category)} is ([0-9.]+),", chart)
    assert match, (category, chart[:300])
    return float(match.group(1))


def test_overview_shows_every_agency_with_published_counts(site):
    _Proxy.seen.clear()
    _Files.served.clear()
    dom = rendered(site, "/")
    values = cells(dom)
    stops = dict(
        published(
            site["release"],
            "select agency_id, count(*) from read_parquet('{data}/fct_stops/*.parquet') group by 1",
        )
    )
    agencies = published(
        site["release"], "select agency_name from read_parquet('{data}/dim_agencies.parquet')"
    )
    for (name,) in agencies:
        assert name in values, name
    alder = published(
        site["release"],
        "select agency_name from read_parquet('{data}/dim_agencies.parquet')"
        " where agency_id = 'alder_pd'",
    )[0][0]
    row = values.index(alder)
    assert values[row + 2] == f"{stops['alder_pd']:,}"
    assert f"{sum(stops.values()):,}" in values  # the total row
    (delivered,) = published(
        site["release"],
        "select sum(rows_raw) from read_parquet('{data}/mart_quality_files.parquet')"
        " where agency_id = 'alder_pd'",
    )[0]
    quality = values.index("alder_pd")  # the data-quality table names agencies by id
    assert values[quality + 2] == f"{delivered:,}"
    chart = charts(dom)["People stopped by agency and kind of stop (all years in the release)"]
    (alder_traffic,) = published(
        site["release"],
        "select count(*) from read_parquet('{data}/fct_stops/*.parquet')"
        " where agency_id = 'alder_pd' and stop_type = 'vehicular'",
    )[0]
    assert f"{alder_traffic}" in chart
    # The page's scripts, styles, DuckDB-wasm and data came from 127.0.0.1, and nothing else.
    assert any(p.endswith(".wasm") for p in _Files.served), _Files.served
    assert any(p.startswith("/api/") for p in _Files.served), _Files.served  # query results
    assert outside_requests() == []


def test_agency_page_shows_stops_rates_texts_and_missing_sections(site):
    _Proxy.seen.clear()
    dom = rendered(site, "/agencies/cedar_pd")
    values = cells(dom)
    release = site["release"]
    pedestrian = published(
        release,
        "select coalesce(subject_race, 'not recorded'), count(*) from read_parquet("
        "'{data}/fct_stops/*.parquet') where agency_id = 'cedar_pd' and stop_year = 2023"
        " and stop_type = 'pedestrian' group by 1 order by 2 desc",
    )
    top_race, top_count = pedestrian[0]
    assert top_race in values
    assert f"{top_count:,}" in values
    assert f"{sum(n for _, n in pedestrian):,}" in values  # total row of the pedestrian table
    (black_rate,) = published(
        release,
        "select stops_per_1000 from read_parquet('{data}/mart_stop_rates.parquet')"
        " where agency_id = 'cedar_pd' and stop_year = 2023 and subject_race = 'black'",
    )[0]
    assert f"{black_rate:,.1f}" in values
    text = html.unescape(re.sub(r"<[^>]+>", " ", dom))
    text = re.sub(r"\s+", " ", text)
    assert "Most of the department's stops are pedestrian stops in the downtown" in text
    assert "this agency has not provided its school-based officer role" in text
    # Every section's table is in the release: none says it is not published.
    assert "Not yet published" not in text
    drawings = charts(dom)
    chart = drawings["Pedestrian stops: people stopped by perceived race, 2023"]
    for race, count in pedestrian:
        assert drawn(chart, race) == count, race
    rates = drawings["Stops per 1,000 residents by perceived race, 2023 (all kinds of stop)"]
    assert drawn(rates, "black") == pytest.approx(black_rate, abs=1e-6)
    assert outside_requests() == []


def fmt_total(values) -> str:
    """The page's total of a column with suppressed (null) cells: "≥ n" when any is left out."""
    known = [v for v in values if v is not None]
    return ("≥ " if len(known) < len(values) else "") + f"{sum(known):,}"


def test_agency_page_lights_up_every_section_with_published_numbers(site):
    """Disparate-impact tests, body-worn cameras, school-based officers, the culture survey,
    performance measures, calls for service and freshness, each checked against the published
    file it reads (computed here from the Parquet, not from the site's sources)."""
    _Proxy.seen.clear()
    dom = rendered(site, "/agencies/alder_pd")
    values = cells(dom)
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", dom)))
    text = re.sub(r"\(\s+", "(", re.sub(r"\s+\)", ")", text))  # around inline <Value/>s
    drawings = charts(dom)
    release = site["release"]
    assert "Not yet published" not in text
    year = published(
        release,
        "select max(stop_year) from read_parquet('{data}/fct_stops/*.parquet')"
        " where agency_id = 'alder_pd'",
    )[0][0]

    # Relative rate index, search decision point: the black ratio, the interval, the total of a
    # column with suppressed cells, and the chart drawing the same ratio.
    rri = published(
        release,
        "select group_name, numerator, ratio, ratio_lower, ratio_upper from read_parquet("
        "'{data}/mart_relative_rate_index.parquet') where agency_id = 'alder_pd'"
        " and unit_type = 'agency' and period = ? and measure = 'rri_search'",
        [year],
    )
    black = next(r for r in rri if r[0] == "black")
    assert f"{black[2]:.2f}" in values and f"{black[3]:.2f}" in values
    assert fmt_total([r[1] for r in rri]) in values
    chart = drawings[f"Relative rate index, search: ratio to white, {year}"]
    assert drawn(chart, "black") == pytest.approx(black[2], abs=1e-6)
    # Benchmarks: arrests per 1,000 residents, black.
    (arrest_rate,) = published(
        release,
        "select estimate from read_parquet('{data}/mart_benchmark_rates.parquet')"
        " where agency_id = 'alder_pd' and period = ? and measure = 'arrests_per_1000_residents'"
        " and group_name = 'black' and unit_type = 'agency'",
        [year],
    )[0]
    assert f"{arrest_rate:,.1f}" in values
    # Veil of darkness and threshold test, when the demo release has a result for the agency.
    veil = published(
        release,
        "select odds_ratio, n from read_parquet('{data}/mart_veil_of_darkness.parquet')"
        " where agency_id = 'alder_pd' order by analysis",
    )
    assert veil, "the demo release fits the veil of darkness for alder_pd"
    assert f"{veil[0][0]:.2f}" in values and f"{veil[0][1]:,}" in values
    threshold = published(
        release,
        "select group_threshold from read_parquet('{data}/mart_threshold_test.parquet')"
        " where agency_id = 'alder_pd' and \"group\" = 'black' limit 1",
    )
    if threshold:
        assert f"{100 * threshold[0][0]:.1f}%" in values
    else:
        assert "No threshold-test result for this agency is in the release." in text

    # Body-worn cameras: recordings of the year, and force incidents with a linked recording.
    (recordings,) = published(
        release,
        "select count(*) from read_parquet('{data}/fct_bwc_recordings/*.parquet')"
        " where agency_id = 'alder_pd' and year(started_date) = ?",
        [year],
    )[0]
    incidents, recorded = published(
        release,
        "select count(*), count(*) filter (where uof_id in (select uof_id from read_parquet("
        "'{data}/fct_bwc_recordings/*.parquet') where uof_id is not null))"
        " from read_parquet('{data}/fct_use_of_force_incidents/*.parquet')"
        " where agency_id = 'alder_pd' and incident_year = ?",
        [year],
    )[0]
    assert 0 < recorded < incidents
    row = values.index("Use-of-force incidents with a recording")
    assert values[row + 1 : row + 4] == [
        f"{recorded:,}",
        f"{incidents:,}",
        f"{100 * recorded / incidents:.1f}%",
    ]
    assert f"{recordings:,}" in values  # total row of the recordings table
    activation = drawings[f"Body-worn camera activation, {year}"]
    assert drawn(activation, "Use-of-force incidents with a recording") == pytest.approx(
        recorded / incidents
    )

    # School-based officers: the share of school-discipline contacts, and the race table whose
    # cells of 1 to 9 students are not shown (its total says so).
    discipline, contacts = published(
        release,
        "select count(*) filter (where is_school_discipline_matter), count(*) from read_parquet("
        "'{data}/fct_school_incidents/*.parquet') where agency_id = 'alder_pd'"
        " and incident_year = ?",
        [year],
    )[0]
    assert f"{discipline:,} of {contacts:,} contacts ({100 * discipline / contacts:.1f}%)" in text
    by_race = published(
        release,
        "select count(*) filter (where is_arrest) from read_parquet("
        "'{data}/fct_school_incidents/*.parquet') where agency_id = 'alder_pd'"
        " and incident_year = ? group by subject_race",
        [year],
    )
    arrests = [n if not 0 < n < 10 else None for (n,) in by_race]
    assert None in arrests  # the demo has small cells: the total must not pretend
    assert fmt_total(arrests) in values

    # Culture survey: one unit's construct score, from the item responses.
    unit, construct, respondents, score = published(
        release,
        "with scores as (select r.unit, i.construct, r.response_id,"
        " avg(i.scored_value) as score from read_parquet('{data}/fct_survey_responses/*.parquet') r"
        " join read_parquet('{data}/fct_survey_item_responses/*.parquet') i using (response_id)"
        " where r.agency_id = 'alder_pd' and r.survey_type = 'officer_climate'"
        " group by all) select unit, construct, count(*), avg(score) from scores"
        " group by all order by avg(score) limit 1",
    )[0]
    assert respondents >= 10
    row = next(
        i
        for i in range(len(values) - 3)
        if values[i : i + 3] == [construct.replace("_", " "), unit, f"{respondents:,}"]
    )
    assert values[row + 3] == f"{score:.2f}"

    # Performance measures, read generically: every agency-wide measure of the year is listed.
    measures = published(
        release,
        "select count(distinct measure), count(*) from read_parquet("
        "'{data}/mart_performance_measures.parquet') where agency_id = 'alder_pd'"
        " and period = ? and unit_type = 'agency'",
        [year],
    )[0]
    assert f"{measures[0]} agency-wide measures for {year} ({measures[1]} rows)" in text

    # Calls for service and freshness.
    (calls,) = published(
        release,
        "select count(*) from read_parquet('{data}/fct_calls_for_service/*.parquet')"
        " where agency_id = 'alder_pd' and received_year = ?",
        [year],
    )[0]
    assert f"{calls:,}" in values
    fresh = published(
        release,
        "select dataset, freshness_status from read_parquet("
        "'{data}/mart_quality_freshness.parquet') where agency_id = 'alder_pd'",
    )
    assert fresh
    for (
        dataset,
        status,
    ) in fresh:  # the freshness table: dataset, cadence, date, files, days, status
        assert any(
            values[i] == dataset and values[i + 5] == status for i in range(len(values) - 5)
        ), dataset
    assert outside_requests() == []
