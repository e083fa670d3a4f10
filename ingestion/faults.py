"""Named points where the fault-injection suite (tests/faults/) kills a run, as a power cut would.

`LANTERN_FAULT_AT=<point>` makes the process die at that point with no clean-up of any kind
(`os._exit`: no `finally`, no atexit, no flush), after killing the child processes it names (dbt
runs as a subprocess: a real crash takes it down too). Unset, every point is a no-op. Points:

- `load`: the new files are extracted and normalised by dlt, nothing is committed to raw yet;
- `dbt`: the first models of `dbt build` are built, the rest are not;
- `publish`: half of the release's tables are written to its staging folder, `current` not
  switched.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Iterable

log = logging.getLogger(__name__)

POINTS = ("load", "dbt", "publish")
KILLED_EXIT_CODE = 137  # what a shell reports for a process killed by SIGKILL


def fault_point(name: str, children: Iterable[subprocess.Popen] = ()) -> None:
    if name not in POINTS:
        raise ValueError(f"unknown fault point {name!r}")
    if os.environ.get("LANTERN_FAULT_AT") != name:
        return
    for child in children:
        child.kill()
        child.wait()
    log.error("LANTERN_FAULT_AT=%s: killing the run here", name)
    os._exit(KILLED_EXIT_CODE)
