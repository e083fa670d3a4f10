"""Annual reports in the release: every section, headline counts equal to the published files,
the agency's texts verbatim and a missing one stated as missing; the PDF says the same."""

from __future__ import annotations

import re
import shutil
import subprocess

import duckdb
import pytest

from dagster_project import reports
from dagster_project.publication import verify_release
from ingestion import settings

DEMO_AGENCIES = ("alder_pd", "birch_so", "cedar_pd")


def published_count(release, sql: str, params) -> int:
    con = duckdb.connect()
    try:
        return con.execute(sql.format(data=release / "data"), params).fetchone()[0]
    finally:
        con.close()


def headline_counts(release, agency: str, year: int) -> dict[str, int]:
    stops = "from read_parquet('{data}/fct_stops/*.parquet') where agency_id = ? and stop_year = ?"
    return {
        "People stopped (person-stops)": published_count(
            release, f"select count(*) {stops}", [agency, year]
        ),
        "Traffic stops: people stopped": published_count(
            release, f"select count(*) {stops} and stop_type = 'vehicular'", [agency, year]
        ),
        "Pedestrian stops: people stopped": published_count(
            release, f"select count(*) {stops} and stop_type = 'pedestrian'", [agency, year]
        ),
        "Searches": published_count(
            release, f"select count(*) {stops} and search_conducted", [agency, year]
        ),
        "People arrested": published_count(
            release,
            "select count(*) from read_parquet('{data}/fct_arrests/*.parquet')"
            " where agency_id = ? and arrest_year = ?",
            [agency, year],
        ),
        "Calls for service received": published_count(
            release,
            "select count(*) from read_parquet('{data}/fct_calls_for_service/*.parquet')"
            " where agency_id = ? and received_year = ?",
            [agency, year],
        ),
        "Body-worn camera recordings": published_count(
            release,
            "select count(*) from read_parquet('{data}/fct_bwc_recordings/*.parquet')"
            " where agency_id = ? and year(started_date) = ?",
            [agency, year],
        ),
        "School-based officer contacts": published_count(
            release,
            "select count(*) from read_parquet('{data}/fct_school_incidents/*.parquet')"
            " where agency_id = ? and incident_year = ?",
            [agency, year],
        ),
        "Survey respondents": published_count(
            release,
            "select count(*) from read_parquet('{data}/fct_survey_responses/*.parquet')"
            " where agency_id = ? and year(completed_date) = ?",
            [agency, year],
        ),
    }


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#x27;", "'")


def test_every_demo_agency_has_its_report_in_the_release(demo_release):
    for agency in DEMO_AGENCIES:
        assert (demo_release / "reports" / agency / "2023.html").is_file(), agency
    sums = (demo_release / "SHA256SUMS").read_text()
    assert "reports/alder_pd/2023.html" in sums
    assert "narratives/agency_documents.parquet" in sums
    assert verify_release(demo_release) == []


def test_report_sections_counts_and_narratives(demo_release):
    html = (demo_release / "reports" / "alder_pd" / "2023.html").read_text(encoding="utf-8")
    headings = re.findall(r"<h2>(\d+)\. ([^<]+)</h2>", html)
    assert [title for _, title in headings] == [title for _, title in reports.SECTIONS]
    for label, count in headline_counts(demo_release, "alder_pd", 2023).items():
        assert count > 0, label
        assert f"<td>{label}</td><td class=num>{count:,}</td>" in html, label
    # The agency's own text, verbatim (joined lines), with its source file named.
    source = (settings.agencies_dir() / "alder_pd" / "narrative" / "actions_taken.md").read_text()
    sentence = (
        "required supervisor approval for consent searches during traffic stops from June 2023;"
    )
    assert sentence in source
    assert sentence in text_of(html)
    assert "alder_pd/narrative/actions_taken.md" in html
    # Community input logged in 2023: three entries.
    assert "3 entries" in html
    # Every section's data is in the demo release: none says it is not published, and every
    # disparity test is summarised with its plain-language reading and "how this is measured".
    assert "Not yet published" not in html
    assert "this report does not summarise it yet" not in html
    for title, table, _, _ in reports.DISPARITY_TESTS:
        section = html.split(f"<h3>{title}</h3>", 1)[1].split("<h3>", 1)[0]
        assert f"<code>data/{table}.parquet</code>" in html, title
        assert "In plain language." in section or "No " in section, title
    # Methods: the files read, with the SHA-256 the release's SHA256SUMS lists for them.
    sums = dict(
        line.split("  ")[::-1] for line in (demo_release / "SHA256SUMS").read_text().splitlines()
    )
    # fct_stops is published in parts (agency and year): the report reads and lists alder's
    parts = sorted(f for f in sums if f.startswith("data/fct_stops/") and f.endswith(".parquet"))
    assert len(parts) >= 3  # the stops of alder, birch and cedar (2023)
    own = [p for p in parts if p.startswith("data/fct_stops/alder_pd-")]
    assert own and len(own) < len(parts)
    for part in parts:
        row = f"<td><code>{part}</code></td><td><code>{sums[part]}</code></td>"
        assert (row in html) == (part in own), part


def test_missing_narrative_is_stated_not_invented(demo_release):
    html = (demo_release / "reports" / "cedar_pd" / "2023.html").read_text(encoding="utf-8")
    assert not (
        settings.agencies_dir() / "cedar_pd" / "narrative" / "school_officer_role.md"
    ).exists()
    text = text_of(html)
    assert (
        "Missing: Cedar Town Police Department has not provided its school-based officer role."
        in text
    )
    # birch_so has a role definition: its report shows it, not the missing statement.
    birch = text_of((demo_release / "reports" / "birch_so" / "2023.html").read_text())
    assert "One deputy is assigned to the county's three high schools." in birch
    assert "has not provided its school-based officer role" not in birch


def test_stop_rate_table_equals_the_published_mart(demo_release):
    html = (demo_release / "reports" / "alder_pd" / "2023.html").read_text(encoding="utf-8")
    con = duckdb.connect()
    row = con.execute(
        f"select stops, stops_per_1000, disparity_ratio from read_parquet("
        f"'{demo_release}/data/mart_stop_rates.parquet') where agency_id = 'alder_pd'"
        " and stop_year = 2023 and subject_race = 'black'"
    ).fetchone()
    con.close()
    stops, per_1000, ratio = row
    assert ratio > 1.5  # the demo injects a disparity against black residents
    assert (
        f"<td>black</td><td class=num>{stops:,}</td><td class=num>22,500</td>"
        f"<td class=num>{per_1000:,.1f}</td>" in html
    )
    assert f"Black: stop rate per resident {ratio:.2f} times the rate of white people" in text_of(
        html
    )


@pytest.mark.skipif(
    reports.chromium_path() is None or shutil.which("pdftotext") is None,
    reason="needs chromium and pdftotext (make test installs both: reports/scripts/install-chromium.sh)",
)
def test_pdf_has_every_section_and_the_headline_counts(demo_release):
    pdf = demo_release / "reports" / "alder_pd" / "2023.pdf"
    assert pdf.is_file() and pdf.read_bytes()[:5] == b"%PDF-"
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    flat = re.sub(r"\s+", " ", text)
    for number, (_, title) in enumerate(reports.SECTIONS, 1):
        assert re.search(rf"^\s*{number}\. {re.escape(title)}\s*$", text, re.M), title
    for label, count in headline_counts(demo_release, "alder_pd", 2023).items():
        assert f"{label} {count:,} " in flat, label
    assert "Missing:" not in flat  # alder_pd provided every text
    cedar = subprocess.run(
        ["pdftotext", str(demo_release / "reports" / "cedar_pd" / "2023.pdf"), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "has not provided its school-based officer role" in re.sub(r"\s+", " ", cedar)


def test_new_sections_equal_the_published_files(demo_release):
    """Disparity tests, body-worn cameras, school-based officers, culture survey, performance
    measures and freshness in alder_pd's report, against the Parquet they read."""
    html = (demo_release / "reports" / "alder_pd" / "2023.html").read_text(encoding="utf-8")
    text = text_of(html)
    con = duckdb.connect()

    def one(sql: str):
        return con.execute(sql.format(data=demo_release / "data")).fetchone()

    # Relative rate index, search: the black row (cases, base, ratio) and its plain reading; the
    # total of a column with suppressed cells says "≥".
    n, base, ratio, lo, hi = one(
        "select numerator, denominator, ratio, ratio_lower, ratio_upper from read_parquet("
        "'{data}/mart_relative_rate_index.parquet') where agency_id = 'alder_pd' and period = 2023"
        " and measure = 'rri_search' and group_name = 'black' and unit_type = 'agency'"
    )
    assert f"<td>black</td><td class=num>{n:,}</td><td class=num>{base:,}</td>" in html
    assert f"search rate (per stops) {ratio:.2f} times the rate of white people" in text
    assert f"(95% interval {lo:.2f} to {hi:.2f})" in text
    known, suppressed = one(
        "select sum(numerator), count(*) filter (where numerator is null) from read_parquet("
        "'{data}/mart_relative_rate_index.parquet') where agency_id = 'alder_pd' and period = 2023"
        " and measure = 'rri_search' and unit_type = 'agency'"
    )
    assert suppressed > 0 and f"<td class=num>≥ {known:,}</td>" in html
    # Veil of darkness: odds ratio and its interval; threshold test: the black threshold.
    odds, olo, ohi = one(
        "select odds_ratio, odds_ratio_lower, odds_ratio_upper from read_parquet("
        "'{data}/mart_veil_of_darkness.parquet') where agency_id = 'alder_pd'"
        " and analysis = 'veil_of_darkness'"
    )
    assert f"odds ratio {odds:.2f}, 95% interval {olo:.2f} to {ohi:.2f}" in text
    threshold = one(
        "select group_threshold from read_parquet('{data}/mart_threshold_test.parquet')"
        " where agency_id = 'alder_pd' and \"group\" = 'black' limit 1"
    )
    if threshold:
        assert f"about {100 * threshold[0]:.1f}%" in text
    # Body-worn cameras: force incidents with a linked recording, late activations.
    incidents, recorded = one(
        "select count(*), count(*) filter (where uof_id in (select uof_id from read_parquet("
        "'{data}/fct_bwc_recordings/*.parquet') where uof_id is not null)) from read_parquet("
        "'{data}/fct_use_of_force_incidents/*.parquet') where agency_id = 'alder_pd'"
        " and incident_year = 2023"
    )
    assert 0 < recorded < incidents
    assert (
        f"<td>Use-of-force incidents with a recording</td><td class=num>{recorded:,}</td>"
        f"<td class=num>{incidents:,}</td><td class=num>{100 * recorded / incidents:.1f}%</td>"
    ) in html
    assert "Late activations" in html
    # School-based officers: the share of school-discipline contacts.
    discipline, contacts = one(
        "select count(*) filter (where is_school_discipline_matter), count(*) from read_parquet("
        "'{data}/fct_school_incidents/*.parquet') where agency_id = 'alder_pd'"
        " and incident_year = 2023"
    )
    assert (
        f"{discipline:,} of {contacts:,} contacts ({100 * discipline / contacts:.1f}%) were"
        " school-discipline matters" in text
    )
    assert "fewer than 10" in text  # student counts of 1 to 9 are not shown
    # Culture: the lowest unit score of the officer survey, computed from the item responses.
    unit, construct, respondents, score = one(
        "with scores as (select r.unit, i.construct, r.response_id,"
        " avg(i.scored_value) as score from read_parquet('{data}/fct_survey_responses/*.parquet') r"
        " join read_parquet('{data}/fct_survey_item_responses/*.parquet') i using (response_id)"
        " where r.agency_id = 'alder_pd' and r.survey_type = 'officer_climate'"
        " group by all) select unit, construct, count(*), avg(score) from scores"
        " group by all order by avg(score) limit 1"
    )
    assert (
        f"<td>{construct.replace('_', ' ')}</td><td>{unit}</td><td class=num>{respondents:,}</td>"
        f"<td class=num>{score:.2f}</td>" in html
    )
    # Performance measures: every agency-wide measure of the year, read by its measure column.
    measures = con.execute(
        f"select distinct measure from read_parquet('{demo_release}/data/"
        "mart_performance_measures.parquet') where agency_id = 'alder_pd' and period = 2023"
        " and unit_type = 'agency'"
    ).fetchall()
    con.close()
    for (measure,) in measures:
        base_measure = measure.removesuffix("_ratio")
        assert f"<td>{measure}</td>" in html or f"<td>{base_measure}</td>" in html, measure
    assert "mart_quality_freshness.parquet" in html


def test_a_report_reads_only_its_agencys_parts_and_says_the_same(demo_release):
    """Each annual report reads its own agency's parts of the facts (not the whole state's
    history; a query marked `{table:year}`, the part of the report's year only): the report is
    the one a read of every part gives, but for the files it names."""
    data = reports.ReleaseData(demo_release)
    try:
        targets = reports.report_targets(data)
        assert len({agency for agency, _ in targets}) >= 3
        for agency, year in targets:
            own = reports.ReleaseData(demo_release, agency=agency, year=year)
            try:
                scoped = reports.render_annual_report(own, settings.agencies_dir(), agency, year)
                files = {p.relative_to(demo_release).as_posix() for p in own.files("fct_stops")}
            finally:
                own.close()
            whole = reports.render_annual_report(data, settings.agencies_dir(), agency, year)
            assert files and all(f.startswith(f"data/fct_stops/{agency}-") for f in files)
            read = r"<td><code>(data/fct_stops/[^<]+)</code></td><td><code>[0-9a-f]{64}"
            assert set(re.findall(read, scoped)) == files  # Methods: the files read
            assert len(set(re.findall(read, whole))) > len(files)  # every agency's
            assert not re.search(r"data/fct_stops/(?!" + agency + r"-)", scoped)

            def normalised(text: str) -> str:
                text = text.split("<h3>Files read</h3>", 1)[0]
                # the agency's parts: `<agency>-*.parquet`, or `<agency>.parquet` by agency only
                return re.sub(r"(data/fct_[a-z_]+/)[a-z0-9_]+(-\*)?\.parquet", r"\1*.parquet", text)

            assert normalised(scoped) == normalised(whole), (agency, year)
    finally:
        data.close()
