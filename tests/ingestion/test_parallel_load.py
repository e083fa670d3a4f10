"""A load reads its files in worker processes when there is enough to read (pipeline.read_night):
the raw tables, the ledger and the rejects must be those of reading every file in the loading
process, whatever order the workers finish in; two files with the same bytes in one night are
decided as reading in order would (the second a duplicate when the first loaded, quarantined
too when the first was)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import pytest

from ingestion import demo, pipeline

ROWS = 3_000
BROKEN = "alder_pd/stops/alder_stops_2024H1.csv"
BROKEN_COPY = "alder_pd/stops/alder_stops_2024H1_copy.csv"
LOAD_COLUMNS = {"_loaded_at", "_load_id", "loaded_at", "load_id"}


def _load(data: Path, landing: Path, workers: int, monkeypatch) -> pipeline.IngestResult:
    monkeypatch.setenv("LANTERN_DATA_DIR", str(data))
    monkeypatch.setenv("LANTERN_WAREHOUSE", str(data / "warehouse.duckdb"))
    monkeypatch.setenv("LANTERN_LANDING_DIR", str(landing))
    monkeypatch.setenv("LANTERN_LOAD_WORKERS", str(workers))
    monkeypatch.setenv("LANTERN_SALT", "parallel-salt")
    return pipeline.ingest()


def _tables(warehouse: Path) -> dict[str, tuple[list, list]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        out = {}
        names = con.execute(
            "select table_name from information_schema.tables where table_schema = 'raw'"
            " and table_name not like '\\_dlt%' escape '\\' order by 1"
        ).fetchall()
        for (name,) in names:
            columns = con.execute(
                "select column_name, data_type from information_schema.columns"
                " where table_schema = 'raw' and table_name = ? order by column_name",
                [name],
            ).fetchall()
            kept = [c for c, _ in columns if c not in LOAD_COLUMNS]
            rows = con.execute(
                f"select {', '.join(f'{chr(34)}{c}{chr(34)}' for c in kept)} from raw.{name}"
            ).fetchall()
            out[name] = (columns, sorted(rows, key=repr))
        return out
    finally:
        con.close()


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    root = tmp_path_factory.mktemp("parallel")
    demo.generate(root / "landing", rows=ROWS)
    good = root / "landing" / "alder_pd" / "stops" / "alder_stops_2023H2.csv"
    header, rest = good.read_bytes().split(b"\r\n", 1)
    broken = header.replace(b"Race", b"Ethnicity") + b"\r\n" + rest
    for relative in (BROKEN, BROKEN_COPY):  # the same bytes twice, both unreadable
        (root / "landing" / relative).write_bytes(broken)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_workers_load_what_one_process_loads(landing, tmp_path, monkeypatch):
    results = {}
    for workers in (0, 2):
        copy = tmp_path / f"landing{workers}"
        shutil.copytree(landing / "landing", copy)
        results[workers] = (
            _load(tmp_path / f"data{workers}", copy, workers, monkeypatch),
            _tables(tmp_path / f"data{workers}" / "warehouse.duckdb"),
        )
    (inline, inline_tables), (parallel, parallel_tables) = results[0], results[2]
    assert [(f.source_file, f.status, f.rows_raw, f.rows_accepted) for f in parallel.files] == [
        (f.source_file, f.status, f.rows_raw, f.rows_accepted) for f in inline.files
    ]
    assert sorted(parallel_tables) == sorted(inline_tables)
    differing = [t for t in inline_tables if inline_tables[t] != parallel_tables[t]]
    assert differing == []
    statuses = {f.source_file: f.status for f in parallel.files}
    assert statuses[BROKEN] == statuses[BROKEN_COPY] == "quarantined"
    assert statuses["alder_pd/stops/alder_stops_2023H1_resent.csv"] == "duplicate"
    assert len(inline_tables["stops"][1]) > 0.9 * ROWS
    # the workers' Parquet files are gone once dlt has them
    assert not any((tmp_path / "data2" / ".load_staging").glob("*.parquet"))


def test_landed_files_are_hashed_once_until_they_change(tmp_path, monkeypatch):
    """A night looks at every landed file; one already hashed, untouched since, is not read
    again (its size, modification time and inode are the same), one written again is."""
    calls = []
    real = pipeline.file_sha256
    monkeypatch.setattr(pipeline, "file_sha256", lambda path: calls.append(path) or real(path))
    landed = tmp_path / "a.csv"
    landed.write_text("x\n1\n")
    first = pipeline.FileHashes(tmp_path / "hashes.json")
    digest = first.sha256(landed)
    first.save()
    again = pipeline.FileHashes(tmp_path / "hashes.json")
    assert again.sha256(landed) == digest and len(calls) == 1
    stat = landed.stat()
    landed.write_text("x\n2\n")  # same size, new content
    os.utime(landed, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert again.sha256(landed) == real(landed) != digest and len(calls) == 2


def test_a_free_worker_starts_the_largest_file_that_fits_beside_the_others():
    from ingestion.delivery import next_to_start

    gb = 10**9
    needs = {1: 5 * gb, 2: 2 * gb, 3: int(1.2 * gb), 4: int(0.5 * gb)}
    pending = [1, 2, 3, 4]  # largest expected memory first
    # nothing running: the largest starts, alone since it needs more than the budget
    assert next_to_start(pending, needs, 0, 3 * gb) == 1
    # beside 2 GB the largest that fits within 3 GB is the 0.5 GB file, not the 1.2 GB one
    assert next_to_start(pending, needs, 2 * gb, 3 * gb) == 4
    assert next_to_start(pending, needs, int(1.5 * gb), 3 * gb) == 3
    # nothing fits beside 2.8 GB: wait for a file to finish
    assert next_to_start(pending, needs, int(2.8 * gb), 3 * gb) is None
    assert next_to_start([], needs, 0, 3 * gb) is None


def test_expected_memory_follows_the_mapping_format(landing):
    from datetime import UTC, datetime

    from ingestion.delivery import MEMORY_PER_BYTE, FileOutcome, FileTask, Previous, expected_memory

    def task(agency: str, dataset: str, relative: str) -> FileTask:
        path = landing / "landing" / relative
        outcome = FileOutcome(agency, dataset, relative, "0" * 64, "loaded")
        now = datetime.now(UTC)
        return FileTask(1, path, outcome, now, "1", "salt", Previous(), path.with_suffix(".pq"))

    files = {
        "csv": ("alder_pd", "stops", "alder_pd/stops/alder_stops_2023H2.csv"),
        "excel": ("birch_so", "stops", next(
            str(p.relative_to(landing / "landing"))
            for p in (landing / "landing" / "birch_so" / "stops").glob("*.xlsx")
        )),
        "jsonl": ("cedar_pd", "stops", next(
            str(p.relative_to(landing / "landing"))
            for p in (landing / "landing" / "cedar_pd" / "stops").glob("*.jsonl")
        )),
    }  # fmt: skip
    for fmt, (agency, dataset, relative) in files.items():
        size = (landing / "landing" / relative).stat().st_size
        assert expected_memory(task(agency, dataset, relative)) == size * MEMORY_PER_BYTE[fmt]
    # an agency without a mapping: the costliest format is assumed
    unknown = task("no_such_agency", "stops", "alder_pd/stops/alder_stops_2023H2.csv")
    size = unknown.path.stat().st_size
    assert expected_memory(unknown) == size * MEMORY_PER_BYTE["excel"]
