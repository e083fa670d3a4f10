"""Where things live. Every path in Lantern comes from here (or from the env vars it reads)."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
AGENCIES_DIR = PROJECT_ROOT / "ingestion" / "agencies"
CANONICAL_DIR = PROJECT_ROOT / "ingestion" / "canonical"
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt"

# Datasets Lantern knows; each has ingestion/canonical/<dataset>.yml.
DATASETS = (
    "stops",
    "arrests",
    "incidents",
    "use_of_force",
    "complaints",
    "allegations",
    "complainants",
    "calls_for_service",
    "bwc_recordings",
    "bwc_audit_events",
    "school_incidents",
    "survey_responses",
    "survey_item_responses",
    "fatal_force",
)
# Reference datasets: records about many agencies kept by a third party (the Washington Post's
# fatal-force file), mapped in ingestion/reference/<source_id>/<dataset>.yml with the same mapping
# language and landed in data/landing/<source_id>/<dataset>/; no agency.yml.
REFERENCE_DIR = PROJECT_ROOT / "ingestion" / "reference"
REFERENCE_DATASETS = ("fatal_force",)


def data_dir() -> Path:
    """Root of everything a run writes (landing zone, warehouse, releases); LANTERN_DATA_DIR moves it."""
    return Path(os.environ.get("LANTERN_DATA_DIR", PROJECT_ROOT / "data")).resolve()


def landing_dir() -> Path:
    return Path(os.environ.get("LANTERN_LANDING_DIR", data_dir() / "landing")).resolve()


def warehouse_path() -> Path:
    return Path(os.environ.get("LANTERN_WAREHOUSE", data_dir() / "warehouse.duckdb")).resolve()


# The warehouse engine: DuckDB (the default, a file under data/) or a PostgreSQL server
# (README "Running on PostgreSQL"). One setting selects it for dlt, dbt and the Python code.
TARGETS = ("duckdb", "postgres")


def target() -> str:
    """`LANTERN_TARGET`: duckdb (default) or postgres."""
    value = os.environ.get("LANTERN_TARGET", "duckdb").strip().lower() or "duckdb"
    if value not in TARGETS:
        raise ValueError(f"LANTERN_TARGET={value!r}: expected one of {', '.join(TARGETS)}")
    return value


def is_postgres() -> bool:
    return target() == "postgres"


def postgres_params() -> dict[str, str]:
    """The PostgreSQL server, from libpq's own variables (PGHOST, PGPORT, PGUSER, PGPASSWORD,
    PGDATABASE), the same ones psql, psycopg2 and dbt/profiles.yml read."""
    return {
        "host": os.environ.get("PGHOST", "127.0.0.1"),
        "port": os.environ.get("PGPORT", "5432"),
        "user": os.environ.get("PGUSER", "postgres"),
        "password": os.environ.get("PGPASSWORD", ""),
        "dbname": os.environ.get("PGDATABASE", "lantern"),
    }


def postgres_dsn() -> str:
    """A postgresql:// URL of the server (for dlt's postgres destination)."""
    from urllib.parse import quote

    p = postgres_params()
    auth = quote(p["user"], safe="") + (
        ":" + quote(p["password"], safe="") if p["password"] else ""
    )
    return f"postgresql://{auth}@{p['host']}:{p['port']}/{quote(p['dbname'], safe='')}"


# DuckDB takes 80% of the machine's memory by default; a 10-million-stop night reached 11 GB in
# dbt alone. Every DuckDB connection Lantern opens (dlt's and dbt's too) stays under this limit
# and spills to disk beyond it (issue 7: a night under 4 GiB). LANTERN_DUCKDB_MEMORY_LIMIT
# changes it (DuckDB's syntax: 2GB, 500MB).
DEFAULT_DUCKDB_MEMORY_LIMIT = "2GB"


def duckdb_memory_limit() -> str:
    return os.environ.get("LANTERN_DUCKDB_MEMORY_LIMIT", "").strip() or DEFAULT_DUCKDB_MEMORY_LIMIT


_SIZE_UNITS = {
    "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}  # fmt: skip


def duckdb_memory_bytes() -> int:
    """The memory limit in bytes (DuckDB's units: 2GB is 10^9 bytes, 2GiB 2^30)."""
    import re

    text = duckdb_memory_limit()
    match = re.fullmatch(r"\s*([0-9.]+)\s*([a-zA-Z]*)\s*", text)
    unit = (match.group(2).lower() or "b") if match else ""
    if not match or unit not in _SIZE_UNITS:
        raise ValueError(f"LANTERN_DUCKDB_MEMORY_LIMIT={text!r}: expected a size such as 2GB")
    return int(float(match.group(1)) * _SIZE_UNITS[unit])


def duckdb_config(*, in_memory: bool = False) -> dict[str, str]:
    """The `config` of every DuckDB connection Lantern opens. A database file spills beside
    itself (`<file>.tmp/`); an in-memory one would spill into `.tmp/` of the working directory,
    so it spills into the data folder's instead, a folder per process: DuckDB names its spill
    files the same in every process, and two load workers sharing a folder overwrote each
    other's (a segmentation fault at 10 million stops)."""
    config = {"memory_limit": duckdb_memory_limit()}
    if in_memory:
        folder = duckdb_spill_dir() / str(os.getpid())
        folder.parent.mkdir(parents=True, exist_ok=True)  # DuckDB makes only the last level
        config["temp_directory"] = str(folder)
    return config


def duckdb_spill_dir() -> Path:
    """Where in-memory DuckDB databases spill, a folder per process inside."""
    return data_dir() / ".duckdb_tmp"


def publish_dir() -> Path:
    return Path(os.environ.get("LANTERN_PUBLISH_DIR", data_dir() / "publish")).resolve()


def agencies_dir() -> Path:
    return Path(os.environ.get("LANTERN_AGENCIES_DIR", AGENCIES_DIR)).resolve()


def dagster_home() -> Path:
    return Path(os.environ.get("DAGSTER_HOME", data_dir() / "dagster_home")).resolve()


def quiet_telemetry() -> None:
    """Every tool in the stack phones home by default; these machines must not (STACK-NOTES.md)."""
    for key, value in {
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "DO_NOT_TRACK": "1",
        "RUNTIME__DLTHUB_TELEMETRY": "false",
        "DAGSTER_DISABLE_TELEMETRY": "1",
        "GX_ANALYTICS_ENABLED": "False",
    }.items():
        os.environ.setdefault(key, value)
