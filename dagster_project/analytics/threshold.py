"""The threshold test (Simoiu, Corbett-Davies and Goel 2017; Pierson et al. 2020), in NumPyro.

For each race r and sub-geography d (a county of a state, a district of an agency) with n stops,
s searches and h hits, officers see a risk signal: N(delta, 1) for drivers carrying contraband (a
share phi of them) and N(0, 1) for the rest, and search above a signal cutoff t. Then

    P(search, hit)  = phi (1 - Phi(t - delta))
    P(search, miss) = (1 - phi) (1 - Phi(t))
    s ~ Binomial(n, P(search)),   h ~ Binomial(s, P(hit | search)).

Structure and priors are the Stanford project's `threshold_test_hierarchical.stan` (METHODS.md
section 7; STACK-NOTES.md "Threshold test"), which is what makes the model identifiable:

    logit phi = phi_r + phi_d,         phi_r   ~ N(mu_phi, 0.1),   mu_phi   ~ N(0, 1)
    log delta = delta_r + delta_d,     delta_r ~ N(mu_delta, 0.1), mu_delta ~ N(0, 1)
    phi_d, delta_d ~ N(0, 0.1) (the first sub-geography pinned at 0)
    t = t_r + sigma_t z,  t_r ~ N(0, 1),  z ~ N(0, 1) per cell,  sigma_t ~ N+(0, 1).

The threshold on the probability scale (the probability of carrying contraband at which a
driver is searched) is inv_logit(logit phi + delta t - delta^2 / 2). The likelihood is computed
in log space (log_ndtr, logaddexp) in 64-bit floats: stops reach 100,000 per cell and search
rates 0.002.

Each fit is one JAX process per state (or agency) pinned to one thread; states run in parallel
processes (`fit_by`). JAX and NumPyro are imported only inside the functions.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

COUNT_COLUMNS = (
    "location_variable",
    "driver_race",
    "num_stops",
    "num_searches",
    "num_hits",
    "state",
)
INTEGER_COLUMNS = ("num_stops", "num_searches", "num_hits")
XLA_SINGLE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


class CountsError(ValueError):
    """A counts file that cannot be fitted; the message names the file, the row and the column."""


@dataclass(frozen=True)
class FitSettings:
    num_warmup: int = 400
    num_samples: int = 400
    num_chains: int = 2
    seed: int = 0
    target_accept_prob: float = 0.8


@dataclass
class FitDiagnostics:
    group: str
    cells: int
    seconds: float
    divergences: int
    max_rhat: float
    search_rate_rmse: float
    hit_rate_rmse: float


# --- input ---------------------------------------------------------------------------------------


def read_counts(path: Path) -> pd.DataFrame:
    """Read a counts file with the columns of fig4b_threshold_test.csv; clear errors otherwise."""
    path = Path(path)
    if not path.is_file():
        raise CountsError(f"{path}: no such file")
    try:
        df = pd.read_csv(path, dtype={"location_variable": str, "state": str})
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise CountsError(f"{path}: not a readable CSV file: {exc}") from exc
    return validate_counts(df, str(path))


def validate_counts(df: pd.DataFrame, source: str = "counts") -> pd.DataFrame:
    missing = [c for c in COUNT_COLUMNS if c not in df.columns]
    if missing:
        raise CountsError(
            f"{source}: missing column(s) {', '.join(missing)} "
            f"(a counts file needs {', '.join(COUNT_COLUMNS)}; it has {', '.join(map(str, df.columns))})"
        )
    df = df.copy()
    for column in INTEGER_COLUMNS:
        values = pd.to_numeric(df[column], errors="coerce")
        bad = values.isna() | (values < 0) | (values != values.round())
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise CountsError(
                f"{source}: row {row + 2}, column {column}: {df[column].iloc[row]!r} is not a "
                "non-negative whole number"
            )
        df[column] = values.astype("int64")
    for column in ("location_variable", "driver_race", "state"):
        blank = df[column].isna() | (df[column].astype(str).str.strip() == "")
        if blank.any():
            row = int(np.flatnonzero(blank.to_numpy())[0])
            raise CountsError(f"{source}: row {row + 2}, column {column}: empty")
    for small, big in (("num_searches", "num_stops"), ("num_hits", "num_searches")):
        bad = df[small] > df[big]
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise CountsError(
                f"{source}: row {row + 2}, column {small}: {df[small].iloc[row]} exceeds "
                f"{big} ({df[big].iloc[row]})"
            )
    stops_zero = df["num_stops"] == 0
    if stops_zero.any():
        row = int(np.flatnonzero(stops_zero.to_numpy())[0])
        raise CountsError(f"{source}: row {row + 2}, column num_stops: no stops in this cell")
    duplicated = df.duplicated(["state", "location_variable", "driver_race"])
    if duplicated.any():
        row = int(np.flatnonzero(duplicated.to_numpy())[0])
        raise CountsError(
            f"{source}: row {row + 2}: a second row for state, location_variable and driver_race "
            f"{tuple(df.loc[df.index[row], ['state', 'location_variable', 'driver_race']])}"
        )
    return df


# --- the model -----------------------------------------------------------------------------------


def configure_jax(cache_dir: str | None = None) -> None:
    """One thread per process, 64-bit floats. XLA reads its flags when JAX first initialises,
    so this runs before the first JAX import of a process (the worker initialiser does that).
    `cache_dir`: JAX's persistent compilation cache, so that a nightly fit of an agency whose
    cell counts did not change skips the XLA compilation (about half of a small fit's time)."""
    if "jax" not in sys.modules:
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_cpu_multi_thread_eigen" not in flags:
            os.environ["XLA_FLAGS"] = f"{flags} {XLA_SINGLE_THREAD}".strip()
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import jax

    jax.config.update("jax_enable_x64", True)
    if cache_dir:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", str(cache_dir))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


def _cell_quantities(params: dict, race, geo):
    """Per-cell logit phi, delta, signal cutoff t (jax arrays)."""
    import jax.numpy as jnp

    phi_d = jnp.concatenate([jnp.zeros(1), params["phi_d_raw"]])
    delta_d = jnp.concatenate([jnp.zeros(1), params["delta_d_raw"]])
    logit_phi = params["phi_r"][race] + phi_d[geo]
    delta = jnp.exp(params["delta_r"][race] + delta_d[geo])
    t = params["t_r"][race] + params["t_raw"] * params["sigma_t"]
    return logit_phi, delta, t


def log_probabilities(logit_phi, delta, t):
    """log P(search & hit), log P(search & miss), log P(no search), in log space."""
    import jax.numpy as jnp
    from jax.nn import log_sigmoid
    from jax.scipy.special import log_ndtr

    log_phi = log_sigmoid(logit_phi)
    log_not_phi = log_sigmoid(-logit_phi)
    log_hit = log_phi + log_ndtr(delta - t)
    log_miss = log_not_phi + log_ndtr(-t)
    log_none = jnp.logaddexp(log_phi + log_ndtr(t - delta), log_not_phi + log_ndtr(t))
    return log_hit, log_miss, log_none


def threshold_model(race, geo, stops, searches, hits, n_races: int, n_geos: int):
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    n_cells = stops.shape[0]
    mu_phi = numpyro.sample("mu_phi", dist.Normal(0.0, 1.0))
    mu_delta = numpyro.sample("mu_delta", dist.Normal(0.0, 1.0))
    sigma_t = numpyro.sample("sigma_t", dist.HalfNormal(1.0))
    with numpyro.plate("races", n_races):
        t_r = numpyro.sample("t_r", dist.Normal(0.0, 1.0))
        phi_r = numpyro.sample("phi_r", dist.Normal(mu_phi, 0.1))
        delta_r = numpyro.sample("delta_r", dist.Normal(mu_delta, 0.1))
    if n_geos > 1:
        with numpyro.plate("geos", n_geos - 1):
            phi_d_raw = numpyro.sample("phi_d_raw", dist.Normal(0.0, 0.1))
            delta_d_raw = numpyro.sample("delta_d_raw", dist.Normal(0.0, 0.1))
    else:
        phi_d_raw = delta_d_raw = jnp.zeros(0)
    with numpyro.plate("cells", n_cells):
        t_raw = numpyro.sample("t_raw", dist.Normal(0.0, 1.0))
    params = {
        "phi_r": phi_r,
        "delta_r": delta_r,
        "t_r": t_r,
        "phi_d_raw": phi_d_raw,
        "delta_d_raw": delta_d_raw,
        "t_raw": t_raw,
        "sigma_t": sigma_t,
    }
    logit_phi, delta, t = _cell_quantities(params, race, geo)
    log_hit, log_miss, log_none = log_probabilities(logit_phi, delta, t)
    # Binomial(stops, search rate) x Binomial(searches, hit rate), constants dropped:
    # s log S + (n-s) log(1-S) + h log H + (s-h) log(1-H) = h a + (s-h) b + (n-s) c.
    numpyro.factor(
        "counts",
        jnp.sum(hits * log_hit + (searches - hits) * log_miss + (stops - searches) * log_none),
    )


def fit_cells(
    cells: pd.DataFrame,
    settings: FitSettings | None = None,
    *,
    race_col: str = "driver_race",
    geo_col: str = "location_variable",
    stops_col: str = "num_stops",
    searches_col: str = "num_searches",
    hits_col: str = "num_hits",
    group: str = "",
) -> tuple[pd.DataFrame, FitDiagnostics]:
    """Fit one hierarchical model to the cells of one state (or agency); returns the cells with
    `inferred_threshold` (posterior mean), its 95% credible interval, the race-level threshold
    and the posterior predictive search and hit rates, plus the fit's diagnostics."""
    settings = settings or FitSettings()
    configure_jax()
    import jax
    import jax.numpy as jnp
    from numpyro.diagnostics import split_gelman_rubin
    from numpyro.infer import MCMC, NUTS

    started = time.perf_counter()
    cells = cells.reset_index(drop=True)
    races = sorted(cells[race_col].astype(str).unique())
    geos = list(dict.fromkeys(cells[geo_col].astype(str)))  # first seen is pinned at 0
    race = jnp.asarray(cells[race_col].astype(str).map(races.index).to_numpy(), dtype=jnp.int32)
    geo = jnp.asarray(cells[geo_col].astype(str).map(geos.index).to_numpy(), dtype=jnp.int32)
    stops = jnp.asarray(cells[stops_col].to_numpy(), dtype=jnp.float64)
    searches = jnp.asarray(cells[searches_col].to_numpy(), dtype=jnp.float64)
    hits = jnp.asarray(cells[hits_col].to_numpy(), dtype=jnp.float64)

    mcmc = MCMC(
        NUTS(threshold_model, target_accept_prob=settings.target_accept_prob),
        num_warmup=settings.num_warmup,
        num_samples=settings.num_samples,
        num_chains=settings.num_chains,
        chain_method="sequential",
        progress_bar=False,
    )
    mcmc.run(
        jax.random.PRNGKey(settings.seed),
        race,
        geo,
        stops,
        searches,
        hits,
        n_races=len(races),
        n_geos=len(geos),
        extra_fields=("diverging",),
    )
    samples = mcmc.get_samples(group_by_chain=True)
    flat = {k: v.reshape((-1, *v.shape[2:])) for k, v in samples.items()}
    if len(geos) == 1:
        flat["phi_d_raw"] = jnp.zeros((flat["t_raw"].shape[0], 0))
        flat["delta_d_raw"] = jnp.zeros((flat["t_raw"].shape[0], 0))

    def per_draw(p):
        logit_phi, delta, t = _cell_quantities(p, race, geo)
        log_hit, log_miss, _ = log_probabilities(logit_phi, delta, t)
        log_search = jnp.logaddexp(log_hit, log_miss)
        threshold = jax.nn.sigmoid(logit_phi + delta * t - delta**2 / 2)
        return threshold, jnp.exp(log_search), jnp.exp(log_hit - log_search)

    threshold, search_rate, hit_rate = jax.vmap(per_draw)(flat)
    threshold = np.asarray(threshold)
    chains = threshold.reshape(settings.num_chains, settings.num_samples, -1)
    rhat = (
        float(np.nanmax(np.asarray(split_gelman_rubin(chains))))
        if settings.num_chains > 1
        else math.nan
    )
    divergences = int(np.asarray(mcmc.get_extra_fields()["diverging"]).sum())

    out = cells.copy()
    out["inferred_threshold"] = threshold.mean(axis=0)
    out["inferred_threshold_lower"] = np.quantile(threshold, 0.025, axis=0)
    out["inferred_threshold_upper"] = np.quantile(threshold, 0.975, axis=0)
    out["observed_search_rate"] = cells[searches_col] / cells[stops_col]
    out["observed_hit_rate"] = cells[hits_col] / cells[searches_col].where(cells[searches_col] > 0)
    out["predicted_search_rate"] = np.asarray(search_rate).mean(axis=0)
    out["predicted_hit_rate"] = np.asarray(hit_rate).mean(axis=0)
    # Race-level threshold as the paper's generated quantities: for each draw, the mean of the
    # race's cell thresholds weighted by the sub-geography's stops (all races); then its interval.
    geo_stops = cells.groupby(geo_col)[stops_col].transform("sum").to_numpy(float)
    for r_index in range(len(races)):
        mask = np.asarray(race) == r_index
        race_draws = threshold[:, mask] @ (geo_stops[mask] / geo_stops[mask].sum())
        out.loc[mask, "race_threshold"] = race_draws.mean()
        out.loc[mask, "race_threshold_lower"] = np.quantile(race_draws, 0.025)
        out.loc[mask, "race_threshold_upper"] = np.quantile(race_draws, 0.975)
    search_rmse, hit_rmse = ppc_errors(out, stops_col, searches_col)
    diagnostics = FitDiagnostics(
        group=group,
        cells=len(out),
        seconds=round(time.perf_counter() - started, 1),
        divergences=divergences,
        max_rhat=round(rhat, 3),
        search_rate_rmse=search_rmse,
        hit_rate_rmse=hit_rmse,
    )
    return out, diagnostics


def ppc_errors(
    fitted: pd.DataFrame, stops_col: str = "num_stops", searches_col: str = "num_searches"
) -> tuple[float, float]:
    """Posterior predictive check as the Stanford project reports it: root mean squared error of
    predicted vs observed search rates (weighted by stops) and hit rates (weighted by searches)."""

    def wrmse(pred, obs, weight):
        ok = np.isfinite(pred) & np.isfinite(obs) & (weight > 0)
        if not ok.any():
            return math.nan
        return float(np.sqrt(np.average((pred[ok] - obs[ok]) ** 2, weights=weight[ok])))

    return (
        wrmse(
            fitted["predicted_search_rate"].to_numpy(float),
            fitted["observed_search_rate"].to_numpy(float),
            fitted[stops_col].to_numpy(float),
        ),
        wrmse(
            fitted["predicted_hit_rate"].to_numpy(float),
            fitted["observed_hit_rate"].to_numpy(float),
            fitted[searches_col].to_numpy(float),
        ),
    )


# --- many states in parallel processes -----------------------------------------------------------


def _worker_init(cache_dir: str | None = None) -> None:
    configure_jax(cache_dir)


def _fit_one(args: tuple) -> tuple[str, pd.DataFrame, dict]:
    group, cells, settings, kwargs = args
    fitted, diagnostics = fit_cells(cells, settings, group=group, **kwargs)
    return group, fitted, asdict(diagnostics)


def fit_by(
    df: pd.DataFrame,
    by: str = "state",
    settings: FitSettings | None = None,
    processes: int = 2,
    progress: Callable[[dict], None] | None = None,
    cache_dir: str | None = None,
    **kwargs,
) -> tuple[pd.DataFrame, list[dict]]:
    """One fit per value of `by`, in `processes` worker processes (largest groups first); the
    rows come back in the input's order. `progress` is called with each group's diagnostics."""
    settings = settings or FitSettings()
    if cache_dir:
        configure_jax(cache_dir)
    df = df.assign(_row=np.arange(len(df)))
    order = df.groupby(by, sort=False).size().sort_values(ascending=False).index.tolist()
    jobs = [(str(g), df[df[by] == g], settings, kwargs) for g in order]
    results: list[pd.DataFrame] = []
    diagnostics: list[dict] = []

    def collect(item):
        _, fitted, diag = item
        results.append(fitted)
        diagnostics.append(diag)
        if progress:
            progress(diag)

    if processes <= 1 or len(jobs) == 1:
        for job in jobs:
            collect(_fit_one(job))
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(
            max_workers=min(processes, len(jobs)),
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_init,
            initargs=(cache_dir,),
        ) as pool:
            futures = [pool.submit(_fit_one, job) for job in jobs]
            for future in as_completed(futures):
                collect(future.result())
    fitted = pd.concat(results).sort_values("_row").drop(columns="_row")
    return fitted.reset_index(drop=True), diagnostics


def format_progress(diag: dict) -> str:
    return (
        f"  {diag['group']}: {diag['cells']} cells in {diag['seconds']:.0f} s "
        f"(divergences {diag['divergences']}, max r-hat {diag['max_rhat']}, "
        f"PPC rmse search {diag['search_rate_rmse']:.4f}, hit {diag['hit_rate_rmse']:.4f})"
    )


def run_cli(
    counts: Path,
    out: Path,
    settings: FitSettings | None = None,
    processes: int = 2,
    stream=None,
) -> int:
    """`lantern threshold-test COUNTS.csv --out RESULTS.csv`; progress goes to stderr."""
    stream = stream or sys.stderr
    try:
        df = read_counts(counts)
    except CountsError as exc:
        print(f"lantern threshold-test: {exc}", file=stream)
        return 2
    if "inferred_threshold" in df.columns:  # fig4b carries the paper's own estimate: keep it
        df = df.rename(columns={"inferred_threshold": "inferred_threshold_published"})
    states = df["state"].nunique()
    print(
        f"threshold test: {len(df)} cells in {states} state(s) from {counts}, "
        f"{processes} process(es)",
        file=stream,
        flush=True,
    )
    started = time.perf_counter()
    done = []

    def progress(diag):
        done.append(diag)
        print(f"[{len(done)}/{states}]" + format_progress(diag), file=stream, flush=True)

    fitted, _ = fit_by(df, "state", settings, processes=processes, progress=progress)
    columns = [
        *df.columns,
        "inferred_threshold",
        "inferred_threshold_lower",
        "inferred_threshold_upper",
        "race_threshold",
        "race_threshold_lower",
        "race_threshold_upper",
        "predicted_search_rate",
        "predicted_hit_rate",
    ]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fitted[[c for c in dict.fromkeys(columns) if c in fitted.columns]].to_csv(out, index=False)
    print(
        f"wrote {out} ({len(fitted)} rows) in {time.perf_counter() - started:.0f} s",
        file=stream,
    )
    return 0


def compare_with_published(
    results: pd.DataFrame,
    published_col: str = "inferred_threshold_published",
    fitted_col: str = "inferred_threshold",
    reference: str = "White drivers",
    others: Sequence[str] = ("Black drivers", "Hispanic drivers"),
) -> dict:
    """Correlation with the published thresholds, and how often the published ordering (white
    threshold above the minority group's) holds in the fit too, per minority group and pooled."""
    r = float(np.corrcoef(results[published_col], results[fitted_col])[0, 1])
    wide = results.pivot_table(
        index=["state", "location_variable"],
        columns="driver_race",
        values=[published_col, fitted_col],
    )
    agreement = {}
    total_n = total_ok = 0
    for other in others:
        paper = wide[(published_col, reference)] > wide[(published_col, other)]
        ours = wide[(fitted_col, reference)] > wide[(fitted_col, other)]
        n = int(paper.sum())
        ok = int((paper & ours).sum())
        total_n += n
        total_ok += ok
        agreement[other] = {"counties": n, "agree": ok, "share": ok / n if n else math.nan}
    agreement["pooled"] = {
        "counties": total_n,
        "agree": total_ok,
        "share": total_ok / total_n if total_n else math.nan,
    }
    return {"r": r, "agreement": agreement}
