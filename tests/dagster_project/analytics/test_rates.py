"""Pooling the Stanford figures' county counts reproduces the paper's search and hit rates."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from dagster_project.analytics import rates

# Pierson et al. 2020, all counties pooled (open-policing-figures/SOURCE.md).
PAPER = {
    "white": (0.0185, 0.277),
    "black": (0.0344, 0.286),
    "hispanic": (0.0374, 0.225),
}


def test_pooled_search_and_hit_rates_match_the_paper(figures):
    searches = pd.read_csv(figures / "fig3a_search_rate_county.csv", dtype={"location": str})
    hits = pd.read_csv(figures / "fig4a_hit_rate_county.csv", dtype={"location": str})
    searches["race"] = searches["driver_race"].map(rates.stanford_race)
    hits["race"] = hits["driver_race"].map(rates.stanford_race)
    search = rates.pooled_rates(searches, "n_searches", "n_stops", "race").set_index("race")
    hit = rates.pooled_rates(hits, "n_hits", "n_searches", "race").set_index("race")
    assert search.loc["white", "n_searches"] == 651_285
    assert search.loc["white", "n_stops"] == 35_196_590
    assert hit.loc["black", "n_hits"] == 29_444
    for race, (search_rate, hit_rate) in PAPER.items():
        # Stated to three significant figures (1.85%, 27.7%).
        assert round(search.loc[race, "rate"], 4) == pytest.approx(search_rate, abs=1e-9), race
        assert round(hit.loc[race, "rate"], 3) == pytest.approx(hit_rate, abs=1e-9), race
        assert search.loc[race, "rate_lower"] < search.loc[race, "rate"]
        assert search.loc[race, "rate"] < search.loc[race, "rate_upper"]
    # The paper's finding: black and hispanic drivers searched more often than white drivers.
    assert search.loc["black", "rate"] > search.loc["white", "rate"]
    assert search.loc["hispanic", "rate"] > search.loc["white", "rate"]


def test_aggregate_is_pooled_within_geography_then_unweighted_mean():
    # Two cities: A pools 10/100 over two districts, B 30/50. Unweighted mean 0.35, not 40/150.
    df = pd.DataFrame(
        {
            "race": ["black"] * 3,
            "city": ["A", "A", "B"],
            "district": ["1", "2", "1"],
            "hits": [2, 8, 30],
            "searches": [20, 80, 50],
        }
    )
    sub = rates.subgeography_rates(df, "hits", "searches", ["race", "city", "district"])
    assert list(sub["rate"]) == [0.1, 0.1, 0.6]
    agg = rates.aggregate_rates(sub, "hits", "searches", "race", "city")
    assert agg.loc[0, "rate"] == pytest.approx(0.35)
    assert agg.loc[0, "hits"] == 40 and agg.loc[0, "searches"] == 150
    assert agg.loc[0, "geographies"] == 2


def test_wilson_interval_known_values():
    low, high = rates.wilson_interval(10, 100)
    assert low == pytest.approx(0.05522, abs=1e-4)
    assert high == pytest.approx(0.17436, abs=1e-4)
    assert all(math.isnan(x) for x in rates.wilson_interval(0, 0))
    with pytest.raises(ValueError, match="missing column"):
        rates.pooled_rates(pd.DataFrame({"a": [1]}), "hits", "searches", "race")
