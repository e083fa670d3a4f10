"""`lantern`: the command line for data engineers (run, status) and agencies (demo data).

Each command prepares what it needs (Dagster home, dbt manifest) and runs the same Dagster
definitions as the UI and the schedule, so a run started here shows in the UI's history.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

from ingestion import settings

log = logging.getLogger("lantern")


def ensure_dagster_home() -> Path:
    home = settings.dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    source = settings.PROJECT_ROOT / "dagster_project" / "dagster.yaml"
    target = home / "dagster.yaml"
    if not target.exists() or target.read_bytes() != source.read_bytes():
        shutil.copyfile(source, target)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def run_pipeline(
    agencies: list[str] | None = None,
    verbose: bool = False,
    full_refresh: bool = False,
    force: bool = False,
) -> int:
    """Materialise the whole graph once (load, build, check, publish); 0 when published.

    `full_refresh` rebuilds every incremental dbt model from all of raw instead of adding only
    what was loaded since the last build; the result is the same tables (tests/test_incremental.py).
    A quiet night (nothing new or changed since the current release, defs/automation.py) only
    rechecks freshness and republishes, unless `force`.
    """
    settings.quiet_telemetry()
    ensure_dagster_home()
    os.environ.setdefault("LANTERN_WAREHOUSE", str(settings.warehouse_path()))
    import dagster as dg

    from dagster_project.definitions import defs
    from dagster_project.defs.automation import NARROW_TAG, QUIET_TAG, night_request
    from dagster_project.defs.ingestion import partition_keys, partition_range_tags

    started = datetime.now(UTC)
    definitions = defs()
    if agencies:
        # One run over the range of agency partitions holding `agencies`; never quiet, and not
        # a complete night (the next night is a full one).
        chosen = [a for a in agencies if a in partition_keys()]
        selection, tags = None, partition_range_tags(chosen or None)
    else:
        selection, tags = night_request(
            force=force or full_refresh, asset_graph=definitions.resolve_asset_graph()
        )
    job = definitions.resolve_job_def("nightly")
    ops = {"lantern_dbt": {"config": {"full_refresh": full_refresh}}}
    if selection is None:
        ops["raw_ingest"] = {"config": {"agencies": agencies or []}}
    run_config = {
        "ops": ops,
        "loggers": {"console": {"config": {"log_level": "DEBUG" if verbose else "WARNING"}}},
    }
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(
            instance=instance,
            run_config=run_config,
            raise_on_error=False,
            tags=tags,
            asset_selection=selection,
        )
    summary = run_summary(result.run_id, started, result.success)
    summary["quiet"] = tags.get(QUIET_TAG) == "true"
    summary["narrow"] = tags.get(NARROW_TAG, "")
    print(format_summary(summary))
    return 0 if summary["published"] else 1


def run_summary(run_id: str, started: datetime, success: bool) -> dict:
    from dagster_project import warehouse
    from dagster_project.publication import current_release
    from ingestion import config

    summary: dict = {
        "run_id": run_id,
        "success": success,
        "agencies": config.agency_ids(),
        "files": {},
        "rows": {"raw": 0, "accepted": 0, "rejected": 0, "quarantined": 0},
        "quarantined": [],
    }
    if warehouse.exists():
        with warehouse.connect(read_only=True) as con:
            if warehouse.table_exists(con, "raw", "files"):
                for status, files, raw, accepted, rejected, quarantined in con.execute(
                    """
                    select status, count(*), cast(sum(rows_raw) as bigint),
                           cast(sum(rows_accepted) as bigint), cast(sum(rows_rejected) as bigint),
                           cast(sum(rows_quarantined) as bigint)
                    from raw.files where loaded_at >= ? group by status
                    """,
                    [started],
                ).fetchall():
                    summary["files"][status] = files
                    if status != "duplicate":
                        summary["rows"]["raw"] += raw
                        summary["rows"]["accepted"] += accepted
                        summary["rows"]["rejected"] += rejected
                        summary["rows"]["quarantined"] += quarantined
                summary["quarantined"] = [
                    {"file": f, "reason": r}
                    for f, r in con.execute(
                        "select source_file, reason from raw.files "
                        "where status = 'quarantined' and loaded_at >= ? order by source_file",
                        [started],
                    ).fetchall()
                ]
            if warehouse.table_exists(con, "marts", "mart_quality_freshness"):
                summary["stale"] = [
                    f"{agency}/{dataset} (last file {str(received)[:10]})"
                    for agency, dataset, received in con.execute(
                        "select agency_id, dataset, last_received_at "
                        "from marts.mart_quality_freshness where freshness_status = 'stale' "
                        "order by agency_id, dataset"
                    ).fetchall()
                ]
            if warehouse.table_exists(con, "marts", "fct_stops"):
                summary["fct_stops_rows"] = con.execute(
                    "select count(*) from marts.fct_stops"
                ).fetchone()[0]
            if warehouse.table_exists(con, "marts", "fct_arrests"):
                summary["fct_arrests_rows"] = con.execute(
                    "select count(*) from marts.fct_arrests"
                ).fetchone()[0]
    checks = warehouse.check_results(run_id)
    summary["checks"] = {
        "passed": sum(c["passed"] for c in checks),
        "failed": sum(not c["passed"] for c in checks),
        "blocking_failed": [
            f"{c['asset_key']}:{c['check_name']}"
            for c in checks
            if not c["passed"] and c["severity"] == "blocking"
        ],
        "warn_failed": [
            f"{c['asset_key']}:{c['check_name']}"
            for c in checks
            if not c["passed"] and c["severity"] == "warn"
        ],
    }
    release = current_release(settings.publish_dir())
    summary["release"] = str(release) if release else None
    summary["published"] = bool(success and release and _release_created_after(release, started))
    return summary


def _release_created_after(release: Path, started: datetime) -> bool:
    meta = release / "release.json"
    if not meta.exists():
        return False
    created = datetime.fromisoformat(
        json.loads(meta.read_text())["created_at"].replace("Z", "+00:00")
    )
    return created >= started


def format_summary(s: dict) -> str:
    files = s["files"]
    lines = [
        f"Lantern run {s['run_id']}: {'published' if s['published'] else 'NOT PUBLISHED'}",
        *(
            [
                "  quiet:     nothing new or changed since the last release: freshness "
                "rechecked, the other tables and checks carried over (--force runs every step)"
            ]
            if s.get("quiet")
            else []
        ),
        *(
            [
                f"  narrow:    only files of {s['narrow'].replace(',', ', ')} changed: what they "
                "feed rebuilt, the other tables and checks carried over (--force runs every step)"
            ]
            if s.get("narrow")
            else []
        ),
        f"  agencies:  {len(s['agencies'])} ({', '.join(s['agencies'])})",
        f"  files:     {files.get('loaded', 0)} loaded, {files.get('duplicate', 0)} re-sent duplicates "
        f"skipped, {files.get('quarantined', 0)} quarantined",
        f"  rows:      {s['rows']['raw']} delivered = {s['rows']['accepted']} loaded + "
        f"{s['rows']['rejected']} rejected + {s['rows']['quarantined']} quarantined",
    ]
    if "fct_stops_rows" in s:
        lines.append(f"  fct_stops: {s['fct_stops_rows']} person-stops in the warehouse")
    if s.get("fct_arrests_rows"):
        lines.append(f"  fct_arrests: {s['fct_arrests_rows']} arrestees in the warehouse")
    c = s["checks"]
    lines.append(
        f"  checks:    {c['passed']} passed, {c['failed']} failed "
        f"({len(c['blocking_failed'])} blocking, {len(c['warn_failed'])} warn)"
    )
    for name in c["blocking_failed"]:
        lines.append(f"    BLOCKING FAILED {name}")
    for name in c["warn_failed"]:
        lines.append(f"    warn            {name}")
    for q in s["quarantined"]:
        lines.append(f"    QUARANTINED     {q['reason']}")
    for name in s.get("stale", []):
        lines.append(f"    STALE           {name}")
    if s["published"]:
        lines.append(f"  release:   {s['release']} (current)")
    else:
        lines.append(f"  release:   nothing published; current stays {s['release'] or '(none)'}")
    return "\n".join(lines)


def status(as_json: bool = False) -> int:
    from dagster_project import warehouse
    from dagster_project.defs.automation import QUIET_TAG
    from dagster_project.publication import current_release

    ensure_dagster_home()
    import dagster as dg

    out: dict = {
        "last_run": None,
        "checks": [],
        "release": None,
        "failures": [],
        "files": [],
        "freshness": [],
    }
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs(limit=1)
        if runs:
            run = runs[0]
            record = instance.get_run_record_by_id(run.run_id)
            out["last_run"] = {
                "run_id": run.run_id,
                "job": run.job_name,
                "status": run.status.value,
                "started_at": _ts(record.start_time) if record else None,
                "ended_at": _ts(record.end_time) if record else None,
                "quiet": run.tags.get(QUIET_TAG) == "true",
            }
    run_id = out["last_run"]["run_id"] if out["last_run"] else None
    checks = warehouse.check_results(run_id) if run_id else []
    release = current_release(settings.publish_dir())
    if (
        out["last_run"]
        and out["last_run"]["quiet"]
        and release
        and (release / "checks.json").is_file()
    ):
        # a quiet night checked freshness only: its gate is the release's, carried checks included
        checks = json.loads((release / "checks.json").read_text(encoding="utf-8"))
    out["checks"] = [
        {
            "asset": c["asset_key"],
            "check": c["check_name"],
            "severity": c["severity"],
            "passed": c["passed"],
            "description": c["description"],
            "details": json.loads(c["details"]) if c["details"] else {},
            **(
                {"carried_from_release": c["carried_from_release"]}
                if "carried_from_release" in c
                else {}
            ),
        }
        for c in checks
    ]
    if release:
        meta = release / "release.json"
        out["release"] = {
            "path": str(release),
            **(json.loads(meta.read_text()) if meta.exists() else {}),
        }
    if warehouse.exists():
        with warehouse.connect(read_only=True) as con:
            if warehouse.table_exists(con, "raw", "files"):
                # A file's latest attempt decides: a quarantined file that later loaded is fixed.
                for agency, file, reason in con.execute(
                    """
                    select agency_id, source_file, reason from (
                        select agency_id, source_file, reason, status, row_number() over (
                            partition by source_file order by loaded_at desc
                        ) as attempt
                        from raw.files
                    ) as attempts
                    where attempt = 1 and status = 'quarantined'
                    order by source_file
                    """
                ).fetchall():
                    out["failures"].append({"agency": agency, "file": file, "reason": reason})
            out["files"] = file_problems(con)
            if warehouse.table_exists(con, "marts", "mart_quality_freshness"):
                cursor = con.execute(
                    "select agency_id, dataset, expected_cadence, last_received_at, "
                    "days_since_last_received, freshness_status "
                    "from marts.mart_quality_freshness order by agency_id, dataset"
                )
                names = [d[0] for d in cursor.description]
                out["freshness"] = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    for c in out["checks"]:
        if not c["passed"] and c["severity"] == "blocking":
            out["failures"].append(
                {
                    "check": f"{c['asset']}:{c['check']}",
                    "reason": c["description"],
                    "details": c["details"],
                }
            )
    if as_json:
        print(json.dumps(out, indent=2, default=str))
    else:
        print(format_status(out))
    return 0 if not out["failures"] else 1


def file_problems(con) -> list[dict]:
    """Every delivered file whose latest attempt was quarantined, lost rows to rejects, carries
    notes (schema drift, values set to null) or lacks records its previous version had."""
    columns = {
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'raw' and table_name = 'files'"
        ).fetchall()
    }
    missing = "records_missing" if "records_missing" in columns else "cast(null as bigint)"
    rows = con.execute(
        f"""
        with attempts as (
            select *, row_number() over (
                partition by agency_id, dataset, source_file order by loaded_at desc) as attempt
            from raw.files
        ),
        latest as (
            select * from attempts where attempt = 1
        )
        select agency_id, dataset, source_file, status, reason, notes, rows_raw, rows_accepted,
               rows_rejected, rows_quarantined, {missing} as records_missing, file_hash, load_id
        from latest
        where status = 'quarantined' or rows_rejected > 0 or notes is not null
            or coalesce({missing}, 0) > 0
        order by agency_id, dataset, source_file
        """
    ).fetchall()
    out = []
    for (agency, dataset, file, state, reason, notes, raw, accepted, rejected, quarantined,
         records_missing, file_hash, load_id) in rows:  # fmt: skip
        examples = con.execute(
            "select source_row, column_name, reason from raw.rejects "
            "where file_hash = ? and load_id = ? order by source_row limit 5",
            [file_hash, load_id],
        ).fetchall()
        out.append(
            {
                "agency": agency,
                "dataset": dataset,
                "file": file,
                "status": state,
                "reason": reason,
                "notes": notes.split("\n") if notes else [],
                "rows": {
                    "raw": raw,
                    "accepted": accepted,
                    "rejected": rejected,
                    "quarantined": quarantined,
                },
                "records_missing": records_missing,
                "rejected_rows": [
                    {"row": row, "column": column, "reason": why} for row, column, why in examples
                ],
            }
        )
    return out


def _ts(value: float | None) -> str | None:
    return datetime.fromtimestamp(value, UTC).isoformat() if value else None


def format_status(out: dict) -> str:
    lines = []
    run = out["last_run"]
    if run:
        lines.append(
            f"last run:  {run['run_id']} {run['status']} (started {run['started_at']}, ended {run['ended_at']})"
            + (
                " - a quiet night: freshness rechecked, the other checks carried"
                if run.get("quiet")
                else ""
            )
        )
    else:
        lines.append("last run:  none yet (run `lantern run`)")
    if out["checks"]:
        passed = sum(c["passed"] for c in out["checks"])
        lines.append(f"checks:    {passed} passed, {len(out['checks']) - passed} failed")
        for c in out["checks"]:
            mark = "ok  " if c["passed"] else ("FAIL" if c["severity"] == "blocking" else "warn")
            lines.append(f"  {mark} [{c['severity']:8}] {c['asset']}:{c['check']}")
    release = out["release"]
    lines.append(
        f"release:   {release['path']} ({release.get('release_id', '?')})"
        if release
        else "release:   none published yet"
    )
    if out["freshness"]:
        lines.append("freshness (last file received, per agency dataset):")
    for f in out["freshness"]:
        received = str(f["last_received_at"])[:19] if f["last_received_at"] else "never"
        age = (
            f", {f['days_since_last_received']} days ago"
            if f["days_since_last_received"] is not None
            else ""
        )
        mark = "STALE" if f["freshness_status"] == "stale" else f["freshness_status"]
        lines.append(
            f"  {mark:14} {f['agency_id']}/{f['dataset']}: last received {received}{age} "
            f"(expected {f['expected_cadence']})"
        )
    if out["files"]:
        lines.append("files with problems (latest delivery of each):")
    for f in out["files"]:
        r = f["rows"]
        lines.append(
            f"  {f['status']:11} agency {f['agency']}, {f['dataset']}, file {f['file']}: "
            f"{r['raw']} rows = {r['accepted']} loaded + {r['rejected']} rejected + "
            f"{r['quarantined']} quarantined"
        )
        if f["reason"] and f["status"] == "quarantined":
            lines.append(f"      reason: {f['reason']}")
        for rej in f["rejected_rows"]:
            column = f", column '{rej['column']}'" if rej["column"] else ""
            lines.append(f"      row {rej['row']}{column}: {rej['reason']}")
        for note in f["notes"]:
            lines.append(f"      note: {note}")
    for f in out["failures"]:
        if "file" in f:
            lines.append(f"FAILURE    agency {f['agency']}, file {f['file']}: {f['reason']}")
        else:
            lines.append(
                f"FAILURE    check {f['check']}: {f['reason'] or ''} {json.dumps(f['details'], default=str)[:500]}"
            )
    return "\n".join(lines)


def validate(agency_id: str, path: Path, dataset: str, as_json: bool) -> int:
    """0 when every file is loadable under the mapping, 1 when one is not, 2 on a usage error."""
    from ingestion import config
    from ingestion import validate as checker

    try:
        reports = checker.validate_path(agency_id, path, dataset)
    except (config.ConfigError, FileNotFoundError) as exc:
        print(f"lantern validate: {exc}", file=sys.stderr)
        return 2
    print(
        checker.to_json(agency_id, reports) if as_json else checker.format_text(agency_id, reports)
    )
    return 0 if all(r.loadable for r in reports) else 1


def generate_demo(rows: int, seed: int | None, out: Path | None) -> None:
    from ingestion import demo

    target = out or settings.landing_dir()
    kwargs = {"rows": rows}
    if seed is not None:
        kwargs["seed"] = seed
    demo.generate(target, **kwargs)
    print(f"demo exports for {rows} person-stops written to {target}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lantern", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress in detail")
    sub = parser.add_subparsers(dest="command", required=True)
    p_demo = sub.add_parser(
        "demo", help="generate the demo agencies' exports and run the nightly job"
    )
    p_demo.add_argument(
        "--rows", type=int, default=30_000, help="person-stops to generate (default 30000)"
    )
    p_demo.add_argument("--seed", type=int, default=None)
    p_run = sub.add_parser("run", help="load new files, build, check and publish (the nightly job)")
    p_run.add_argument(
        "--agency",
        action="append",
        default=None,
        help="only load this agency's new files (repeatable)",
    )
    p_run.add_argument(
        "--full-refresh",
        action="store_true",
        help="rebuild the incremental models from all loaded data (dbt build --full-refresh)",
    )
    p_run.add_argument(
        "--force",
        action="store_true",
        help="run every step even when nothing is new or changed since the last release",
    )
    p_status = sub.add_parser(
        "status", help="last run, each check's result, the current release, failures"
    )
    p_status.add_argument("--format", choices=["text", "json"], default="text")
    p_gen = sub.add_parser("generate-demo", help="only write the demo agencies' exports")
    p_gen.add_argument("--rows", type=int, default=30_000)
    p_gen.add_argument("--seed", type=int, default=None)
    p_gen.add_argument("--out", type=Path, default=None)
    p_validate = sub.add_parser(
        "validate", help="check an export against the agency's mapping without loading it"
    )
    p_validate.add_argument("agency_id")
    p_validate.add_argument("path", type=Path, help="a file or a folder of files")
    p_validate.add_argument("--dataset", default="stops")
    p_validate.add_argument("--format", choices=["text", "json"], default="text")
    p_onboard = sub.add_parser("onboard", help="draft a new agency's mapping from a sample export")
    p_onboard.add_argument("agency_id")
    p_onboard.add_argument("sample", type=Path)
    p_onboard.add_argument("--dataset", required=True)
    p_onboard.add_argument("--out", type=Path, default=None, help="where to write the draft")
    sub.add_parser("prepare", help="parse the dbt project (done automatically when it changed)")
    p_threshold = sub.add_parser(
        "threshold-test", help="fit the threshold test per state to a counts file"
    )
    p_threshold.add_argument("counts", type=Path, help="CSV with the columns of fig4b")
    p_threshold.add_argument("--out", type=Path, required=True, help="results CSV to write")
    p_threshold.add_argument("--chains", type=int, default=2)
    p_threshold.add_argument("--warmup", type=int, default=300)
    p_threshold.add_argument("--draws", type=int, default=300)
    p_threshold.add_argument("--processes", type=int, default=2)
    p_threshold.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    settings.quiet_telemetry()
    if args.command == "demo":
        generate_demo(args.rows, args.seed, None)
        return run_pipeline(verbose=args.verbose)
    if args.command == "run":
        if args.agency:
            from ingestion import config

            try:
                for agency in args.agency:
                    config.load_agency(agency)  # a clear error for an unknown or unsafe id
            except config.ConfigError as exc:
                print(f"lantern run: {exc}", file=sys.stderr)
                return 2
        return run_pipeline(
            args.agency, verbose=args.verbose, full_refresh=args.full_refresh, force=args.force
        )
    if args.command == "status":
        return status(args.format == "json")
    if args.command == "generate-demo":
        generate_demo(args.rows, args.seed, args.out)
        return 0
    if args.command == "validate":
        return validate(args.agency_id, args.path, args.dataset, args.format == "json")
    if args.command == "onboard":
        from ingestion import onboard

        try:
            target = onboard.write_draft(args.agency_id, args.sample, args.dataset, args.out)
        except (ValueError, FileNotFoundError) as exc:
            print(f"lantern onboard: {exc}", file=sys.stderr)
            return 2
        print(f"draft mapping written to {target}: review every line marked REVIEW, then run")
        print(f"  lantern validate {args.agency_id} {args.sample} --dataset {args.dataset}")
        return 0
    if args.command == "threshold-test":
        from dagster_project.analytics import threshold

        fit = threshold.FitSettings(args.warmup, args.draws, args.chains, args.seed)
        return threshold.run_cli(args.counts, args.out, fit, processes=args.processes)
    if args.command == "prepare":
        from dagster_project.defs.transform import prepare_manifest

        print(prepare_manifest(force=True))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
