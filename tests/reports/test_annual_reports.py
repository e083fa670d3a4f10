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
    stops = "from read_parquet('{data}/fct_stops.parquet') where agency_id = ? and stop_year = ?"
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
            "select count(*) from read_parquet('{data}/fct_arrests.parquet')"
            " where agency_id = ? and arrest_year = ?",
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
    # Sections whose data the release does not hold yet say so.
    assert "Not yet published" in html
    # Methods: the files read, with the SHA-256 the release's SHA256SUMS lists for them.
    sums = dict(
        line.split("  ")[::-1] for line in (demo_release / "SHA256SUMS").read_text().splitlines()
    )
    stops = sums["data/fct_stops.parquet"]
    assert f"<td><code>data/fct_stops.parquet</code></td><td><code>{stops}</code></td>" in html


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
