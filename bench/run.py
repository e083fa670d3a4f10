"""`make bench`: Lantern's nightly run against DuckDB alone on the same files.

Measures, each in its own process: (a) the floor: DuckDB alone reading the demo agencies'
exports into one table and computing the headline mart (search rates by agency and race);
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
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

FLOOR = r"""
import sys, glob, duckdb, pyarrow as pa, openpyxl
landing = sys.argv[1]
con = duckdb.connect()
con.execute("set enable_progress_bar = false")
parts = []
import tempfile
for path in sorted(glob.glob(f"{landing}/*/stops/*.csv")):
    # the demo CSV is cp1252 behind a UTF-8 BOM: transcode, as any reader of it must
    raw = open(path, "rb").read().removeprefix(b"\xef\xbb\xbf")
    tmp = tempfile.NamedTemporaryFile(suffix=".csv", delete=False)
    tmp.write(raw.decode("cp1252").encode("utf-8"))
    tmp.close()
    parts.append(f"select Race as race, Searched as searched from read_csv('{tmp.name}', all_varchar=true, header=true, ignore_errors=true)")
for path in sorted(glob.glob(f"{landing}/*/stops/*.jsonl")):
    parts.append(f"select race::varchar as race, searched::varchar as searched from read_json('{path}', format='newline_delimited', ignore_errors=true)")
for i, path in enumerate(sorted(glob.glob(f"{landing}/*/stops/*.xlsx"))):
    book = openpyxl.load_workbook(path, read_only=True)
    rows = book.worksheets[0].iter_rows(values_only=True)
    header = [str(h) for h in next(rows)]
    data = list(zip(*[[None if v is None else str(v) for v in r] for r in rows]))
    table = pa.table({h: pa.array(list(col) if data else [], pa.string()) for h, col in zip(header, data or [[]] * len(header))})
    con.register(f"x{i}", table)
    parts.append(f"select Race as race, Searched as searched from x{i}")
con.execute("create table stops as " + " union all ".join(parts))
print(con.execute("select race, count(*), avg(case when lower(searched) in ('y','1','true') then 1 else 0 end) from stops group by race").fetchall()[:3])
"""


def measure(cmd: list[str], env: dict) -> dict:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code not in (0,):
        raise SystemExit(f"{' '.join(cmd)} failed ({code}):\n{stderr[-3000:]}")
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_bytes": usage.ru_maxrss * 1024,
    }


def increment(landing: Path, work: Path, rows: int) -> None:
    """One more day: a small alder export with fresh record ids (a new file, new content)."""
    extra = work / "increment"
    shutil.rmtree(extra, ignore_errors=True)
    subprocess.run(
        [str(BIN / "python"), "-m", "ingestion.demo", "--rows", str(rows * 2), "--out", str(extra),
         "--seed", "99"],
        check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    source = sorted((extra / "alder_pd" / "stops").glob("alder_stops_2023H2.csv"))[0]
    data = source.read_bytes().replace(b"A23-", b"A24-")
    (landing / "alder_pd" / "stops" / "alder_stops_2024D001.csv").write_bytes(data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--increment-rows", type=int, default=30_000)
    parser.add_argument("--work", type=Path, default=ROOT / "data" / "bench")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json")
    args = parser.parse_args(argv)
    work = args.work.resolve()
    shutil.rmtree(work, ignore_errors=True)
    landing = work / "landing"
    env = {**os.environ, "LANTERN_DATA_DIR": str(work), "DAGSTER_HOME": str(work / "dagster_home")}
    env.pop("LANTERN_WAREHOUSE", None)
    print(f"generating {args.rows:,} person-stops in {landing} ...", flush=True)
    gen = measure(
        [
            str(BIN / "python"),
            "-m",
            "ingestion.demo",
            "--rows",
            str(args.rows),
            "--out",
            str(landing),
        ],
        env,
    )
    print(f"  generated in {gen['wall_s']} s", flush=True)
    # `lantern validate` on the largest stops export (issue 4: a 100 MB file in well under a minute)
    export = max((landing / "alder_pd" / "stops").glob("*.csv"), key=lambda p: p.stat().st_size)
    print(
        f"lantern validate on {export.name} ({export.stat().st_size / 1e6:.0f} MB) ...", flush=True
    )
    checked = measure([str(BIN / "lantern"), "validate", "alder_pd", str(export)], env)
    checked["bytes"] = export.stat().st_size
    print(f"  {checked}", flush=True)
    print("(a) floor: DuckDB alone ...", flush=True)
    floor = measure([str(BIN / "python"), "-c", FLOOR, str(landing)], env)
    print(f"  {floor}", flush=True)
    print("(b) Lantern full nightly run ...", flush=True)
    full = measure([str(BIN / "lantern"), "run"], env)
    print(f"  {full}", flush=True)
    print("    run with no new data ...", flush=True)
    noop = measure([str(BIN / "lantern"), "run"], env)
    print(f"  {noop}", flush=True)
    increment(landing, work, args.increment_rows)
    print(f"(c) increment of about {args.increment_rows:,} stops ...", flush=True)
    inc = measure([str(BIN / "lantern"), "run"], env)
    print(f"  {inc}", flush=True)
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
        "ratio_increment_to_full": round(inc["wall_s"] / full["wall_s"], 3),
        "detail": {
            "generate": gen,
            "validate": checked,
            "floor": floor,
            "full": full,
            "noop": noop,
            "increment": inc,
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(json.dumps({k: v for k, v in results.items() if k != "detail"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
