"""`make bench`: Lantern's nightly run against DuckDB alone on the same files.

Measures, each in its own process: (a) the floor: DuckDB alone reading every export the nightly
run reads (each into a table; the stops into one) and computing the headline mart (search rates
by agency and race);
(b) Lantern's full nightly run (load, transform, every check, publish); (c) a nightly increment
of about 30,000 stops on top of that history; and a run with no new data (the fixed cost).
Also times `lantern validate` on the largest stops export (`validate_s`, `validate_mb_per_s`).
Writes bench/results.json; ratios, not absolute times, are what carries from one machine to
another. Run it several times and quote medians.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

FLOOR = r"""
import atexit, glob, json, shutil, sys, tempfile, time, duckdb, pyarrow as pa
from python_calamine import CalamineWorkbook
landing = sys.argv[1]
# the transcoded CSVs (as large as the exports) go with the process
scratch = tempfile.mkdtemp(prefix="lantern-floor-")
atexit.register(shutil.rmtree, scratch, True)
start = time.perf_counter()
con = duckdb.connect()
con.execute("set enable_progress_bar = false")
count = 0


def relation(path):
    # every file as it is, its values as text, as any reader of it must start
    global count
    count += 1
    if path.endswith(".csv"):
        # the demo CSVs are cp1252 behind a UTF-8 BOM: transcode, as any reader of them must
        raw = open(path, "rb").read().removeprefix(b"\xef\xbb\xbf")
        tmp = tempfile.NamedTemporaryFile(suffix=".csv", delete=False, dir=scratch)
        tmp.write(raw.decode("cp1252").encode("utf-8"))
        tmp.close()
        return f"read_csv('{tmp.name}', all_varchar=true, header=true, ignore_errors=true)"
    if path.endswith(".jsonl"):
        return f"read_json('{path}', format='newline_delimited', ignore_errors=true)"
    # DuckDB has no offline Excel reader: the fastest one at hand, as Lantern uses
    rows = CalamineWorkbook.from_path(path).get_sheet_by_index(0).iter_rows()
    header = [str(h) for h in next(rows)]
    data = list(zip(*[[None if v is None else str(v) for v in r] for r in rows]))
    table = pa.table({h: pa.array(list(col) if data else [], pa.string()) for h, col in zip(header, data or [[]] * len(header))})
    con.register(f"x{count}", table)
    return f"x{count}"


# the stops, and the headline mart: search rates by agency and race
parts = []
for path in sorted(glob.glob(f"{landing}/*/stops/*")):
    race, searched = ("race", "searched") if path.endswith(".jsonl") else ("Race", "Searched")
    parts.append(f"select {race}::varchar as race, {searched}::varchar as searched from {relation(path)}")
con.execute("create table stops as " + " union all ".join(parts))
print(con.execute("select race, count(*), avg(case when lower(searched) in ('y','1','true') then 1 else 0 end) from stops group by race").fetchall()[:3])
stops_s = time.perf_counter() - start
# every other export the nightly run reads, each into a table of its own
for path in sorted(glob.glob(f"{landing}/*/*/*.*")):
    if "/stops/" not in path and path.endswith((".csv", ".jsonl", ".xlsx")):
        con.execute(f"create table t{count} as select * from {relation(path)}")
with open(sys.argv[2], "w") as out:
    json.dump({"stops_only_s": round(stops_s, 2), "files": count}, out)
"""


def tree_rss(root: int) -> int:
    """Resident bytes of a process and all its descendants (dbt runs in a child process)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
        rss[int(entry)] = int(fields[21]) * page
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


def measure(cmd: list[str], env: dict, samples: list | None = None) -> dict:
    """Wall and CPU time (the process and its children) and peak memory: the largest sum of
    resident memory over the whole process tree, sampled every 0.2 s (each sample appended to
    `samples` as (epoch seconds, bytes) when given)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log)
        peak = 0
        while proc.poll() is None:  # poll() reaps the child: its rusage comes from RUSAGE_CHILDREN
            rss = tree_rss(proc.pid)
            peak = max(peak, rss)
            if samples is not None:
                samples.append((time.time(), rss))
            time.sleep(0.2)
        wall = time.perf_counter() - start
        log.seek(0)
        stderr = log.read().decode(errors="replace")
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{stderr[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "peak_rss_bytes": peak}


# The increments' days: day n of January 2024, after the demo's history (2023) ends.
INCREMENT_DAY = "01/{day:02d}/2024"


def step_intervals(dagster_home: Path) -> dict[str, tuple[float, float]]:
    """(start, end) in epoch seconds of each step of the latest run, from Dagster's run storage
    (SQLite)."""
    history = dagster_home / "history"
    with sqlite3.connect(history / "runs.db") as runs:
        found = runs.execute("select run_id from runs order by create_timestamp desc limit 1")
        row = found.fetchone()
    if row is None:
        return {}
    with sqlite3.connect(history / "runs" / f"{row[0]}.db") as events:
        rows = events.execute(
            "select step_key, dagster_event_type, timestamp from event_logs where"
            " dagster_event_type in ('STEP_START', 'STEP_SUCCESS', 'STEP_FAILURE') order by id"
        ).fetchall()
    started, out = {}, {}
    for step, kind, stamp in rows:
        moment = datetime.fromisoformat(stamp).timestamp() if isinstance(stamp, str) else stamp
        if kind == "STEP_START":
            started[step] = moment
        elif step in started:
            out[step] = (started[step], moment)
    return out


def step_seconds(intervals: dict[str, tuple[float, float]]) -> dict[str, float]:
    """Wall seconds of each step (`step_intervals`), so results.json says where a night's time
    went."""
    return {step: round(end - start, 1) for step, (start, end) in intervals.items()}


def step_peaks(intervals: dict[str, tuple[float, float]], samples: list) -> dict[str, int]:
    """Each step's peak memory: the largest sum of resident memory of the whole process tree
    sampled while the step ran (steps that run at once share their samples), so results.json
    says which step set the run's peak."""
    return {
        step: max((rss for moment, rss in samples if start <= moment <= end), default=0)
        for step, (start, end) in intervals.items()
    }


def increment(landing: Path, work: Path, rows: int, day: int = 1) -> None:
    """Day `day` of 2024: a small alder export of one day's stops with fresh record ids (a new
    file, new content), as a nightly delivery would bring. Day 1 opens alder's 2024 (a new
    agency-year, a new part of the published stops); a later day adds to it."""
    extra = work / "increment"
    source = extra / "alder_pd" / "stops" / "alder_stops_2023H2.csv"
    if not source.is_file():  # one generated export gives every day's
        shutil.rmtree(extra, ignore_errors=True)
        subprocess.run(
            [str(BIN / "python"), "-m", "ingestion.demo", "--rows", str(rows * 4), "--out",
             str(extra), "--seed", "99"],
            check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    # "Incident #,Stop Date,...": every record's date (its second field, never quoted) moves to
    # the one new day and its id to a prefix of the day's own (A24- on day 1, A25- on day 2, ...);
    # lines that are not records (the header, malformed lines) stay as they are
    prefix = f"A{23 + day}".encode()
    data = re.sub(
        rb"^A23(-[0-9]+,)[0-9]{2}/[0-9]{2}/[0-9]{4},",
        prefix + rb"\g<1>" + INCREMENT_DAY.format(day=day).encode() + b",",
        source.read_bytes(),
        flags=re.MULTILINE,
    ).replace(b"A23-", prefix + b"-")
    (landing / "alder_pd" / "stops" / f"alder_stops_2024D{day:03d}.csv").write_bytes(data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--increment-rows", type=int, default=30_000)
    parser.add_argument("--work", type=Path, default=ROOT / "data" / "bench")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs with no new data, and increments (one more day each), at every history size: "
        "their medians are reported (default 3)",
    )
    parser.add_argument(
        "--history",
        default="",
        help="comma-separated smaller histories (person-stops) at which to measure the same "
        "increment again, each in its own warehouse, to show whether (c) stays flat as history "
        "grows (e.g. 1000000,5000000)",
    )
    args = parser.parse_args(argv)
    work = args.work.resolve()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    main_run = scenario(work / "main", args.rows, args.increment_rows, args.repeat, True)
    history = {args.rows: main_run["increment"]["wall_s"]}
    runs = {args.rows: main_run["increment_runs_s"]}
    for rows in sorted({int(r) for r in args.history.split(",") if r.strip()} - {args.rows}):
        smaller = scenario(work / f"h{rows}", rows, args.increment_rows, args.repeat)
        history[rows], runs[rows] = smaller["increment"]["wall_s"], smaller["increment_runs_s"]
    floor, full, noop, inc = (main_run[k] for k in ("floor", "full", "noop", "increment"))
    checked = main_run["validate"]
    results = {
        "rows": args.rows,
        "floor_s": floor["wall_s"],
        "full_s": full["wall_s"],
        "increment_s": inc["wall_s"],
        "noop_s": noop["wall_s"],
        "full_peak_rss_bytes": full["peak_rss_bytes"],
        "validate_s": checked["wall_s"],
        "validate_mb_per_s": round(checked["bytes"] / 1e6 / checked["wall_s"], 1),
        "ratio_full_to_floor": round(full["wall_s"] / floor["wall_s"], 2),
        # the floor's stops alone (runs 1 to 8 measured only these): read within the floor's run
        "floor_stops_only_s": floor["stops_only_s"],
        "ratio_full_to_stops_only_floor": round(full["wall_s"] / floor["stops_only_s"], 2),
        "ratio_increment_to_full": round(inc["wall_s"] / full["wall_s"], 3),
        "repeat": args.repeat,
        "noop_runs_s": main_run["noop_runs_s"],
        "increment_runs_s": main_run["increment_runs_s"],
        "increment_s_by_history_rows": {str(k): v for k, v in sorted(history.items())},
        "increment_runs_s_by_history_rows": {str(k): v for k, v in sorted(runs.items())},
        "increment_spread": round(max(history.values()) / min(history.values()) - 1, 3),
        "detail": main_run,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(json.dumps({k: v for k, v in results.items() if k != "detail"}, indent=2))
    return 0


def scenario(
    work: Path, rows: int, increment_rows: int, repeat: int = 1, with_floor: bool = False
) -> dict:
    """Generate `rows` person-stops, then a full run, `repeat` runs with nothing new and
    `repeat` increments (days 1, 2, ... of 2024), in a warehouse of its own; with the floor and
    `lantern validate` for the main size. `noop` and `increment` are the median runs (by wall
    time), `noop_runs_s` and `increment_runs_s` every run's wall time in order."""
    shutil.rmtree(work, ignore_errors=True)
    landing = work / "landing"
    env = {**os.environ, "LANTERN_DATA_DIR": str(work), "DAGSTER_HOME": str(work / "dagster_home")}
    env.pop("LANTERN_WAREHOUSE", None)
    out: dict = {}

    def step(name: str, label: str, cmd: list[str]) -> dict:
        print(f"[{rows:,} rows] {label} ...", flush=True)
        samples: list[tuple[float, int]] = []
        out[name] = measure(cmd, env, samples)
        print(f"  {out[name]}", flush=True)
        if cmd[0] == lantern and cmd[1] == "run":
            intervals = step_intervals(work / "dagster_home")
            out[name]["steps_s"] = step_seconds(intervals)
            out[name]["steps_peak_rss_bytes"] = step_peaks(intervals, samples)
            print(f"  steps: {out[name]['steps_s']}", flush=True)
            print(f"  steps' peak memory: {out[name]['steps_peak_rss_bytes']}", flush=True)
        return out[name]

    py, lantern = str(BIN / "python"), str(BIN / "lantern")
    step("generate", "generating the demo exports",
         [py, "-m", "ingestion.demo", "--rows", str(rows), "--out", str(landing)])  # fmt: skip
    if with_floor:
        # `lantern validate` on the largest stops export (a 100 MB file in well under a minute)
        export = max((landing / "alder_pd" / "stops").glob("*.csv"), key=lambda p: p.stat().st_size)
        step("validate", f"lantern validate on {export.name}",
             [lantern, "validate", "alder_pd", str(export)])  # fmt: skip
        out["validate"]["bytes"] = export.stat().st_size
        inner = work / "floor.json"
        step("floor", "(a) floor: DuckDB alone", [py, "-c", FLOOR, str(landing), str(inner)])
        out["floor"].update(json.loads(inner.read_text()))
    step("full", "(b) Lantern full nightly run", [lantern, "run"])
    for kind in ("noop", "increment"):
        for number in range(1, repeat + 1):
            if kind == "increment":
                increment(landing, work, increment_rows, day=number)
            label = (
                f"(c) increment of about {increment_rows:,} stops, day {number}"
                if kind == "increment"
                else "    run with no new data"
            )
            step(f"{kind}_{number}", f"{label} ({number} of {repeat})", [lantern, "run"])
        done = [out.pop(f"{kind}_{number}") for number in range(1, repeat + 1)]
        out[f"{kind}_runs_s"] = [run["wall_s"] for run in done]
        out[kind] = sorted(done, key=lambda run: run["wall_s"])[(len(done) - 1) // 2]
    return out


if __name__ == "__main__":
    sys.exit(main())
