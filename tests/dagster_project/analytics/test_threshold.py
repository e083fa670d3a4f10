"""The threshold test: known answers on counts drawn from the model, the paper's thresholds on
real states of fig4b, and the CLI's errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import betaincc, expit

from dagster_project.analytics import threshold

RACES = ("white", "black", "hispanic")
# Thresholds by race on the logit scale: white drivers searched at a higher threshold than black,
# black higher than hispanic (the ordering the test must recover).
LOGIT_THRESHOLD = {"white": -1.0, "black": -1.4, "hispanic": -1.8}


def synthetic_counts(seed: int, n_geos: int = 10) -> tuple[pd.DataFrame, dict[str, float]]:
    """Counts drawn from the model itself (model_flat.stan): risk p ~ Beta(lambda phi,
    lambda (1 - phi)) with phi and lambda per race plus county offsets, a threshold per cell
    around its race's, searched when p > t, binomial searches and hits. Returns the counts and
    the true race-level threshold (stop-weighted mean of the cells' thresholds)."""
    rng = np.random.default_rng(seed)
    phi_r = {"white": -3.4, "black": -3.5, "hispanic": -3.6}
    lambda_r = {"white": 2.0, "black": 1.9, "hispanic": 2.1}
    phi_d = np.r_[0.0, rng.normal(0, 0.15, n_geos - 1)]
    lambda_d = np.r_[0.0, rng.normal(0, 0.15, n_geos - 1)]
    rows, cell_thresholds = [], []
    for d in range(n_geos):
        for race in RACES:
            phi = expit(phi_r[race] + phi_d[d])
            lam = np.exp(lambda_r[race] + lambda_d[d])
            a, b = lam * phi, lam * (1 - phi)
            t = expit(LOGIT_THRESHOLD[race] + rng.normal(0, 0.1))
            p_search = betaincc(a, b, t)
            p_hit = betaincc(a + 1, b, t) / p_search * phi
            stops = int(rng.integers(5_000, 40_000))
            searches = int(rng.binomial(stops, p_search))
            hits = int(rng.binomial(searches, p_hit))
            rows.append((f"county {d}", race, stops, searches, hits, "ZZ"))
            cell_thresholds.append(t)
    df = pd.DataFrame(rows, columns=list(threshold.COUNT_COLUMNS))
    # The race-level truth: cell thresholds weighted by their county's stops (all races).
    df["true"] = cell_thresholds
    df["weight"] = df.groupby("location_variable")["num_stops"].transform("sum")
    truth = {
        race: float(np.average(g["true"], weights=g["weight"]))
        for race, g in df.groupby("driver_race")
    }
    return df.drop(columns=["true", "weight"]), truth


@pytest.fixture(scope="module")
def synthetic_fit():
    counts, truth = synthetic_counts(seed=7)
    # 150 draws: with sampler seeds 0-2 every truth stays inside its interval (at most 0.89 of its
    # width from the lower end), r-hat at most 1.032, no divergence, as with 200
    fitted, diagnostics = threshold.fit_cells(
        counts, threshold.FitSettings(num_warmup=150, num_samples=150, num_chains=2), group="ZZ"
    )
    return counts, truth, fitted, diagnostics


def test_known_thresholds_recovered_within_credible_intervals(synthetic_fit):
    _, truth, fitted, diagnostics = synthetic_fit
    by_race = fitted.groupby("driver_race")[
        ["race_threshold", "race_threshold_lower", "race_threshold_upper"]
    ].first()
    for race in RACES:
        low, mean, high = by_race.loc[
            race, ["race_threshold_lower", "race_threshold", "race_threshold_upper"]
        ]
        assert low <= truth[race] <= high, (race, truth[race], (low, mean, high))
    # Ordering right: white > black > hispanic, as injected.
    assert by_race.loc["white", "race_threshold"] > by_race.loc["black", "race_threshold"]
    assert by_race.loc["black", "race_threshold"] > by_race.loc["hispanic", "race_threshold"]
    assert diagnostics.max_rhat < 1.1
    assert diagnostics.divergences <= 5


def test_chains_drawn_in_two_processes_equal_the_fit_in_one(tmp_path_factory):
    """One group and two processes (a night that refits one agency): each chain is drawn in its
    own process; the draws, so every fitted number and diagnostic, are those of the one-process
    fit, not merely close. (A short run: the equality, not convergence, is under test; the
    workers read the sampler this process compiled from JAX's cache, as nightly fits do.)"""
    counts, _ = synthetic_counts(seed=11, n_geos=4)
    settings = threshold.FitSettings(num_warmup=30, num_samples=30, num_chains=2, max_tree_depth=6)
    cache = str(tmp_path_factory.getbasetemp() / "jax_cache")
    threshold.configure_jax(cache)
    fitted, diagnostics = threshold.fit_cells(counts, settings, group="ZZ")
    spread, spread_diagnostics = threshold.fit_by(
        counts, "state", settings, processes=2, cache_dir=cache
    )
    pd.testing.assert_frame_equal(spread, fitted, check_exact=True)
    ours = {k: v for k, v in vars(diagnostics).items() if k != "seconds"}
    assert [{k: d[k] for k in ours} for d in spread_diagnostics] == [ours]


def test_posterior_predictive_check_matches_observed_rates(synthetic_fit):
    _, _, fitted, diagnostics = synthetic_fit
    # Predicted search rates within 10% of observed ones on average; hit rates within 0.05.
    assert diagnostics.search_rate_rmse < 0.1 * fitted["observed_search_rate"].mean()
    assert diagnostics.hit_rate_rmse < 0.05
    assert (fitted["inferred_threshold_lower"] <= fitted["inferred_threshold"]).all()
    assert (fitted["inferred_threshold"] <= fitted["inferred_threshold_upper"]).all()


def test_real_states_reproduce_the_papers_thresholds(figures):
    """Connecticut and Rhode Island of fig4b (42 cells), each fitted on its own as the paper
    does: the posterior mean thresholds track the paper's `inferred_threshold`, and wherever the
    paper's white threshold is above the black (or hispanic) one, Lantern's is too."""
    counts = threshold.read_counts(figures / "fig4b_threshold_test.csv")
    counts = counts.rename(columns={"inferred_threshold": "inferred_threshold_published"})
    subset = counts[counts["state"].isin(["CT", "RI"])]
    # 150 draws: with sampler seeds 0-2, r >= 0.9989, both orderings agree in 14 of 14 counties
    # and r-hat <= 1.048 (300 draws: r >= 0.9998, r-hat <= 1.028), at half the sampling time
    fitted, diagnostics = threshold.fit_by(
        subset, "state", threshold.FitSettings(150, 150, 2), processes=2
    )
    assert sorted(d["group"] for d in diagnostics) == ["CT", "RI"]
    assert all(d["max_rhat"] < 1.1 for d in diagnostics), diagnostics
    assert list(fitted["location_variable"]) == list(subset["location_variable"])  # input order
    summary = threshold.compare_with_published(fitted)
    assert summary["r"] >= 0.98, summary
    # The paper's orderings, counted from its own column: white above black in 14 of the 14
    # counties (8 CT, 6 RI), above hispanic in 14 of 14.
    for group in ("Black drivers", "Hispanic drivers"):
        agreement = summary["agreement"][group]
        assert agreement["counties"] == 14, summary
        assert agreement["share"] >= 0.9, summary


def test_cli_names_the_file_and_the_missing_column(tmp_path, capsys):
    bad = tmp_path / "counts.csv"
    bad.write_text("location_variable,driver_race,num_stops,num_hits,state\nA,white,10,1,ZZ\n")
    from dagster_project.cli import main

    assert main(["threshold-test", str(bad), "--out", str(tmp_path / "out.csv")]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "num_searches" in err
    bad.write_text(
        "location_variable,driver_race,num_stops,num_searches,num_hits,state\n"
        "A,white,10,3,1,ZZ\nB,white,10,2,5,ZZ\n"
    )
    with pytest.raises(threshold.CountsError, match=r"row 3, column num_hits"):
        threshold.read_counts(bad)
