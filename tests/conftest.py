"""Run by `make test` on two workers (pytest-xdist, `--dist loadgroup`): the modules of a folder
that share one session fixture (one nightly run, one demo release) stay on one worker, so that run
happens once. In tests/real, the modules of each shared nightly run (real_run_a, real_run_b in
tests/real/conftest.py) form a group of their own."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
# folders whose modules share a session-scoped fixture (their conftest.py)
SHARED = ("faults", "reports", "real", "dagster_project/analytics")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        relative = Path(item.path).resolve().relative_to(HERE).as_posix()
        group = next((g for g in SHARED if relative.startswith(g + "/")), relative)
        if group == "real":  # one group per shared nightly run: the two run on both workers
            runs = sorted(f for f in item.fixturenames if f.startswith("real_run_"))
            group = "/".join([group, *runs])
        item.add_marker(pytest.mark.xdist_group(group))
