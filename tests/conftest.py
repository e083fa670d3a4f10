"""Run by `make test` on two workers (pytest-xdist, `--dist loadgroup`): the modules of a folder
that share one session fixture (one nightly run, one demo release) stay on one worker, so that run
happens once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# The nightly runs of the tests print no PDF annual report (Chromium, about 2 s a report, in
# every run): tests/reports/ prints and reads them (its demo release sets "latest").
os.environ.setdefault("LANTERN_REPORT_PDF", "none")

HERE = Path(__file__).resolve().parent
# folders whose modules share a session-scoped fixture (their conftest.py)
SHARED = ("faults", "reports", "real", "dagster_project/analytics")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        relative = Path(item.path).resolve().relative_to(HERE).as_posix()
        group = next((g for g in SHARED if relative.startswith(g + "/")), relative)
        item.add_marker(pytest.mark.xdist_group(group))
