"""Run by `make test` on two workers (pytest-xdist, `--dist loadgroup`): the modules of a folder
that share one session fixture (one nightly run, one demo release) stay on one worker, so that run
happens once. In tests/real, the modules of each shared nightly run (real_run_a, real_run_b in
tests/real/conftest.py) form a group of their own.

The groups are handed out heaviest first (`WEIGHTS`, not xdist's default of most tests first):
each shared nightly run costs about a minute, and a heavy group started last leaves the other
worker idle for its whole length."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from _pytest.nodeid import NodeId

# The nightly runs of the tests print no PDF annual report (Chromium, about 2 s a report, in
# every run): tests/reports/ prints and reads them (its demo release sets "latest").
os.environ.setdefault("LANTERN_REPORT_PDF", "none")

HERE = Path(__file__).resolve().parent
# folders whose modules share a session-scoped fixture (their conftest.py)
SHARED = ("faults", "reports", "real", "dagster_project/analytics")
# Seconds of worker time of the heaviest groups (make test on a fresh clone, --durations): the
# scheduler hands them out in this order, longest first, then the rest in collection order.
# Only the order matters; refresh it when a group's cost changes much.
WEIGHTS = {
    "faults": 330,
    "dagster_project/test_partitions.py": 210,
    "test_incremental.py": 210,
    "reports": 190,
    "test_nightly_path.py": 130,
    "dagster_project/analytics": 110,
    "test_postgres.py": 95,
    "real/real_run_a": 80,
    "real/real_run_b": 65,
    "dbt/test_dbt_project.py": 45,
    "dbt/test_dbt_analytics.py": 40,
    "dbt/test_dbt_incidents.py": 35,
    "ingestion/test_validate.py": 30,
}


def pytest_configure(config: pytest.Config) -> None:
    # xdist (loadscope, loadgroup) by default queues the groups by their number of tests: a
    # group of five tests behind one nightly run would start after every small module
    if getattr(config.option, "loadscopereorder", None) is not None:
        config.option.loadscopereorder = False


def _in_node_id(item: pytest.Item, group: str) -> None:
    """Append "@group" to the item's node id, from which the loadgroup scheduler reads the group.

    pytest-xdist 3.8's worker writes that suffix to `item._nodeid`, which pytest 9.2 no longer
    reads (node ids are structured, in `item._id`): its groups are silently ignored and the tests
    spread over both workers like `--dist load`, each worker then paying every shared session
    fixture (pytest-xdist issue 1386). Written here as xdist means to, on its workers only.
    """
    if "@" in item.nodeid or not isinstance(getattr(item, "_id", None), NodeId):
        return  # already suffixed (a fixed xdist), or an older pytest that xdist handles
    item._id = NodeId.parse(f"{item.nodeid}@{group}")


# tryfirst: before xdist's own hook, which reads the marks.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    groups = {}
    for item in items:
        relative = Path(item.path).resolve().relative_to(HERE).as_posix()
        group = next((g for g in SHARED if relative.startswith(g + "/")), relative)
        if group == "real":  # one group per shared nightly run: the two run on both workers
            runs = sorted(f for f in item.fixturenames if f.startswith("real_run_"))
            group = "/".join([group, *runs])
        groups[item] = group
        item.add_marker(pytest.mark.xdist_group(group))
        if getattr(config.option, "loadgroup", False):
            _in_node_id(item, group)
    if getattr(config.option, "loadgroup", False):
        # the scheduler queues the groups in the order of their first test (stable sort: each
        # group's tests keep their order)
        items.sort(key=lambda item: -WEIGHTS.get(groups[item], 0))
