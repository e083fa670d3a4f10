"""dbt's parse state per data folder (dagster_project/defs/transform.py `partial_parse_cache`):
a data folder's second dbt invocation parses nothing again, though its warehouse path (part of
dbt's connection settings) differs from the one `lantern prepare` parsed the project for."""

from __future__ import annotations

import json
import os
import subprocess

from dagster_project.defs import transform
from ingestion import settings


def test_the_second_invocation_of_a_data_folder_reuses_its_parse_state(tmp_path, monkeypatch):
    monkeypatch.setenv("LANTERN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LANTERN_WAREHOUSE", str(tmp_path / "elsewhere" / "warehouse.duckdb"))
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}
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
    assert parsed[0] > 100  # the whole project: the state in dbt/target/ suits another warehouse
    assert parsed[1] == 0
    assert transform.partial_parse_cache().parent == tmp_path / "dbt"
    assert transform.partial_parse_cache().is_file()
    assert not any(folder.exists() for folder in folders)
