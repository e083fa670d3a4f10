"""Releases: complete or not at all, `current` switched atomically, nothing personal published."""

from __future__ import annotations

import csv
import hashlib
import json
import os
from pathlib import Path

import duckdb
import pytest

from dagster_project import publication
from dagster_project.publication import (
    Parts,
    PublicationError,
    PublicTable,
    current_release,
    publish_release,
    table_files,
    verify_release,
)

PERSONAL = {"officer_id", "officer_name", "subject_name", "date_of_birth", "address"}
CHECKS = [{"name": "stop_person_id_unique", "severity": "blocking", "success": True}]


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute(
        """
        create table marts.fct_stops as
        select
            'p' || i as stop_person_id,
            'alder_pd' as agency_id,
            date '2024-01-01' + i::integer as stop_date,
            timestamptz '2024-01-01 10:00:00+00' + to_minutes(i::bigint) as stop_at,
            ['white', 'black', 'unknown'][1 + i % 3] as subject_race,
            (18 + i)::integer as subject_age,
            i % 4 = 0 as search_conducted,
            'h' || (i % 3) as officer_id_hash,
            'Officer ' || i as officer_name
        from range(25) as t(i)
        """
    )
    con.execute(
        "create table marts.dim_agencies as"
        " select 'alder_pd' as agency_id, 'Alder, \"City\" PD' as agency_name, 45.5 as latitude"
    )
    con.close()
    return path


def public_tables() -> list[PublicTable]:
    return [
        PublicTable(
            "marts",
            "fct_stops",
            "One row per person stopped.",
            {
                "stop_person_id": "Key of the person-stop.",
                "agency_id": "Agency.",
                "stop_date": "Local date.",
                "stop_at": "UTC instant.",
                "subject_race": "Perceived race.",
                "subject_age": "Age in years.",
                "search_conducted": "Whether a search happened.",
                "officer_id_hash": "Salted hash of the officer id.",
            },
        ),
        PublicTable("marts", "dim_agencies", "Agencies.", {}),  # undocumented: all columns
    ]


def publish(warehouse: Path, publish_dir: Path, release_id: str, **kwargs) -> publication.Release:
    return publish_release(
        warehouse,
        publish_dir,
        kwargs.pop("tables", None) or public_tables(),
        CHECKS,
        release_id=release_id,
        personal_columns=PERSONAL,
        **kwargs,
    )


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_release_is_complete_and_described(warehouse: Path, tmp_path: Path) -> None:
    publish_dir = tmp_path / "publish"

    release = publish(warehouse, publish_dir, "r1")

    root = publish_dir / "r1"
    assert release.path == root and current_release(publish_dir) == root.resolve()
    assert os.readlink(publish_dir / "current") == "r1"  # relative: the folder can move
    assert release.row_counts == {"fct_stops": 25, "dim_agencies": 1}
    for name in ("fct_stops", "dim_agencies"):
        assert (root / "data" / f"{name}.parquet").is_file()
        assert (root / "data" / f"{name}.csv").is_file()

    with (root / "data" / "fct_stops.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 25 and "officer_name" not in rows[0]  # only documented columns
    con = duckdb.connect()
    parquet = str(root / "data" / "fct_stops.parquet")
    assert con.execute(f"select count(*) from read_parquet('{parquet}')").fetchone() == (25,)
    con.close()

    package = json.loads((root / "datapackage.json").read_text())
    assert package["name"] == "lantern" and package["created"].endswith("Z")
    resources = {r["name"]: r for r in package["resources"]}
    files = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    assert {r["path"] for r in resources.values()} == files - {"datapackage.json", "SHA256SUMS"}
    for resource in resources.values():
        file = root / resource["path"]
        assert resource["bytes"] == file.stat().st_size
        assert resource["hash"] == f"sha256:{sha256(file)}"
    stops = resources["fct_stops"]
    assert (stops["path"], stops["format"], stops["encoding"]) == (
        "data/fct_stops.csv",
        "csv",
        "utf-8",
    )
    assert stops["mediatype"] == "text/csv" and stops["profile"] == "tabular-data-resource"
    types = {f["name"]: f["type"] for f in stops["schema"]["fields"]}
    assert types == {
        "stop_person_id": "string",
        "agency_id": "string",
        "stop_date": "date",
        "stop_at": "datetime",
        "subject_race": "string",
        "subject_age": "integer",
        "search_conducted": "boolean",
        "officer_id_hash": "string",
    }
    assert stops["schema"]["fields"][0]["description"] == "Key of the person-stop."
    assert resources["fct_stops-parquet"]["path"] == "data/fct_stops.parquet"
    assert [f["type"] for f in resources["dim_agencies"]["schema"]["fields"]] == [
        "string",
        "string",
        "number",
    ]

    assert json.loads((root / "checks.json").read_text()) == CHECKS
    meta = json.loads((root / "release.json").read_text())
    assert meta["release_id"] == "r1" and meta["row_counts"]["fct_stops"] == 25
    sums = dict(
        reversed(line.split("  ", 1)) for line in (root / "SHA256SUMS").read_text().splitlines()
    )
    assert set(sums) == files - {"SHA256SUMS"}
    assert all(sums[name] == sha256(root / name) for name in sums)
    assert verify_release(root) == []
    assert not list(publish_dir.glob(".*"))  # no staging or temporary link left behind


def test_files_written_by_extras_are_described_and_summed(warehouse: Path, tmp_path: Path) -> None:
    def annual_report(root: Path) -> None:
        (root / "reports" / "alder_pd").mkdir(parents=True)
        (root / "reports" / "alder_pd" / "2023.html").write_text("<h1>Annual report</h1>")

    root = publish(warehouse, tmp_path / "publish", "r1", extras=[annual_report]).path

    resources = {
        r["path"]: r for r in json.loads((root / "datapackage.json").read_text())["resources"]
    }
    html = resources["reports/alder_pd/2023.html"]
    assert (html["format"], html["mediatype"]) == ("html", "text/html")
    assert html["hash"] == f"sha256:{sha256(root / 'reports/alder_pd/2023.html')}"
    assert "Annual report" in html["description"]
    assert verify_release(root) == []

    # `make reports` adds a PDF to the published release, then re-indexes it
    (root / "reports" / "alder_pd" / "2023.pdf").write_bytes(b"%PDF-1.4 test")
    assert any("2023.pdf: not listed" in p for p in verify_release(root))
    publication.write_sha256sums(root)
    package = json.loads((root / "datapackage.json").read_text())
    paths = [r["path"] for r in package["resources"]]
    assert paths.count("reports/alder_pd/2023.pdf") == 1 and "data/fct_stops.csv" in paths
    assert paths.count("reports/alder_pd/2023.html") == 1
    assert verify_release(root) == []


def test_verify_release_finds_tampering(warehouse: Path, tmp_path: Path) -> None:
    root = publish(warehouse, tmp_path / "publish", "r1").path
    with (root / "data" / "fct_stops.csv").open("a", encoding="utf-8") as handle:
        handle.write("tampered\n")
    (root / "data" / "dim_agencies.parquet").unlink()

    problems = verify_release(root)

    assert any("fct_stops.csv: checksum mismatch" in p for p in problems)
    assert any("fct_stops.csv: hash differs" in p for p in problems)
    assert any(
        "dim_agencies.parquet: listed in datapackage.json but missing" in p for p in problems
    )


def test_second_release_switches_current(warehouse: Path, tmp_path: Path) -> None:
    publish_dir = tmp_path / "publish"
    publish(warehouse, publish_dir, "r1")

    default_id = publish_release(
        warehouse, publish_dir, public_tables(), CHECKS, personal_columns=PERSONAL
    ).release_id

    assert len(default_id) == len("20250101T000000000000Z") and default_id.endswith("Z")
    assert current_release(publish_dir) == (publish_dir / default_id).resolve()
    assert (publish_dir / "r1").is_dir()


def test_failure_mid_write_keeps_previous_release(
    warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish_dir = tmp_path / "publish"
    publish(warehouse, publish_dir, "r1")
    real_export = publication.export_table
    exported: list[str] = []

    def export_then_fail(con, table, data_dir):
        if exported:
            raise OSError("disk full")
        exported.append(table.name)
        return real_export(con, table, data_dir)

    monkeypatch.setattr(publication, "export_table", export_then_fail)

    with pytest.raises(PublicationError, match="disk full"):
        publish(warehouse, publish_dir, "r2")

    assert exported == ["fct_stops"]
    assert current_release(publish_dir) == (publish_dir / "r1").resolve()
    assert sorted(p.name for p in publish_dir.iterdir()) == ["current", "r1"]
    assert verify_release(publish_dir / "current") == []
    # The warehouse was closed: a writer can open it at once.
    duckdb.connect(str(warehouse)).close()


def test_personal_column_is_refused(warehouse: Path, tmp_path: Path) -> None:
    publish_dir = tmp_path / "publish"
    publish(warehouse, publish_dir, "r1")
    leaky = public_tables()
    leaky[0].columns["officer_name"] = "Name of the officer."

    with pytest.raises(PublicationError, match=r"marts\.fct_stops\.officer_name"):
        publish(warehouse, publish_dir, "r2", tables=leaky)

    suffixed = [PublicTable("marts", "dim_agencies", "", {"primary_officer_id": ""})]
    with pytest.raises(PublicationError, match="primary_officer_id"):
        publish(warehouse, publish_dir, "r3", tables=suffixed)

    # An undocumented table publishes all its columns, so its real columns are checked too.
    undocumented = [PublicTable("marts", "fct_stops", "", {})]
    with pytest.raises(PublicationError, match="officer_name"):
        publish(warehouse, publish_dir, "r4", tables=undocumented)

    assert sorted(p.name for p in publish_dir.iterdir()) == ["current", "r1"]
    assert current_release(publish_dir) == (publish_dir / "r1").resolve()


def test_retention_keeps_newest_and_never_current(warehouse: Path, tmp_path: Path) -> None:
    publish_dir = tmp_path / "publish"
    for n in range(1, 5):
        publish(warehouse, publish_dir, f"r{n}", keep=2)

    assert sorted(p.name for p in publish_dir.iterdir()) == ["current", "r3", "r4"]

    # Rolled back by hand to r3: pruning must not remove what readers are looking at.
    os.symlink("r3", publish_dir / ".rollback")
    os.replace(publish_dir / ".rollback", publish_dir / "current")
    removed = publication.prune_releases(publish_dir, keep=1)
    assert removed == []
    assert sorted(p.name for p in publish_dir.iterdir()) == ["current", "r3", "r4"]

    publish(warehouse, publish_dir, "r5", keep=1)
    assert sorted(p.name for p in publish_dir.iterdir()) == ["current", "r5"]


def test_an_unchanged_table_is_taken_from_the_current_release(
    warehouse: Path, tmp_path: Path
) -> None:
    """By content fingerprint: dim_agencies is the same (files hard-linked), one stop changed
    (fct_stops exported again); the new release verifies and publishes the warehouse's rows. A
    row moved, not changed, is the same content; a column's type change is exported anyway."""
    publish_dir = tmp_path / "publish"
    first = publish(warehouse, publish_dir, "r1").path
    con = duckdb.connect(str(warehouse))
    con.execute("update marts.fct_stops set subject_age = 99 where stop_person_id = 'p3'")
    con.close()
    second = publish(warehouse, publish_dir, "r2", reuse=publication.Reuse(first)).path
    assert verify_release(second) == []

    def inode(release: Path, name: str) -> int:
        return (release / "data" / name).stat().st_ino

    for name in ("dim_agencies.parquet", "dim_agencies.csv"):
        assert inode(first, name) == inode(second, name), name
    for name in ("fct_stops.parquet", "fct_stops.csv"):
        assert inode(first, name) != inode(second, name), name
    ages = duckdb.execute(
        f"select subject_age from read_parquet('{second}/data/fct_stops.parquet') "
        "where stop_person_id = 'p3'"
    ).fetchall()
    assert ages == [(99,)]
    manifests = [json.loads((r / "release.json").read_text()) for r in (first, second)]
    prints = [m["fingerprints"] for m in manifests]
    assert prints[0]["dim_agencies"] == prints[1]["dim_agencies"]
    assert prints[0]["fct_stops"] != prints[1]["fct_stops"]
    assert manifests[1]["row_counts"] == manifests[0]["row_counts"]

    con = duckdb.connect(str(warehouse))
    con.execute(
        "create or replace table marts.t as select * from marts.fct_stops order by random()"
    )
    con.execute("drop table marts.fct_stops")
    con.execute("alter table marts.t rename to fct_stops")
    con.execute(
        "create or replace table marts.dim_agencies as select agency_id, agency_name, "
        "cast(latitude as double) as latitude from marts.dim_agencies"
    )
    con.close()
    third = publish(warehouse, publish_dir, "r3", reuse=publication.Reuse(second)).path
    assert verify_release(third) == []
    assert inode(second, "fct_stops.parquet") == inode(third, "fct_stops.parquet")
    assert inode(second, "dim_agencies.parquet") != inode(third, "dim_agencies.parquet")


def parted_tables() -> list[PublicTable]:
    """fct_stops in parts by agency and year of stop_date, dim_agencies whole."""
    stops, agencies = public_tables()
    return [
        PublicTable(
            stops.schema,
            stops.name,
            stops.description,
            stops.columns,
            Parts("agency_id", "stop_date"),
        ),
        agencies,
    ]


def inodes(release: Path) -> dict[str, int]:
    return {
        p.relative_to(release).as_posix(): p.stat().st_ino
        for p in (release / "data").rglob("*")
        if p.is_file()
    }


def test_a_large_fact_is_published_in_parts_by_agency_and_year(
    warehouse: Path, tmp_path: Path
) -> None:
    """One Parquet and CSV pair per agency and year (an undated row and a missing agency get
    parts of their own); datapackage.json describes each part; the parts hold every row once."""
    con = duckdb.connect(str(warehouse))
    con.execute("update marts.fct_stops set agency_id = 'Birch SO' where stop_person_id = 'p1'")
    con.execute("update marts.fct_stops set stop_date = null where stop_person_id = 'p2'")
    con.execute("update marts.fct_stops set agency_id = null where stop_person_id = 'p3'")
    con.execute("update marts.fct_stops set stop_date = '2025-02-01' where stop_person_id = 'p4'")
    con.close()

    release = publish(warehouse, tmp_path / "publish", "r1", tables=parted_tables())

    root = release.path
    stops = table_files(root, "fct_stops")
    assert [p.name for p in stops] == [
        "alder_pd-2024.parquet",
        "alder_pd-2025.parquet",
        "alder_pd-undated.parquet",
        "birch_so-2024.parquet",
        "unknown-2024.parquet",
    ]
    assert [p.stem for p in table_files(root, "fct_stops", "csv")] == [p.stem for p in stops]
    assert table_files(root, "dim_agencies") == [root / "data" / "dim_agencies.parquet"]
    assert release.row_counts == {"fct_stops": 25, "dim_agencies": 1}
    con = duckdb.connect()
    counts = dict(
        con.execute(
            "select parse_filename(filename, true), count(*) from read_parquet(?, filename=true)"
            " group by all",
            [[str(p) for p in stops]],
        ).fetchall()
    )
    assert counts == {
        "alder_pd-2024": 21,
        "alder_pd-2025": 1,
        "alder_pd-undated": 1,
        "birch_so-2024": 1,
        "unknown-2024": 1,
    }
    ids = con.execute(
        f"select stop_person_id from read_csv('{root}/data/fct_stops/*.csv') order by all"
    ).fetchall()
    assert sorted(i for (i,) in ids) == sorted(f"p{i}" for i in range(25))
    con.close()
    assert "officer_name" not in (root / "data/fct_stops/alder_pd-2024.csv").read_text()

    resources = {
        r["name"]: r for r in json.loads((root / "datapackage.json").read_text())["resources"]
    }
    part = resources["fct_stops-alder_pd-2025"]
    assert part["path"] == "data/fct_stops/alder_pd-2025.csv"
    assert (part["lantern:table"], part["lantern:part"]) == ("fct_stops", "alder_pd-2025")
    assert part["profile"] == "tabular-data-resource"
    assert [f["name"] for f in part["schema"]["fields"]][:2] == ["stop_person_id", "agency_id"]
    assert resources["fct_stops-alder_pd-2025-parquet"]["format"] == "parquet"
    assert "fct_stops" not in resources  # the table is its parts
    meta = json.loads((root / "release.json").read_text())
    assert sorted(meta["parts"]["fct_stops"]) == [p.stem for p in stops]
    assert meta["fingerprints"]["fct_stops"] == publication.content_fingerprint(
        duckdb.connect(str(warehouse), read_only=True), parted_tables()[0]
    )  # the table's fingerprint is its parts' together
    assert verify_release(root) == []


def test_a_new_day_rewrites_only_its_agency_year(warehouse: Path, tmp_path: Path) -> None:
    """A row added to one agency-year: that part is written again, every other part and table is
    a hard link to the earlier release; a narrow night that did not rebuild the table links all
    its parts without a scan; with no rows, the table is one empty part."""
    publish_dir = tmp_path / "publish"
    con = duckdb.connect(str(warehouse))
    con.execute("update marts.fct_stops set stop_date = '2023-12-31' where stop_person_id = 'p5'")
    con.close()
    first = publish(warehouse, publish_dir, "r1", tables=parted_tables()).path
    con = duckdb.connect(str(warehouse))
    con.execute(
        "insert into marts.fct_stops by name select 'p99' as stop_person_id, agency_id,"
        " date '2024-03-01' as stop_date, stop_at, subject_race, subject_age, search_conducted,"
        " officer_id_hash, officer_name from marts.fct_stops where stop_person_id = 'p1'"
    )
    con.close()
    second = publish(
        warehouse, publish_dir, "r2", tables=parted_tables(), reuse=publication.Reuse(first)
    ).path
    assert verify_release(second) == []
    before, after = inodes(first), inodes(second)
    assert set(before) == set(after)
    rewritten = {f for f in after if before[f] != after[f]}
    assert rewritten == {"data/fct_stops/alder_pd-2024.parquet", "data/fct_stops/alder_pd-2024.csv"}
    meta = [json.loads((r / "release.json").read_text()) for r in (first, second)]
    assert meta[1]["row_counts"]["fct_stops"] == meta[0]["row_counts"]["fct_stops"] + 1
    assert (
        meta[1]["parts"]["fct_stops"]["alder_pd-2023"]
        == meta[0]["parts"]["fct_stops"]["alder_pd-2023"]
    )

    # A narrow night that rebuilt neither table: both taken as they are, parts included (the
    # warehouse changed under it, so a scan would have seen it).
    con = duckdb.connect(str(warehouse))
    con.execute("delete from marts.fct_stops where stop_person_id = 'p99'")
    con.close()
    third = publish(
        warehouse,
        publish_dir,
        "r3",
        tables=parted_tables(),
        reuse=publication.Reuse(second, frozenset()),
    ).path
    assert inodes(third) == after
    assert json.loads((third / "release.json").read_text())["parts"] == meta[1]["parts"]

    con = duckdb.connect(str(warehouse))
    con.execute("delete from marts.fct_stops")
    con.close()
    fourth = publish(
        warehouse, publish_dir, "r4", tables=parted_tables(), reuse=publication.Reuse(third)
    ).path
    assert [p.name for p in table_files(fourth, "fct_stops", "csv")] == ["empty.csv"]
    header = (fourth / "data/fct_stops/empty.csv").read_text().splitlines()
    assert header == [
        "stop_person_id,agency_id,stop_date,stop_at,subject_race,subject_age,"
        "search_conducted,officer_id_hash"
    ]
    assert verify_release(fourth) == []


def test_parts_by_a_column_not_published_are_refused(warehouse: Path, tmp_path: Path) -> None:
    stops, agencies = public_tables()
    table = PublicTable(
        stops.schema,
        stops.name,
        stops.description,
        stops.columns,
        Parts("agency_id", "officer_name"),
    )
    with pytest.raises(PublicationError, match="in parts by \\['officer_name'\\]"):
        publish(warehouse, tmp_path / "publish", "r1", tables=[table, agencies])
    assert not (tmp_path / "publish" / "r1").exists()


def test_parts_come_from_the_models_meta() -> None:
    assert Parts.from_meta({"publish_parts": {"by": "agency_id", "year_of": "stop_date"}}) == Parts(
        "agency_id", "stop_date"
    )
    assert Parts.from_meta({"publish_parts": {"by": "agency_id"}}) == Parts("agency_id", None)
    assert Parts.from_meta({}) is None and Parts.from_meta(None) is None
    with pytest.raises(PublicationError, match="publish_parts"):
        Parts.from_meta({"publish_parts": {"year": "stop_date"}})


def test_more_parts_than_one_partitioned_write_keeps_open(tmp_path: Path) -> None:
    """DuckDB's partitioned write keeps at most 100 files open and splits a part past that into
    several files: 130 agency-years are written 64 at a time, one file pair each."""
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute(
        "create table marts.fct_many as select 'a' || (i % 13) as agency_id,"
        " date '2000-06-01' + to_years(((i // 13) % 10)::integer) as event_date, i as n"
        " from range(26000) t(i)"
    )
    con.close()
    table = PublicTable("marts", "fct_many", "", {}, Parts("agency_id", "event_date"))

    release = publish_release(path, tmp_path / "publish", [table], [], personal_columns=set())

    parquet = table_files(release.path, "fct_many")
    assert len(parquet) == 130 == len(table_files(release.path, "fct_many", "csv"))
    assert release.row_counts == {"fct_many": 26000}
    con = duckdb.connect()
    per_file = con.execute(
        "select count(*), count(distinct n) from read_parquet(?) group by filename",
        [[str(p) for p in parquet]],
    ).fetchall()
    con.close()
    assert set(per_file) == {(200, 200)}
    assert verify_release(release.path) == []
