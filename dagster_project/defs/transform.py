"""dbt: staging, intermediate and marts as assets; dbt tests as asset checks.

The dbt project runs as one `dbt build`, so a failing blocking test stops the models after it and
fails the step, and nothing downstream (publication) runs. Test results are also written to
`quality.check_results` so the CLI, the publication and the reports see the same gate.
"""

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cached_property
from importlib import metadata
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets
from packaging import version

from dagster_project import warehouse
from ingestion import settings
from ingestion.faults import fault_point

TARGET_DIR = settings.DBT_PROJECT_DIR / "target"
MANIFEST = TARGET_DIR / "manifest.json"
# The venv's dbt, whether or not the venv is on PATH (the CLI runs without activating it).
DBT_EXECUTABLE = Path(sys.executable).with_name("dbt")
# dbt parses the whole project again (`dbt parse` 8.4 s against 4.1 s) when the profile's
# connection settings differ from those its saved parse state was made with, and the DuckDB
# file's path is one of them: the first night of every data folder (a test's, a bench's, a
# second deployment's) paid that. The
# dbt child opens "~/warehouse.duckdb" instead, with HOME set to the warehouse's folder (DuckDB
# expands ~ from HOME), so one parse state suits every warehouse so named, the one `lantern
# prepare` writes into dbt/target/ included (profiles.yml: LANTERN_DBT_WAREHOUSE).
DBT_WAREHOUSE_NAME = "warehouse.duckdb"
DBT_WAREHOUSE = f"~/{DBT_WAREHOUSE_NAME}"


def dbt_child_environment(warehouse_path: Path | None = None) -> dict[str, str]:
    """The variables a dbt child process gets on top of this process's environment."""
    path = Path(warehouse_path or settings.warehouse_path())
    env = {"LANTERN_WAREHOUSE": str(path)}
    if not settings.is_postgres() and path.name == DBT_WAREHOUSE_NAME:
        env |= {"LANTERN_DBT_WAREHOUSE": DBT_WAREHOUSE, "HOME": str(path.parent)}
    return env


@contextmanager
def dbt_child_environ() -> Iterator[None]:
    """`dbt_child_environment` in os.environ while dagster-dbt starts dbt (it copies the
    environment into the child), as it was again once the child is running."""
    changes = dbt_child_environment()
    saved = {key: os.environ.get(key) for key in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _dbt_sources_newer_than(path: Path) -> bool:
    if not path.exists():
        return True
    built = path.stat().st_mtime
    for folder in ("models", "macros", "tests", "seeds"):
        for file in (settings.DBT_PROJECT_DIR / folder).rglob("*"):
            if file.is_file() and file.stat().st_mtime > built:
                return True
    return any(
        (settings.DBT_PROJECT_DIR / name).stat().st_mtime > built
        for name in ("dbt_project.yml", "profiles.yml")
    )


def prepare_manifest(force: bool = False) -> Path:
    """`dbt parse` only when the project changed: loading definitions then costs ~8 s, not ~20 s."""
    if force or _dbt_sources_newer_than(MANIFEST):
        settings.quiet_telemetry()
        env = {**os.environ, **dbt_child_environment()}
        subprocess.run(
            [
                str(DBT_EXECUTABLE),
                "parse",
                "--quiet",
                "--project-dir",
                str(settings.DBT_PROJECT_DIR),
                "--profiles-dir",
                str(settings.DBT_PROJECT_DIR),
                "--target-path",
                str(TARGET_DIR),
            ],
            check=True,
            env=env,
        )
    return MANIFEST


class LanternDbtTranslator(DagsterDbtTranslator):
    """Asset keys mirror warehouse relations: `staging/stg_raw__stops`, `marts/fct_stops`, and a
    source `raw.stops` is `raw/stops`, the key the dlt asset materialises."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        schema = dbt_resource_props.get("config", {}).get("schema") or "main"
        return dg.AssetKey([schema, dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return dbt_resource_props.get("config", {}).get("schema") or "dbt"


def dbt_project() -> DbtProject:
    return DbtProject(
        project_dir=settings.DBT_PROJECT_DIR,
        profiles_dir=settings.DBT_PROJECT_DIR,
        target_path=TARGET_DIR,
    )


class LanternDbtCliResource(DbtCliResource):
    """dagster-dbt's resource without two start-up costs it pays in every run (about 3 s each on
    these machines, issue 7's fixed cost): `dbt --version` in a subprocess to learn the version
    of the dbt it runs, which is this venv's dbt-core, whose version is known without running
    it; and a dbt adapter built in process, used only to fetch row counts or column metadata,
    which Lantern does not ask for. (Private hooks of the locked dagster-dbt 0.29:
    tests/dagster_project/test_definitions.py checks they are still called.)"""

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:  # type: ignore[override]
        return None


def dbt_resource() -> DbtCliResource:
    return LanternDbtCliResource(
        project_dir=dbt_project(),
        profiles_dir=str(settings.DBT_PROJECT_DIR),
        dbt_executable=str(DBT_EXECUTABLE),
    )


def test_severities(manifest_path: Path) -> dict[str, str]:
    """dbt test name -> blocking | warn, from each test's declared severity (not its outcome)."""
    manifest = json.loads(manifest_path.read_text())
    return {
        node["name"]: "warn"
        if str(node["config"].get("severity", "error")).lower() == "warn"
        else "blocking"
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test"
    }


LAST_RUN = TARGET_DIR / "last_run"
PARTIAL_PARSE = "partial_parse.msgpack"


def partial_parse_cache() -> Path:
    """dbt's partial-parse state for this data folder and engine.

    Each data folder keeps the state its last dbt invocation left (dbt still checks every file's
    hash against it, so a changed project is parsed again where it changed); its first
    invocation starts from the state `lantern prepare` left in dbt/target/, which suits it when
    its warehouse is named warehouse.duckdb (`DBT_WAREHOUSE`); otherwise dbt parses the project
    whole once (about 4 s more), the DuckDB path being part of dbt's connection settings."""
    return settings.data_dir() / "dbt" / f"{settings.target()}-{PARTIAL_PARSE}"


def seed_parse_state(target: Path) -> None:
    """Give a dbt target folder without a parse state the one `lantern prepare` left, as the
    nightly asset's invocations start from it when their data folder has none of its own (for
    dbt started by hand or by a test, with `dbt_child_environment`)."""
    prepared = TARGET_DIR / PARTIAL_PARSE
    if not (target / PARTIAL_PARSE).is_file() and prepared.is_file():
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(prepared, target / PARTIAL_PARSE)


def _invocation_target(run_id: str) -> Path:
    """A new target folder for one dbt invocation, seeded with this data folder's parse state."""
    path = TARGET_DIR / f"lantern_dbt-{run_id[:8]}-{uuid.uuid4().hex[:7]}"
    path.mkdir(parents=True)
    cache = partial_parse_cache()
    if cache.is_file():
        shutil.copyfile(cache, path / PARTIAL_PARSE)
    else:
        seed_parse_state(path)
    return path


def _tidy_invocation(path: Path) -> None:
    """dagster-dbt gives every dbt invocation its own target folder (about 20 MB: manifest,
    compiled SQL) and never removes it: a year of nights would keep gigabytes. The last
    invocation's run_results.json (every node's status, message, timing and compiled SQL) is
    kept in dbt/target/last_run/ (moved atomically, so concurrent runs cannot leave a torn file),
    dbt's parse state in the data folder (`partial_parse_cache`); the folder goes."""
    try:
        LAST_RUN.mkdir(parents=True, exist_ok=True)
        for name in ("run_results.json",):
            if (path / name).is_file():
                os.replace(path / name, LAST_RUN / name)
        if (path / PARTIAL_PARSE).is_file():  # replaced atomically (maybe another filesystem)
            cache = partial_parse_cache()
            cache.parent.mkdir(parents=True, exist_ok=True)
            partial = cache.with_name(f".{cache.name}.{uuid.uuid4().hex[:7]}")
            shutil.copyfile(path / PARTIAL_PARSE, partial)
            os.replace(partial, cache)
    except OSError:
        pass  # keeping the last artifacts is a convenience; the run's outcome is in Dagster
    finally:
        shutil.rmtree(path, ignore_errors=True)


class DbtBuildConfig(dg.Config):
    """`full_refresh`: rebuild the incremental models from all of raw (`dbt build --full-refresh`,
    `lantern run --full-refresh`); otherwise a night processes only what was loaded since."""

    full_refresh: bool = False


def build_dbt_assets() -> dg.AssetsDefinition:
    manifest_path = prepare_manifest()
    severities = test_severities(manifest_path)

    @dbt_assets(
        manifest=manifest_path,
        project=dbt_project(),
        dagster_dbt_translator=LanternDbtTranslator(),
    )
    def lantern_dbt(context: dg.AssetExecutionContext, dbt: DbtCliResource, config: DbtBuildConfig):
        os.environ["LANTERN_WAREHOUSE"] = str(settings.warehouse_path())
        recorded = []
        # dbt's unit tests check the SQL against fixed inputs, not the night's data: they run in
        # `make test` (tests/test_nightly_path.py), not in every night (~7 s of CPU each).
        # No dbt.log: its debug lines cost ~2 s of a demo night's 20 s of dbt; Dagster keeps
        # dbt's own output with the run, and run_results.json (last_run/) every node's outcome.
        args = ["build", "--exclude-resource-type", "unit_test", "--log-level-file", "none"]
        if config.full_refresh:
            args.append("--full-refresh")
        with dbt_child_environ():
            invocation = dbt.cli(
                args,
                context=context,
                raise_on_error=False,
                target_path=_invocation_target(context.run_id),
            )
        try:
            built = 0
            for event in invocation.stream():
                if isinstance(event, dg.Output | dg.AssetMaterialization):
                    built += 1
                    if built == 3:  # some models built, most not (tests/faults/)
                        fault_point("dbt", children=[invocation.process])
                if isinstance(event, dg.AssetCheckResult):
                    severity = severities.get(event.check_name, "blocking")
                    recorded.append(
                        {
                            "asset_key": "/".join(event.asset_key.path),
                            "check_name": event.check_name,
                            "severity": severity,
                            "passed": event.passed,
                            "description": "dbt test",
                            "details": {
                                k: getattr(v, "value", str(v))
                                for k, v in (event.metadata or {}).items()
                            },
                        }
                    )
                yield event
        finally:
            _tidy_invocation(invocation.target_path)
        warehouse.record_checks(context.run_id, recorded)
        if not invocation.is_successful():
            failed = [
                r["check_name"] for r in recorded if not r["passed"] and r["severity"] == "blocking"
            ]
            raise dg.Failure(
                description="dbt build failed"
                + (f": blocking tests failed: {', '.join(failed)}" if failed else ""),
            )

    return lantern_dbt
