"""Raw layer: the dlt pipeline as one multi-asset (`raw/<dataset>`, `raw/rejects`, `raw/files` and
the configuration tables), with the two blocking checks that guard what enters the warehouse.

The raw layer is partitioned by agency (issue 7): one partition per configured agency
(ingestion/agencies/<agency_id>/) and per reference source (ingestion/reference/<source_id>/),
read when the definitions load. Materialising a partition loads only that agency's new files, so
one agency's new file, broken file or failure does not touch the others. A run over a range of
partitions is still one run and one dlt load (BackfillPolicy.single_run): the nightly job runs
over every partition at once, as fast as an unpartitioned load.
"""

from collections.abc import Sequence
from typing import TYPE_CHECKING

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from dagster_project import warehouse
from ingestion import config, settings

if TYPE_CHECKING:  # dlt loads with the pipeline, when the asset runs, not with the definitions
    from ingestion.pipeline import IngestResult

RAW_TABLES = (
    *settings.DATASETS,
    "rejects",
    "files",
    "value_maps",
    "not_recorded",
    "cadences",
    "agencies",
    "population",
)
FILES_KEY = dg.AssetKey(["raw", "files"])


class IngestConfig(dg.Config):
    """`agencies`: load only these, among the run's partitions (`lantern run --agencies`)."""

    agencies: list[str] = []


def partition_keys() -> list[str]:
    """The agency partitions: every configured agency and reference source, in id order."""
    return sorted(set(config.agency_ids()) | set(config.reference_sources()))


def agency_partitions() -> dg.StaticPartitionsDefinition:
    """Static, from the configuration folders: an onboarded agency (`lantern onboard`) becomes a
    partition when the definitions next load (every `lantern run`; "Reload" in the UI), and the
    keys can never drift from the configuration as instance-stored dynamic partitions could."""
    return dg.StaticPartitionsDefinition(partition_keys())


def partition_range_tags(keys: Sequence[str] | None = None) -> dict[str, str]:
    """Run tags selecting a range of agency partitions for one run (all of them by default): what
    a single-run backfill launched from the UI puts on its run."""
    keys = list(keys) if keys else partition_keys()
    order = {key: i for i, key in enumerate(partition_keys())}
    ordered = sorted(keys, key=lambda k: order.get(k, len(order)))
    return {
        ASSET_PARTITION_RANGE_START_TAG: ordered[0],
        ASSET_PARTITION_RANGE_END_TAG: ordered[-1],
    }


def _reconciliation(result: "IngestResult") -> tuple[bool, list[dict]]:
    """raw rows (counted from the file itself) = accepted + rejected + quarantined, as stored."""
    problems = []
    with warehouse.connect(read_only=True) as con:
        for outcome in result.files:
            if outcome.status == "duplicate":
                continue
            accepted = con.execute(
                f'select count(*) from raw."{outcome.dataset}" where _file_hash = ? and _load_id = ?',
                [outcome.file_hash, result.load_id],
            ).fetchone()[0]
            rejected = con.execute(
                "select count(*) from raw.rejects where file_hash = ? and load_id = ?",
                [outcome.file_hash, result.load_id],
            ).fetchone()[0]
            if outcome.rows_raw != accepted + rejected + outcome.rows_quarantined:
                problems.append(
                    {
                        "file": outcome.source_file,
                        "rows_raw": outcome.rows_raw,
                        "accepted": accepted,
                        "rejected": rejected,
                        "quarantined": outcome.rows_quarantined,
                    }
                )
    return not problems, problems


def build_raw_ingest(partitions_def: dg.PartitionsDefinition | None = None) -> dg.AssetsDefinition:
    """The raw multi-asset over `partitions_def` (the agency partitions unless given)."""
    return dg.multi_asset(
        name="raw_ingest",
        partitions_def=partitions_def or agency_partitions(),
        backfill_policy=dg.BackfillPolicy.single_run(),
        specs=RAW_SPECS,
        check_specs=RAW_CHECK_SPECS,
    )(_raw_ingest)


RAW_SPECS = [
    dg.AssetSpec(
        ["raw", table],
        group_name="raw",
        kinds={"dlt", "duckdb"},
        description=f"raw.{table}, loaded by dlt from the landing zone (ingestion/CONTRACT.md).",
    )
    for table in RAW_TABLES
]
RAW_CHECK_SPECS = [
    dg.AssetCheckSpec(
        "contract",
        asset=FILES_KEY,
        blocking=False,
        description="Every file delivered this run could be read under its agency's mapping "
        "(required columns present, declared format and encoding, types as before). A file "
        "that cannot is quarantined: none of its rows is loaded, so the rest of the night's "
        "data is still published, with the quarantined file and its reason in the quality "
        "report (warn: one agency's broken export does not hold back every other agency's).",
    ),
    dg.AssetCheckSpec(
        "reconciliation",
        asset=FILES_KEY,
        blocking=True,
        description="For every file loaded this run: raw rows = accepted + rejected + quarantined.",
    ),
]


def _raw_ingest(context: dg.AssetExecutionContext, config: IngestConfig):
    agencies = list(context.partition_keys)
    if config.agencies:
        agencies = [a for a in agencies if a in config.agencies]
    if not agencies:
        raise dg.Failure(
            f"none of the agencies {config.agencies} is a partition of this run "
            f"({', '.join(context.partition_keys)}): check the agency ids (ingestion/agencies/)"
        )
    from ingestion.pipeline import ingest

    context.log.info(f"agency partitions loaded: {', '.join(agencies)}")
    result = ingest(settings.DATASETS, agencies)
    for outcome in result.files:
        context.log.info(
            f"{outcome.source_file}: {outcome.status}, {outcome.rows_raw} rows, "
            f"{outcome.rows_accepted} accepted, {outcome.rows_rejected} rejected"
            + (f" ({outcome.reason})" if outcome.reason else "")
        )
    quarantined = result.quarantined
    contract_ok = not quarantined
    reconciled, problems = _reconciliation(result)
    checks = [
        {
            "asset_key": "raw/files",
            "check_name": "contract",
            "severity": "warn",
            "passed": contract_ok,
            "description": "files readable under their mapping",
            "details": {
                "quarantined": [{"file": f.source_file, "reason": f.reason} for f in quarantined]
            },
        },
        {
            "asset_key": "raw/files",
            "check_name": "reconciliation",
            "severity": "blocking",
            "passed": reconciled,
            "description": "raw rows = accepted + rejected + quarantined",
            "details": {"mismatches": problems},
        },
    ]
    warehouse.record_checks(context.run_id, checks)
    for table in RAW_TABLES:
        yield dg.MaterializeResult(
            asset_key=["raw", table],
            metadata={
                "load_id": result.load_id,
                "files_loaded": len(result.loaded),
                "files_skipped_unchanged": result.skipped,
            }
            if table == "files"
            else {"load_id": result.load_id},
        )
    yield dg.AssetCheckResult(
        asset_key=FILES_KEY,
        check_name="contract",
        passed=contract_ok,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "quarantined": dg.MetadataValue.json(checks[0]["details"]["quarantined"]),
        },
        description="; ".join(f.reason or "" for f in quarantined) or None,
    )
    yield dg.AssetCheckResult(
        asset_key=FILES_KEY,
        check_name="reconciliation",
        passed=reconciled,
        metadata={"mismatches": dg.MetadataValue.json(problems)},
    )
