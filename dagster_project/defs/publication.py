"""Publication: a dated release of every public mart, switched to `current` only when complete."""

import json
from pathlib import Path

import dagster as dg

from dagster_project import warehouse
from ingestion import config, settings

PUBLIC_SCHEMA = "marts"
# Never published, whatever a model says: names, dates of birth, addresses, raw officer ids.
# The guard also refuses any column *ending* in one of these, so keep them specific (a bare
# "name" would refuse `agency_name`).
GENERIC_PERSONAL_COLUMNS = {
    "first_name",
    "last_name",
    "full_name",
    "subject_name",
    "officer_name",
    "date_of_birth",
    "dob",
    "birth_date",
    "address",
    "street_address",
    "home_address",
    "officer_id",
    "badge_number",
    "raw_text",
}


def personal_columns() -> set[str]:
    names = set(GENERIC_PERSONAL_COLUMNS)
    for dataset in settings.DATASETS:
        names |= {f.name for f in config.dataset_spec(dataset).fields.values() if f.personal}
    return names


def public_models(manifest_path: Path) -> list[dict]:
    """Models of the marts schema, with their documented columns, from dbt's manifest."""
    manifest = json.loads(manifest_path.read_text())
    models = []
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model" or node["config"].get("schema") != PUBLIC_SCHEMA:
            continue
        models.append(
            {
                "schema": PUBLIC_SCHEMA,
                "name": node["name"],
                "description": node.get("description", ""),
                "columns": {
                    c: v.get("description", "") for c, v in node.get("columns", {}).items()
                },
                # `publish_parts` (dagster_project/publication.py, Parts): dbt keeps a model's
                # meta in its config (and, for older manifests, beside it)
                "meta": node["config"].get("meta") or node.get("meta") or {},
            }
        )
    return sorted(models, key=lambda m: m["name"])


def build_publish_asset(
    manifest_path: Path, extra_tables: list[dict] | None = None
) -> dg.AssetsDefinition:
    """extra_tables: public tables written by Python assets (same keys as public_models)."""
    models = sorted(
        public_models(manifest_path) + list(extra_tables or []), key=lambda m: m["name"]
    )

    @dg.asset(
        key=["publish", "release"],
        deps=[dg.AssetKey([m["schema"], m["name"]]) for m in models],
        group_name="publish",
        kinds={"parquet", "csv"},
        description="Writes data/publish/<release_id>/ (Parquet, CSV, datapackage.json, checksums, "
        "check results) and switches data/publish/current to it once complete.",
    )
    def release(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        from dagster_project.defs import automation
        from dagster_project.publication import (
            Parts,
            PublicTable,
            Reuse,
            carry_files,
            current_release,
            publish_release,
        )
        from dagster_project.reports import add_to_release

        tags = context.run.tags
        checks = warehouse.check_results(context.run_id)
        # Every night: a table whose published rows are those of the current release (the same
        # content fingerprint) is hard-linked from it, not exported again.
        current = current_release(settings.publish_dir())
        reuse = Reuse(current) if current is not None else None
        # The agencies' narratives and the annual reports (HTML; PDF where Chromium is).
        extras = [add_to_release]
        if tags.get(automation.QUIET_TAG) == "true":
            previous = automation.quiet_release(tags.get(automation.STATE_TAG, ""))
            if previous is None:
                raise dg.Failure(
                    "quiet-night run, but the current release no longer matches the state it "
                    "was published from (new files or a change since the run started): run "
                    "`lantern run` again for a full night"
                )
            checks = carried_checks(previous, checks)
            reuse = Reuse(previous, automation.QUIET_REBUILT)
            extras = [carry_files(previous)]
            context.log.info(
                f"quiet night: the tables other than {sorted(automation.QUIET_REBUILT)}, the "
                f"checks and the reports of release {previous.name} carried over"
            )
        elif tags.get(automation.NARROW_TAG):
            previous = _narrow_release(tags)
            selected = context.run.asset_selection or set()
            rebuilt = frozenset(
                m["name"] for m in models if dg.AssetKey([m["schema"], m["name"]]) in selected
            )
            checks = carried_checks(previous, checks)
            reuse = Reuse(previous, rebuilt)
            context.log.info(
                f"narrow night (new files of {tags[automation.NARROW_TAG]}): "
                f"{len(rebuilt)} of {len(models)} tables rebuilt; the others and their checks "
                f"carried from release {previous.name}"
            )
        blocked = [c for c in checks if c["severity"] == "blocking" and not c["passed"]]
        if blocked:
            # Dagster already skips this asset when a blocking check fails; this guards against a
            # check that ran outside the graph's dependencies.
            raise dg.Failure(
                "quality gate failed: "
                + ", ".join(f"{c['asset_key']}:{c['check_name']}" for c in blocked)
            )
        tables = [
            PublicTable(
                m["schema"],
                m["name"],
                m["description"],
                m["columns"],
                Parts.from_meta(m.get("meta")),
            )
            for m in models
        ]
        published = publish_release(
            settings.warehouse_path(),
            settings.publish_dir(),
            tables,
            checks,
            personal_columns=personal_columns(),
            extras=extras,
            reuse=reuse,
        )
        if automation.STATE_TAG in tags:  # a complete run: the next night may be quiet or narrow
            parts = automation.NightState.from_json(tags.get(automation.STATE_PARTS_TAG, ""))
            automation.record_publication(parts or tags[automation.STATE_TAG], published.path)
        context.log.info(f"published release {published.path}")
        return dg.MaterializeResult(
            metadata={
                "release_path": str(published.path),
                "tables": len(tables),
                "checks": len(checks),
            }
        )

    return release


def _narrow_release(tags: dict[str, str]) -> Path:
    """The release a narrow night carries tables and checks from: still current, and the one
    the night's selection was made against (the same setup, the same changed datasets)."""
    from dagster_project.defs import automation

    state = automation.NightState.from_json(tags.get(automation.STATE_PARTS_TAG, ""))
    found = automation.narrow_release(state) if state is not None else None
    if found is None or ",".join(found[1]) != tags[automation.NARROW_TAG]:
        raise dg.Failure(
            "narrow-night run, but the current release or the setup changed since the run "
            "started (another run published, or the code or configuration changed): run "
            "`lantern run` again"
        )
    return found[0]


def carried_checks(previous: Path, checks: list[dict]) -> list[dict]:
    """A quiet or narrow night's gate: the checks of the release it builds on, each marked with
    the release it comes from, with what this run checked again (a quiet night: the freshness
    mart's dbt tests; a narrow night: the checks of every asset it rebuilt) in place of the
    earlier outcome."""
    from dagster_project.publication import CHECKS

    rechecked = {(c["asset_key"], c["check_name"]) for c in checks}
    earlier = json.loads((previous / CHECKS).read_text(encoding="utf-8"))
    carried = [
        {**c, "carried_from_release": c.get("carried_from_release", previous.name)}
        for c in earlier
        if (c["asset_key"], c["check_name"]) not in rechecked
    ]
    return carried + checks
