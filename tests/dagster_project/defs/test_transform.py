"""dbt's parse state (dagster_project/defs/transform.py): the dbt child opens
"~/warehouse.duckdb" with HOME set to the warehouse's folder, so the state `lantern prepare`
writes suits every data folder's first night; a warehouse named otherwise (its path is part of
dbt's connection settings) parses the project whole once, then keeps its data folder's own state
(`partial_parse_cache`)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import duckdb

from dagster_project.defs import transform
from ingestion import settings


def parse_twice(tmp_path: Path, monkeypatch, warehouse: Path) -> tuple[list[int], list[Path]]:
    """Files dbt parsed in each of two invocations of the data folder, as the nightly asset
    starts dbt (its target folder, its environment), and the target folders used."""
    monkeypatch.setenv("LANTERN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LANTERN_WAREHOUSE", str(warehouse))
    env = {
        **os.environ,
        **transform.dbt_child_environment(),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    }
    parsed, folders = [], []
    for _ in range(2):
        target = transform._invocation_target("0123456789")
        folders.append(target)
        subprocess.run(
            [str(transform.DBT_EXECUTABLE), "parse", "--quiet",
             "--project-dir", str(settings.DBT_PROJECT_DIR),
             "--profiles-dir", str(settings.DBT_PROJECT_DIR),
             "--target-path", str(target), "--log-path", str(target)],
            check=True, env=env,
        )  # fmt: skip
        parsed.append(json.loads((target / "perf_info.json").read_text())["parsed_path_count"])
        transform._tidy_invocation(target)
    return parsed, folders


def test_a_new_data_folder_reuses_the_prepared_parse_state(tmp_path, monkeypatch):
    warehouse = tmp_path / "elsewhere" / "warehouse.duckdb"
    parsed, folders = parse_twice(tmp_path, monkeypatch, warehouse)
    assert parsed == [0, 0]  # the state in dbt/target/ suits this warehouse too
    assert transform.partial_parse_cache().parent == tmp_path / "dbt"
    assert transform.partial_parse_cache().is_file()
    assert not any(folder.exists() for folder in folders)


def test_a_warehouse_named_otherwise_parses_whole_once(tmp_path, monkeypatch):
    parsed, _ = parse_twice(tmp_path, monkeypatch, tmp_path / "lantern.duckdb")
    assert parsed[0] > 100  # the whole project: its path is not the prepared state's
    assert parsed[1] == 0


def test_the_dbt_child_opens_the_warehouse_of_its_data_folder(tmp_path, monkeypatch):
    """DuckDB expands "~" from HOME: what the child opens is the data folder's warehouse."""
    monkeypatch.setenv("LANTERN_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    con.execute("create table marker as select 42 as answer")
    con.close()
    env = {**os.environ, **transform.dbt_child_environment()}
    assert env["LANTERN_DBT_WAREHOUSE"] == "~/warehouse.duckdb"
    assert env["HOME"] == str(tmp_path)
    opened = subprocess.run(
        [str(Path(transform.DBT_EXECUTABLE).with_name("python")), "-c",
         "import duckdb, os; path = os.environ['LANTERN_DBT_WAREHOUSE'];"
         " print(duckdb.connect(path, read_only=True).execute('from marker').fetchone()[0])"],
        check=True, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert opened.stdout.strip() == "42"
    # the variables are set in this process only while dagster-dbt starts the child
    home = os.environ.get("HOME")
    with transform.dbt_child_environ():
        assert os.environ["HOME"] == str(tmp_path)
    assert os.environ.get("HOME") == home
    assert "LANTERN_DBT_WAREHOUSE" not in os.environ
