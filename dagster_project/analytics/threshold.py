"""The threshold test (Simoiu, Corbett-Davies and Goel 2017) as the Stanford Open Policing
Project fits it for Pierson et al. 2020, in NumPyro: the paper's `model_flat.stan` (repository
5harad/openpolicing, src/analysis/threshold_test/), the beta-signal model of Pierson,
Corbett-Davies and Goel, "Fast threshold tests".

For each race r and sub-geography d (a county of a state, a district of an agency) with n stops,
s searches and h hits, a stopped driver's probability of carrying contraband is
p ~ Beta(lambda phi, lambda (1 - phi)); officers search when p exceeds the cell's threshold t:

    search rate = P(p > t),   hit rate = E[p | p > t],
    s ~ Binomial(n, search rate),   h ~ Binomial(s, hit rate).

Structure and priors, exactly as model_flat.stan (the first sub-geography pinned at 0):

    logit phi    = phi_r + phi_d,      phi_r ~ N(-3.5, 0.25),     phi_d ~ N(0, 0.25)
    log lambda   = lambda_r + lambda_d, lambda_r ~ N(2, 0.5),     lambda_d ~ N(0, 0.5)
    logit t      = t_r + sigma_t[r] z,  t_r ~ N(-2, 1),  sigma_t[r] ~ N+(0, 0.25),  z ~ N(0, 1)

`inferred_threshold` is what the paper publishes in fig4b: the posterior mean of each cell's t
(`colMeans(post$t_i)`); the race-level threshold is the paper's generated quantity, the cells'
thresholds weighted by their sub-geography's stops (all races), per draw. The beta tail integrals
(search rate, and the hit rate E[p | p > t]) are computed by tanh-sinh quadrature in log x, in log
space and 64-bit floats, so that JAX can differentiate them in a and b (its betainc cannot).

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
    num_warmup: int = 300
    num_samples: int = 300
    num_chains: int = 2
    seed: int = 0
    target_accept_prob: float = 0.9
    max_tree_depth: int = 10


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

# Priors of the paper's model_flat.stan (the Stanford project's repository, src/analysis/
# threshold_test/): (mean, sd) of normal priors, and the half-normal scale of sigma_t.
PRIORS = {
    "t_r": (-2.0, 1.0),
    "phi_r": (-3.5, 0.25),
    "lambda_r": (2.0, 0.5),
    "phi_d": (0.0, 0.25),
    "lambda_d": (0.0, 0.5),
    "sigma_t": 0.25,
}
# Tanh-sinh quadrature (step 0.1, 61 nodes) for the beta tail integrals, in u = log x, checked
# against scipy.special.betaincc: to 3e-9 (log search rate) and 4e-8 (log hit rate) over
# a in [0.03, 1.5], b in [1.5, 60], logit t in [-5, 1] (the priors put a = lambda phi near 0.2 and
# b near 7), and to 1e-5 and 1e-4 over a in [0.005, 3], b in [0.5, 200], logit t in [-7, 3].
QUADRATURE_STEP = 0.1
QUADRATURE_HALF_NODES = 30


def configure_jax(cache_dir: str | None = None) -> None:
    """One thread per process, 64-bit floats. XLA reads its flags when JAX first initialises,
    so this runs before the first JAX import of a process (the worker initialiser does that).
    `cache_dir`: JAX's persistent compilation cache, so that a nightly fit of an agency whose
    cell counts did not change skips the XLA compilation. Every compilation is kept, however
    quick: NumPyro's initialisation runs the model op by op, about 250 small compilations of
    ~40 ms each (10 s of every fit process; 1 s read from the cache, 1.5 MB on disk)."""
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
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)


def _tanh_sinh_nodes():
    """Nodes in (0, 1) (the fraction of the way from log t to 0) and log weights for the
    integral over [-1, 1] mapped there; 1 - tanh computed as a logistic, so no node is 0."""
    from scipy.special import expit

    k = np.arange(-QUADRATURE_HALF_NODES, QUADRATURE_HALF_NODES + 1) * QUADRATURE_STEP
    s = np.pi / 2 * np.sinh(k)
    fraction = expit(-2 * s)
    log_weight = np.log(QUADRATURE_STEP * np.pi / 2 * np.cosh(k)) - 2 * np.log(np.cosh(s))
    return fraction, log_weight


def log_beta_tail(logit_t, a, b):
    """For X ~ Beta(a, b) and t = inv_logit(logit_t): log P(X > t) and log E[X | X > t].
    Both integrals over (t, 1) are taken in u = log x, where the integrand e^{a u} (1 - e^u)^(b-1)
    is smooth but at u = 0 (tanh-sinh quadrature handles that end); JAX differentiates it in
    a, b and t (jax.scipy.special.betainc has no gradient in a and b)."""
    import jax.numpy as jnp
    from jax.nn import log_sigmoid
    from jax.scipy.special import gammaln, logsumexp

    fraction, log_weight = _tanh_sinh_nodes()
    log_t = log_sigmoid(logit_t)[..., None]
    u = log_t * fraction  # from log t (fraction 1) to 0 (fraction 0)
    f = a[..., None] * u + (b[..., None] - 1.0) * jnp.log(-jnp.expm1(u)) + log_weight
    log_mass = logsumexp(f, axis=-1)
    log_beta = gammaln(a) + gammaln(b) - gammaln(a + b)
    log_tail = log_mass + jnp.log(-log_t[..., 0] / 2) - log_beta
    log_mean = logsumexp(f + u, axis=-1) - log_mass
    return jnp.minimum(log_tail, -1e-300), jnp.minimum(log_mean, -1e-300)


def _log1mexp(v):
    """log(1 - exp(v)) for v < 0, stable at both ends."""
    import jax.numpy as jnp

    return jnp.where(v > -0.6931471805599453, jnp.log(-jnp.expm1(v)), jnp.log1p(-jnp.exp(v)))


def _cell_quantities(params: dict, race, geo):
    """Per-cell logit phi, log lambda and the threshold on the logit scale (jax arrays)."""
    import jax.numpy as jnp

    phi_d = jnp.concatenate([jnp.zeros(1), params["phi_d_raw"]])
    lambda_d = jnp.concatenate([jnp.zeros(1), params["lambda_d_raw"]])
    logit_phi = params["phi_r"][race] + phi_d[geo]
    log_lambda = params["lambda_r"][race] + lambda_d[geo]
    logit_t = params["t_r"][race] + params["t_i_raw"] * params["sigma_t"][race]
    return logit_phi, log_lambda, logit_t


def log_rates(logit_phi, log_lambda, logit_t):
    """log search rate, log hit rate and their complements for the beta signal model: the risk
    p ~ Beta(lambda phi, lambda (1 - phi)); search when p > t; search rate P(p > t), hit rate
    E[p | p > t] = phi P_{a+1,b}(p > t) / P_{a,b}(p > t)."""
    import jax.numpy as jnp
    from jax.nn import sigmoid

    lam = jnp.exp(log_lambda)
    a = lam * sigmoid(logit_phi)
    b = lam * sigmoid(-logit_phi)
    log_search, log_hit = log_beta_tail(logit_t, a, b)
    return log_search, _log1mexp(log_search), log_hit, _log1mexp(log_hit)


def threshold_model(race, geo, stops, searches, hits, n_races: int, n_geos: int):
    """model_flat.stan: per-race threshold mean and spread, a threshold per cell drawn around its
    race's (logit-normal), signal parameters per race plus per sub-geography offsets (the first
    sub-geography pinned at 0), binomial searches and hits."""
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    with numpyro.plate("races", n_races):
        sigma_t = numpyro.sample("sigma_t", dist.HalfNormal(PRIORS["sigma_t"]))
        t_r = numpyro.sample("t_r", dist.Normal(*PRIORS["t_r"]))
        phi_r = numpyro.sample("phi_r", dist.Normal(*PRIORS["phi_r"]))
        lambda_r = numpyro.sample("lambda_r", dist.Normal(*PRIORS["lambda_r"]))
    if n_geos > 1:
        with numpyro.plate("geos", n_geos - 1):
            phi_d_raw = numpyro.sample("phi_d_raw", dist.Normal(*PRIORS["phi_d"]))
            lambda_d_raw = numpyro.sample("lambda_d_raw", dist.Normal(*PRIORS["lambda_d"]))
    else:
        phi_d_raw = lambda_d_raw = jnp.zeros(0)
    with numpyro.plate("cells", stops.shape[0]):
        t_i_raw = numpyro.sample("t_i_raw", dist.Normal(0.0, 1.0))
    params = {
        "sigma_t": sigma_t,
        "t_r": t_r,
        "phi_r": phi_r,
        "lambda_r": lambda_r,
        "phi_d_raw": phi_d_raw,
        "lambda_d_raw": lambda_d_raw,
        "t_i_raw": t_i_raw,
    }
    log_s, log_not_s, log_h, log_not_h = log_rates(*_cell_quantities(params, race, geo))
    # s ~ Binomial(n, search rate), h ~ Binomial(s, hit rate); binomial coefficients dropped.
    numpyro.factor(
        "counts",
        jnp.sum(
            searches * log_s
            + (stops - searches) * log_not_s
            + hits * log_h
            + (searches - hits) * log_not_h
        ),
    )


def initial_values(n_races: int, n_geos: int, n_cells: int, num_chains: int, seed: int) -> dict:
    """Random starting points per chain in the ranges of the paper's run_threshold_test.R
    (unconstrained: log sigma_t)."""
    rng = np.random.default_rng(seed)

    def draw(low, high, size):
        return rng.uniform(low, high, (num_chains, size))

    return {
        "sigma_t": np.log(draw(0.05, 0.25, n_races)),
        "t_r": draw(-3.0, -1.0, n_races),
        "t_i_raw": draw(-0.75, 0.75, n_cells),
        "phi_r": draw(-3.75, -3.25, n_races),
        "lambda_r": draw(1.5, 2.5, n_races),
        "phi_d_raw": draw(-0.25, 0.25, n_geos - 1),
        "lambda_d_raw": draw(-0.25, 0.25, n_geos - 1),
    }


@dataclass
class _Prepared:
    """One group's cells as the model reads them."""

    cells: pd.DataFrame
    races: list[str]
    n_geos: int
    race: np.ndarray
    geo: np.ndarray
    stops: np.ndarray
    searches: np.ndarray
    hits: np.ndarray


def _prepare(
    cells: pd.DataFrame,
    race_col: str,
    geo_col: str,
    stops_col: str,
    searches_col: str,
    hits_col: str,
) -> _Prepared:
    cells = cells.reset_index(drop=True)
    races = sorted(cells[race_col].astype(str).unique())
    # The sub-geography with the most stops is pinned at 0, as the paper orders its locations.
    geo_totals = cells.groupby(cells[geo_col].astype(str), sort=False)[stops_col].sum()
    geos = list(geo_totals.sort_values(ascending=False, kind="stable").index)
    return _Prepared(
        cells=cells,
        races=races,
        n_geos=len(geos),
        race=cells[race_col].astype(str).map(races.index).to_numpy(np.int32),
        geo=cells[geo_col].astype(str).map(geos.index).to_numpy(np.int32),
        stops=cells[stops_col].to_numpy(np.float64),
        searches=cells[searches_col].to_numpy(np.float64),
        hits=cells[hits_col].to_numpy(np.float64),
    )


def sample_chains(
    prepared: _Prepared, settings: FitSettings, chains: Sequence[int]
) -> dict[str, np.ndarray]:
    """Draws of the given chains (of `settings.num_chains`), each exactly the chain a run of all
    chains in sequence draws: chain i starts from key i of the seed's split and from initial
    values i. So the chains of one fit can be drawn in separate processes. Returns each site's
    draws with a leading chain axis, and `diverging`."""
    configure_jax()
    import jax
    import jax.numpy as jnp
    from numpyro.infer import MCMC, NUTS

    n_races, n_geos = len(prepared.races), prepared.n_geos
    init = initial_values(n_races, n_geos, len(prepared.cells), settings.num_chains, settings.seed)
    if n_geos == 1:
        init = {k: v for k, v in init.items() if not k.endswith("_d_raw")}
    seed = jax.random.PRNGKey(settings.seed)
    keys = jax.random.split(seed, settings.num_chains) if settings.num_chains > 1 else [seed]
    # One single-chain sampler for every chain: compiled once, run once per chain.
    mcmc = MCMC(
        NUTS(
            threshold_model,
            target_accept_prob=settings.target_accept_prob,
            max_tree_depth=settings.max_tree_depth,
        ),
        num_warmup=settings.num_warmup,
        num_samples=settings.num_samples,
        num_chains=1,
        progress_bar=False,
    )
    drawn: dict[str, list[np.ndarray]] = {}
    for chain in chains:
        mcmc.run(
            keys[chain],
            jnp.asarray(prepared.race, dtype=jnp.int32),
            jnp.asarray(prepared.geo, dtype=jnp.int32),
            jnp.asarray(prepared.stops, dtype=jnp.float64),
            jnp.asarray(prepared.searches, dtype=jnp.float64),
            jnp.asarray(prepared.hits, dtype=jnp.float64),
            n_races=n_races,
            n_geos=n_geos,
            init_params={k: jnp.asarray(v[chain]) for k, v in init.items()},
            extra_fields=("diverging",),
        )
        for name, values in mcmc.get_samples().items():
            drawn.setdefault(name, []).append(np.asarray(values))
        drawn.setdefault("diverging", []).append(np.asarray(mcmc.get_extra_fields()["diverging"]))
    return {name: np.stack(values) for name, values in drawn.items()}


def summarize(
    prepared: _Prepared,
    settings: FitSettings,
    draws: dict[str, np.ndarray],
    *,
    stops_col: str,
    searches_col: str,
    hits_col: str,
    geo_col: str,
    group: str,
    started: float,
) -> tuple[pd.DataFrame, FitDiagnostics]:
    """The fitted cells and the fit's diagnostics from the draws of every chain."""
    configure_jax()
    import jax
    import jax.numpy as jnp
    from numpyro.diagnostics import split_gelman_rubin

    cells = prepared.cells
    race = jnp.asarray(prepared.race, dtype=jnp.int32)
    geo = jnp.asarray(prepared.geo, dtype=jnp.int32)
    samples = {k: v for k, v in draws.items() if k != "diverging"}
    flat = {k: jnp.asarray(v.reshape((-1, *v.shape[2:]))) for k, v in samples.items()}
    if prepared.n_geos == 1:
        flat["phi_d_raw"] = jnp.zeros((flat["t_i_raw"].shape[0], 0))
        flat["lambda_d_raw"] = jnp.zeros((flat["t_i_raw"].shape[0], 0))

    def per_draw(p):
        logit_phi, log_lambda, logit_t = _cell_quantities(p, race, geo)
        log_search, _, log_hit, _ = log_rates(logit_phi, log_lambda, logit_t)
        return jax.nn.sigmoid(logit_t), jnp.exp(log_search), jnp.exp(log_hit)

    threshold, search_rate, hit_rate = jax.vmap(per_draw)(flat)
    threshold = np.asarray(threshold)
    chains = threshold.reshape(settings.num_chains, settings.num_samples, -1)
    rhat = (
        float(np.nanmax(np.asarray(split_gelman_rubin(chains))))
        if settings.num_chains > 1
        else math.nan
    )
    divergences = int(draws["diverging"].sum())

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
    for r_index in range(len(prepared.races)):
        mask = prepared.race == r_index
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
    started = time.perf_counter()
    prepared = _prepare(cells, race_col, geo_col, stops_col, searches_col, hits_col)
    draws = sample_chains(prepared, settings, range(settings.num_chains))
    return summarize(
        prepared, settings, draws, stops_col=stops_col, searches_col=searches_col,
        hits_col=hits_col, geo_col=geo_col, group=group, started=started,
    )  # fmt: skip


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


_COLUMNS = {
    "race_col": "driver_race",
    "geo_col": "location_variable",
    "stops_col": "num_stops",
    "searches_col": "num_searches",
    "hits_col": "num_hits",
}


def _prepared(cells: pd.DataFrame, kwargs: dict) -> tuple[_Prepared, dict]:
    columns = {**_COLUMNS, **{k: v for k, v in kwargs.items() if k in _COLUMNS}}
    return _prepare(cells, *columns.values()), columns


def _sample_one(args: tuple) -> tuple[str, int, dict[str, np.ndarray]]:
    group, cells, settings, kwargs, chain = args
    prepared, _ = _prepared(cells, kwargs)
    return group, chain, sample_chains(prepared, settings, [chain])


def _summarize_one(args: tuple) -> tuple[str, pd.DataFrame, dict]:
    group, cells, settings, kwargs, by_chain, started = args
    prepared, columns = _prepared(cells, kwargs)
    draws = {
        name: np.concatenate([by_chain[chain][name] for chain in sorted(by_chain)])
        for name in by_chain[min(by_chain)]
    }
    fitted, diagnostics = summarize(
        prepared, settings, draws, stops_col=columns["stops_col"],
        searches_col=columns["searches_col"], hits_col=columns["hits_col"],
        geo_col=columns["geo_col"], group=group, started=started,
    )  # fmt: skip
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
    rows come back in the input's order. `progress` is called with each group's diagnostics.

    With fewer groups than processes (a night that refits one agency), each group's chains are
    drawn in separate processes (`sample_chains`: the same draws as in one process) and then
    summarised, so no process sits idle."""
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

    spread = processes > 1 and settings.num_chains > 1 and len(jobs) < processes
    if not spread and (processes <= 1 or len(jobs) == 1):
        for job in jobs:
            collect(_fit_one(job))
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        tasks = len(jobs) * settings.num_chains if spread else len(jobs)
        with ProcessPoolExecutor(
            max_workers=min(processes, tasks),
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_init,
            initargs=(cache_dir,),
        ) as pool:
            if not spread:
                futures = [pool.submit(_fit_one, job) for job in jobs]
                for future in as_completed(futures):
                    collect(future.result())
            else:
                started = time.perf_counter()  # CLOCK_MONOTONIC: the same clock in every process
                chains: dict[str, dict[int, dict]] = {group: {} for group, *_ in jobs}
                sampled = [
                    pool.submit(_sample_one, (*job, chain))
                    for job in jobs
                    for chain in range(settings.num_chains)
                ]
                for future in as_completed(sampled):
                    group, chain, draws = future.result()
                    chains[group][chain] = draws
                summaries = [
                    pool.submit(_summarize_one, (*job, chains[job[0]], started)) for job in jobs
                ]
                for future in as_completed(summaries):
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
