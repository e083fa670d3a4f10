"""Model fits as nightly assets: veil of darkness, threshold test and their decision log.

Downstream of the dbt marts fct_stops and dim_agencies (keys mirror warehouse relations, as in
defs/transform.py); upstream of the publication, which publishes the three tables with the marts.
The fitting code is in dagster_project/analytics/ and imports JAX, NumPyro and statsmodels only
when the asset runs, so loading the definitions stays fast.
"""

import dagster as dg

from dagster_project import warehouse
from dagster_project.analytics.nightly import TABLES
from ingestion import settings

FCT_STOPS = dg.AssetKey(["marts", "fct_stops"])
DIM_AGENCIES = dg.AssetKey(["marts", "dim_agencies"])
FIT_KEYS = [dg.AssetKey(["marts", name]) for name in TABLES]


@dg.multi_asset(
    name="analytics_fits",
    specs=[
        dg.AssetSpec(
            key,
            deps=[FCT_STOPS, DIM_AGENCIES],
            group_name="marts",
            kinds={"python", "duckdb"},
            description=TABLES[key.path[-1]][0],
        )
        for key in FIT_KEYS
    ],
)
def analytics_fits(context: dg.AssetExecutionContext):
    from dagster_project.analytics.nightly import run_all

    if settings.is_postgres():
        rows = _run_on_a_duckdb_copy(run_all)
    else:
        with warehouse.connect() as con:
            rows = run_all(con)
    if rows.get("unchanged"):
        context.log.info("fct_stops and dim_agencies unchanged since the last fit: tables kept")
    else:
        context.log.info(f"agency-years fitted again: {', '.join(rows['refitted_periods'])}")
    for key in FIT_KEYS:
        context.log.info(f"{key.to_user_string()}: {rows[key.path[-1]]} rows")
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={
                "rows": rows[key.path[-1]],
                "refitted": not rows.get("unchanged"),
                "agencies_refitted": dg.MetadataValue.json(rows["refitted"]),
                "agency_years_refitted": dg.MetadataValue.json(rows["refitted_periods"]),
            },
        )


def _run_on_a_duckdb_copy(run_all) -> dict[str, int]:
    """On a PostgreSQL warehouse the fits (DuckDB SQL: sun times, temporary tables) run on an
    in-memory DuckDB copy of what they read, with their last tables and fingerprints, and write
    their tables back when they refitted any agency."""
    from dagster_project.analytics.nightly import STATE_TABLE

    state = [("marts", name) for name in TABLES] + [("fits_state", STATE_TABLE)]
    with warehouse.connect(read_only=True) as pg:
        kept = [(s, t) for s, t in state if warehouse.table_exists(pg, s, t)]
    with warehouse.duckdb_copy([("marts", "fct_stops"), ("marts", "dim_agencies"), *kept]) as con:
        rows = run_all(con)
        if not rows.get("unchanged"):
            with warehouse.connect() as pg:
                for schema, table in state:
                    warehouse.copy_into_postgres(con, pg, schema, table)
    return rows
