"""The site's sources over a release that lacks some tables (an older release, or a table not yet
published): each missing table gets an empty stand-in with its contract's columns, every source
query still runs (DuckDB, as `npm run sources` runs them), and the page's sections fall back to
"not published" because release.json does not list the table."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from dagster_project import reports

LEFT_OUT = ("fct_bwc_recordings", "mart_veil_of_darkness", "mart_performance_measures")


def test_sources_run_over_a_release_lacking_tables(demo_release, tmp_path):
    release = tmp_path / "release"
    (release / "data").mkdir(parents=True)
    for published in (demo_release / "data").iterdir():  # files, and folders of parts
        if published.name.removesuffix(".parquet") not in LEFT_OUT:
            (release / "data" / published.name).symlink_to(published)
    (release / "narratives").symlink_to(demo_release / "narratives")
    shutil.copy(demo_release / "release.json", release / "release.json")
    sources = tmp_path / "sources"
    shutil.copytree(reports.SITE_SOURCE_DIR, sources, ignore=shutil.ignore_patterns("placeholders"))
    assert set(LEFT_OUT) <= reports.site_tables(sources)

    reports.write_site_sources(release, sources)

    folder = sources / reports.PLACEHOLDERS
    stand_ins = sorted(p.stem for p in folder.glob("*.parquet"))
    parted = sorted(p.parent.name for p in folder.glob("*/empty.parquet"))
    assert sorted(stand_ins + parted) == sorted(LEFT_OUT)
    assert parted == ["fct_bwc_recordings"]  # the site reads it in parts
    con = duckdb.connect()
    try:
        con.execute((sources / "initialize.sql").read_text())
        columns = [
            c[0]
            for c in con.execute("describe select * from 'fct_bwc_recordings/*.parquet'").fetchall()
        ]
        assert {"agency_id", "started_date", "category", "uof_id", "stop_id"} <= set(columns)
        for sql in sorted(sources.glob("*.sql")):
            if sql.name == "initialize.sql":
                continue
            rows = con.execute(sql.read_text()).fetchall()  # every source still runs
            assert rows, sql.name
        # A source over a missing table yields only the placeholder row pages filter out.
        agencies = {
            r[0] for r in con.execute((sources / "bwc_recordings.sql").read_text()).fetchall()
        }
        assert agencies == {"(none)"}
        # A table that is there is read from the release, not from a stand-in.
        (stops,) = con.execute("select count(*) from 'fct_stops/*.parquet'").fetchone()
        assert stops > 0
    finally:
        con.close()
    # With every table present, no stand-in is written and an old one is cleared.
    reports.write_site_sources(demo_release, sources)
    assert not (sources / reports.PLACEHOLDERS).exists()
    assert str(sources / reports.PLACEHOLDERS) not in (sources / "initialize.sql").read_text()


def test_a_table_without_a_contract_is_refused(demo_release, tmp_path):
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "x.sql").write_text("select * from read_parquet('not_a_lantern_table.parquet')")
    with pytest.raises(reports.ReportError, match="not_a_lantern_table.parquet"):
        reports.write_site_sources(demo_release, sources)
