"""Raw layer: the dlt pipeline as one multi-asset (`raw/<dataset>`, `raw/rejects`, `raw/files` and
the configuration tables), with the two blocking checks that guard what enters the warehouse."""

import dagster as dg

from dagster_project import warehouse
from ingestion import settings
from ingestion.pipeline import IngestResult, ingest

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
    agencies: list[str] = []


def _reconciliation(result: IngestResult) -> tuple[bool, list[dict]]:
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


@dg.multi_asset(
    name="raw_ingest",
    specs=[
        dg.AssetSpec(
            ["raw", table],
            group_name="raw",
            kinds={"dlt", "duckdb"},
            description=f"raw.{table}, loaded by dlt from the landing zone (ingestion/CONTRACT.md).",
        )
        for table in RAW_TABLES
    ],
    check_specs=[
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
    ],
)
def raw_ingest(context: dg.AssetExecutionContext, config: IngestConfig):
    result = ingest(settings.DATASETS, config.agencies or None)
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
