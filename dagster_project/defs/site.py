"""The community site (reports/, Evidence), rebuilt from the release just published.

Optional: it builds only with LANTERN_BUILD_SITE=1 and reports/ installed (`make reports`), so
`make demo` and the tests stay fast; otherwise it records that it skipped. The annual reports are
not here: they are part of the release itself (publish/release).
"""

import dagster as dg

from ingestion import settings


@dg.asset(
    key=["publish", "site"],
    deps=[dg.AssetKey(["publish", "release"])],
    group_name="publish",
    kinds={"evidence"},
    description="Builds the community site (reports/) over data/publish/current into "
    "data/publish/site/ when LANTERN_BUILD_SITE=1 and reports/node_modules exists.",
)
def site(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    from dagster_project import reports

    if not reports.site_enabled():
        context.log.info("site not built: set LANTERN_BUILD_SITE=1 after `make reports`")
        return dg.MaterializeResult(metadata={"built": False})
    release = settings.publish_dir() / "current"
    out = reports.build_site(release, settings.publish_dir() / "site")
    context.log.info(f"site built into {out}")
    return dg.MaterializeResult(metadata={"built": True, "path": str(out)})
