"""The model-fit assets sit between the dbt marts and the publication."""

from __future__ import annotations

import subprocess
import sys

import dagster as dg

from dagster_project.definitions import defs


def test_fit_assets_are_downstream_of_fct_stops_and_upstream_of_publish():
    graph = defs().resolve_asset_graph()
    release = graph.get(dg.AssetKey(["publish", "release"])).parent_keys
    for name in ("mart_veil_of_darkness", "mart_threshold_test", "mart_decision_log_fits"):
        key = dg.AssetKey(["marts", name])
        assert dg.AssetKey(["marts", "fct_stops"]) in graph.get(key).parent_keys
        assert key in release


def test_loading_the_definitions_imports_no_model_library():
    code = (
        "import sys; import dagster_project.definitions, dagster_project.analytics.threshold, "
        "dagster_project.analytics.veil; "
        "print(sorted(m for m in ('jax', 'numpyro', 'statsmodels') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
