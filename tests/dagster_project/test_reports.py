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
