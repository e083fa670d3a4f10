"""Veil of darkness: an injected darkness effect is recovered within its interval, no effect is
not flagged beyond the nominal rate, and every filter writes a decision-log row."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from dagster_project.analytics import veil

# Alder City's centroid and zone (ingestion/agencies/alder_pd/agency.yml).
ALDER = veil.Location("alder_pd", 44.94, -123.04, "America/Los_Angeles")


def synthetic_stops(
    seed: int, beta: float, n: int = 60_000, years=(2022, 2023), agency=ALDER
) -> pd.DataFrame:
    """Vehicular stops at uniform clock times over `years`; P(black) follows a smooth curve of
    clock time, a district effect and `beta` when the stop is after that date's dusk. 10% are
    pedestrian stops and 10% hispanic drivers (both must be filtered out)."""
    rng = np.random.default_rng(seed)
    sun = veil.sun_times(agency, list(years)).set_index("sun_date")
    first = date(years[0], 1, 1)
    days = (date(years[-1], 12, 31) - first).days + 1
    stop_dates = [first + timedelta(days=int(d)) for d in rng.integers(0, days, n)]
    minutes = rng.integers(0, 24 * 60, n)
    district = rng.choice(["north", "south", "east"], n)
    dusk = sun.loc[stop_dates, "dusk_minute"].to_numpy()
    is_dark = minutes > dusk
    logit = (
        -1.0
        + 0.4 * np.sin(2 * np.pi * minutes / 1440)
        + np.select([district == "north", district == "south"], [0.5, -0.3], 0.0)
        + beta * is_dark
    )
    race = np.where(rng.random(n) < expit(logit), "black", "white")
    race = np.where(rng.random(n) < 0.1, "hispanic", race)
    stop_type = np.where(rng.random(n) < 0.1, "pedestrian", "vehicular")
    return pd.DataFrame(
        {
            "agency_id": agency.agency_id,
            "stop_date": pd.to_datetime(stop_dates).date,
            "stop_time": [f"{m // 60:02d}:{m % 60:02d}:00" for m in minutes],
            "subject_race": race,
            "stop_type": stop_type,
            "district": district,
        }
    )


@pytest.fixture(scope="module")
def with_effect():
    stops = synthetic_stops(seed=1, beta=-0.5)
    return stops, *veil.run_on_frame(stops, [ALDER])


def test_injected_darkness_effect_is_recovered(with_effect):
    _, results, _ = with_effect
    main = next(r for r in results if r["analysis"] == veil.ANALYSIS)
    se = main["std_error"]
    assert main["coefficient"] - 1.96 * se <= -0.5 <= main["coefficient"] + 1.96 * se
    assert main["odds_ratio_lower"] <= np.exp(-0.5) <= main["odds_ratio_upper"]
    assert main["is_flagged"] and main["district_fixed_effects"]
    assert main["n"] == main["n_black"] + main["n_white"] and main["n_dark"] > 0
    assert main["period"] == "2022-2023"
    dst = next(r for r in results if r["analysis"] == veil.ANALYSIS_DST)
    assert (
        dst["coefficient"] - 1.96 * dst["std_error"]
        <= -0.5
        <= dst["coefficient"] + 1.96 * dst["std_error"]
    )
    assert dst["n"] < main["n"]


def test_every_filter_is_logged_with_counts(with_effect):
    stops, results, decisions = with_effect
    main = [d for d in decisions if d["analysis"] == veil.ANALYSIS]
    rules = [d["rule"] for d in main]
    assert rules[:2] == ["vehicular stops", "black and white drivers"]
    assert "inter-twilight window" in rules and "sunset to dusk dropped" in rules
    assert main[0]["rows_before"] == len(stops)
    assert main[0]["rows_after"] == (stops["stop_type"] == "vehicular").sum()
    for a, b in zip(main, main[1:], strict=False):
        assert b["rows_before"] == a["rows_after"]  # a chain: nothing dropped unlogged
    result = next(r for r in results if r["analysis"] == veil.ANALYSIS)
    assert main[-1]["rows_after"] == result["n"]
    # The window at 44.9N: earliest dusk about 17:10 (PST), latest about 21:40 (PDT).
    window = next(d for d in main if d["rule"] == "inter-twilight window")
    assert 0.12 < window["rows_after"] / window["rows_before"] < 0.25
    assert any(d["rule"].startswith("within 30 days") for d in decisions)


def test_no_effect_not_flagged_beyond_nominal_rate():
    flagged = 0
    for seed in range(10, 18):
        stops = synthetic_stops(seed=seed, beta=0.0, n=20_000)
        results, _ = veil.run_on_frame(stops, [ALDER], dst=False)
        (main,) = results
        flagged += main["p_value"] < 0.05
    # 8 fits at a 5% level: more than 2 false alarms would happen by chance < 1% of the time.
    assert flagged <= 2


def test_eligibility_rules_drop_months_and_years():
    stops = synthetic_stops(seed=3, beta=0.0, n=20_000, years=(2022, 2023))
    dates = pd.to_datetime(stops["stop_date"])
    # March 2022: time missing for 60% of stops -> the whole month goes.
    march = (dates.dt.year == 2022) & (dates.dt.month == 3)
    blank = march & (np.random.default_rng(0).random(len(stops)) < 0.6)
    stops.loc[blank, "stop_time"] = None
    # 2023: only 50 black drivers left -> the year goes.
    black_2023 = stops.index[(dates.dt.year == 2023) & (stops["subject_race"] == "black")]
    stops = stops.drop(black_2023[50:])
    results, decisions = veil.run_on_frame(stops, [ALDER], dst=False)
    by_rule = {d["rule"]: d for d in decisions}
    coverage = by_rule["time recorded for at least 50% of a month's stops"]
    kept = stops[
        stops["subject_race"].isin(["black", "white"]) & (stops["stop_type"] == "vehicular")
    ]
    kept_dates = pd.to_datetime(kept["stop_date"])
    in_march = ((kept_dates.dt.year == 2022) & (kept_dates.dt.month == 3)).sum()
    assert coverage["rows_before"] - coverage["rows_after"] == in_march > 0
    year_rule = by_rule["at least 100 stops per race per location-year"]
    assert year_rule["rows_after"] < year_rule["rows_before"]
    assert results[0]["period"] == "2022-2022"


def test_no_daylight_saving_zone_logs_and_skips_the_variant():
    phoenix = veil.Location("alder_pd", 33.45, -112.07, "America/Phoenix")
    stops = synthetic_stops(seed=4, beta=0.0, n=15_000, agency=phoenix)
    results, decisions = veil.run_on_frame(stops, [phoenix])
    assert [r["analysis"] for r in results] == [veil.ANALYSIS]
    assert any(
        d["analysis"] == veil.ANALYSIS_DST and "no daylight saving" in d["reason"]
        for d in decisions
    )
    assert veil.clock_changes("America/Los_Angeles", [2023])["change_date"].tolist() == [
        date(2023, 3, 12),
        date(2023, 11, 5),
    ]
