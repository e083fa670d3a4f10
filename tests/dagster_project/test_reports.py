"""Pieces of the annual report that must hold whatever the data: charts carry a title and axis
labels, the agency's text is escaped but never reworded, and a report that cannot be written
fails the release instead of publishing one without it."""

from __future__ import annotations

import duckdb
import pytest

from dagster_project import reports
from dagster_project.publication import (
    PublicationError,
    PublicTable,
    current_release,
    publish_release,
)


def test_bar_chart_has_title_axis_label_interval_and_palette():
    svg = reports.bar_chart_svg(
        "Stops per 1,000 residents",
        ["white", "black"],
        [79.3, 165.2],
        "Person-stops per 1,000 residents",
        lower=[77.6, 160.0],
        upper=[81.1, 170.6],
        highlight=[True, False],
    )
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "<title>Stops per 1,000 residents</title>" in svg
    assert ">Person-stops per 1,000 residents</text>" in svg
    assert svg.count('class="whisker"') == 2
    assert reports.ORANGE in svg and reports.BLUE in svg  # reference group in orange
    assert ">165</text>" in svg  # the value beside its bar


def test_narrative_is_escaped_and_kept_word_for_word():
    out = reports.narrative_html("Stops <b>only</b> with suspicion.\nSecond line.\n\n- one\n- two")
    assert "<p>Stops &lt;b&gt;only&lt;/b&gt; with suspicion. Second line.</p>" in out
    assert "<ul><li>one</li><li>two</li></ul>" in out


def test_a_failing_report_fails_the_release_and_current_stays(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(warehouse))
    con.execute("create schema marts")
    con.execute("create table marts.dim_agencies as select 'a_pd' as agency_id")
    con.close()
    tables = [PublicTable("marts", "dim_agencies", "agencies", {"agency_id": "id"})]
    first = publish_release(warehouse, tmp_path / "publish", tables, [], personal_columns=set())
    seen = []

    def broken(root):
        seen.append(sorted(p.name for p in root.iterdir()))
        raise reports.ReportError("narrative refused")

    with pytest.raises(PublicationError, match="narrative refused"):
        publish_release(
            warehouse, tmp_path / "publish", tables, [], personal_columns=set(), extras=[broken]
        )
    # The hook ran on the staging folder after the data and before the checksums.
    assert seen == [["checks.json", "data", "release.json"]]
    assert current_release(tmp_path / "publish") == first.path


def test_site_asset_builds_only_when_asked(monkeypatch):
    import dagster as dg

    from dagster_project.defs.site import site

    monkeypatch.delenv("LANTERN_BUILD_SITE", raising=False)
    assert reports.site_enabled() is False
    result = dg.materialize([site])
    assert result.success
    (event,) = result.get_asset_materialization_events()
    assert event.asset_key == dg.AssetKey(["publish", "site"])
    assert event.materialization.metadata["built"].value is False
    monkeypatch.setenv("LANTERN_BUILD_SITE", "1")
    assert reports.site_enabled() is (reports.REPORTS_DIR / "node_modules").is_dir()


def test_a_release_with_stops_only_gets_reports_for_each_year(tmp_path):
    """Every section renders from whatever the release holds (here: agencies and stops only),
    stating what is not published; the nightly default prints a PDF for the latest year only."""
    release = tmp_path / "release"
    (release / "data").mkdir(parents=True)
    con = duckdb.connect()
    con.execute(
        f"copy (select 'a_pd' as agency_id, 'A Police' as agency_name, 'white' as reference_group)"
        f" to '{release}/data/dim_agencies.parquet'"
    )
    con.execute(
        f"""copy (
            select 's' || i as stop_id, 'a_pd' as agency_id, 2022 + i % 2 as stop_year,
                date '2022-01-01' + cast((i % 2) * 365 as integer) as stop_date,
                ['vehicular', 'pedestrian'][1 + i % 3 // 2] as stop_type,
                ['white', 'black'][1 + i % 5 // 4] as subject_race,
                i % 4 = 0 as search_conducted, i % 8 = 0 as contraband_found,
                false as frisk_performed, i % 10 = 0 as arrest_made,
                i % 3 = 0 as citation_issued, i % 7 = 0 as warning_issued
            from range(40) as t(i)
        ) to '{release}/data/fct_stops.parquet'"""
    )
    con.close()
    pdf = reports.chromium_path() is not None
    written = reports.write_annual_reports(
        release, tmp_path / "no_agencies", pdf=None if pdf else False, pdf_latest_only=True
    )
    names = sorted(p.relative_to(release).as_posix() for p in written)
    expected = ["reports/a_pd/2022.html", "reports/a_pd/2023.html"]
    assert names == sorted(expected + (["reports/a_pd/2023.pdf"] if pdf else []))
    html = (release / "reports" / "a_pd" / "2022.html").read_text()
    assert "<td>People stopped (person-stops)</td><td class=num>20</td>" in html
    assert "<td>People arrested</td><td class=num>not yet published</td>" in html
    assert "Missing:</strong> A Police has not provided its body-worn camera policy" in html
    assert html.count("<h2>") == len(reports.SECTIONS)
