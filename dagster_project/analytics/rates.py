"""Search and hit rates the way the Stanford Open Policing Project computes them.

`lib/outcome_test.R` of the project (METHODS.md sections 4 and 5):

- `compute_hit_rates`: within each demographic group x geography x sub-geography, the number of
  actions (searches), of outcomes (hits) and their ratio;
- `collect_aggregate_hit_rates`: pooled within each geography (sum of outcomes over sum of
  actions), then the unweighted mean of the geographies' rates per group;
- the paper's pooled figures (Pierson et al. 2020) are the plain pooled ratio over all counties:
  sum of numerators over sum of denominators per group.

The same functions give search rates (searches over stops). Every rate carries a Wilson 95%
interval so that a rate is never published without its uncertainty.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

Z95 = 1.959963984540054


def wilson_interval(successes: float, trials: float, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion; (nan, nan) without trials."""
    if trials <= 0:
        return (math.nan, math.nan)
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def _check_columns(df: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what}: missing column(s) {missing}; has {list(df.columns)}")


def subgeography_rates(
    df: pd.DataFrame,
    numerator: str,
    denominator: str,
    group_cols: Sequence[str],
) -> pd.DataFrame:
    """`compute_hit_rates`: counts and rate per group_cols (e.g. race, geography,
    sub-geography), from rows that already carry counts (one row per cell or per event)."""
    _check_columns(df, [numerator, denominator, *group_cols], "subgeography_rates")
    out = df.groupby(list(group_cols), as_index=False, dropna=False)[[numerator, denominator]].sum()
    out["rate"] = out[numerator] / out[denominator].where(out[denominator] > 0)
    return out


def pooled_rates(
    df: pd.DataFrame, numerator: str, denominator: str, group_col: str
) -> pd.DataFrame:
    """Sum of numerators over sum of denominators per group, with a Wilson 95% interval."""
    out = subgeography_rates(df, numerator, denominator, [group_col])
    bounds = [wilson_interval(n, d) for n, d in zip(out[numerator], out[denominator], strict=True)]
    out["rate_lower"] = [b[0] for b in bounds]
    out["rate_upper"] = [b[1] for b in bounds]
    return out


def aggregate_rates(
    sub_rates: pd.DataFrame,
    numerator: str,
    denominator: str,
    group_col: str,
    geography_col: str,
) -> pd.DataFrame:
    """`collect_aggregate_hit_rates`: pooled within each geography, then the unweighted mean of
    the geographies' rates per group (with the pooled counts alongside)."""
    per_geo = subgeography_rates(sub_rates, numerator, denominator, [group_col, geography_col])
    return per_geo.groupby(group_col, as_index=False).agg(
        rate=("rate", "mean"),
        **{numerator: (numerator, "sum"), denominator: (denominator, "sum")},
        geographies=(geography_col, "nunique"),
    )


def stanford_race(value: str) -> str:
    """'White drivers' -> 'white' (the figures' labels to the canonical race domain)."""
    text = str(value).strip().lower()
    return text.removesuffix(" drivers").strip()
