"""The nightly model fits over the warehouse: veil of darkness and threshold test per agency.

Reads marts.fct_stops and marts.dim_agencies with set-based SQL in DuckDB (aggregated counts,
never whole tables into pandas), fits, and writes marts.mart_veil_of_darkness,
marts.mart_threshold_test and marts.mart_decision_log_fits. Every filter writes a decision-log
row (analysis, agency_id, period, rule, rows_before, rows_after, reason); the unit of rows is
person-stops throughout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ingestion.settings import data_dir

if TYPE_CHECKING:  # pandas (through veil) only when a fit runs: loading the definitions stays fast
    import pandas as pd

    from dagster_project.analytics import veil

THRESHOLD_ANALYSIS = "threshold_test"
THRESHOLD_RACES = ("black", "hispanic", "white")  # the Stanford project's groups


@dataclass(frozen=True)
class NightlySettings:
    # Fewer draws than the command line: a nightly estimate, fitted again every night.
    num_warmup: int = 300
    num_samples: int = 300
    num_chains: int = 2
    processes: int = 2
    min_searches: int = 50  # per race per sub-geography (METHODS.md section 7)
    min_subgeographies: int = 3
    small_numbers: int = 10


VEIL_COLUMNS = {
    "agency_id": ("varchar", "Agency the test covers."),
    "analysis": (
        "varchar",
        "veil_of_darkness (all inter-twilight stops) or veil_of_darkness_dst (stops within 30 "
        "days of a daylight-saving clock change).",
    ),
    "period": ("varchar", "First and last year of the stops in the sample (YYYY-YYYY)."),
    "group": ("varchar", "Group whose share of stops is modelled (black)."),
    "reference_group": ("varchar", "Comparison group (white)."),
    "n": ("bigint", "Stops in the analysis sample (black + white drivers)."),
    "n_black": ("bigint", "Stops of black drivers in the sample."),
    "n_white": ("bigint", "Stops of white drivers in the sample."),
    "n_dark": ("bigint", "Stops in the sample made after dusk."),
    "coefficient": (
        "double",
        "Logistic-regression coefficient of darkness on P(black); negative means a smaller "
        "black share after dark, evidence of bias in daylight stops.",
    ),
    "std_error": ("double", "Standard error of the coefficient."),
    "odds_ratio": (
        "double",
        "exp(coefficient): odds of a stopped driver being black, dark vs light.",
    ),
    "odds_ratio_lower": ("double", "Lower bound of the 95% interval of the odds ratio."),
    "odds_ratio_upper": ("double", "Upper bound of the 95% interval of the odds ratio."),
    "p_value": ("double", "Two-sided p-value of the coefficient (Wald)."),
    "spline_df": ("integer", "Degrees of freedom of the natural spline of clock time."),
    "district_fixed_effects": ("boolean", "Whether district fixed effects were included."),
    "is_small_numbers": (
        "boolean",
        "Fewer than 100 stops of a race in the sample: read with caution.",
    ),
    "is_flagged": (
        "boolean",
        "The whole 95% interval of the odds ratio is below 1 (evidence of bias against black "
        "drivers in daylight).",
    ),
    "method": ("varchar", "The method, as applied."),
}

THRESHOLD_COLUMNS = {
    "agency_id": ("varchar", "Agency the fit covers (one hierarchical model per agency)."),
    "period": ("varchar", "First and last year of the stops counted (YYYY-YYYY)."),
    "district": ("varchar", "Sub-geography of the cell (the agency's district)."),
    "group": ("varchar", "Race of the drivers in the cell."),
    "reference_group": ("varchar", "Comparison group (white)."),
    "stops": ("bigint", "Stops of the group in the district (search recorded)."),
    "searches": ("bigint", "Searches among them."),
    "hits": ("bigint", "Searches that found contraband."),
    "search_rate": ("double", "Observed searches / stops."),
    "hit_rate": ("double", "Observed hits / searches."),
    "predicted_search_rate": ("double", "Posterior mean of the model's search rate (PPC)."),
    "predicted_hit_rate": ("double", "Posterior mean of the model's hit rate (PPC)."),
    "threshold": (
        "double",
        "Posterior mean of the inferred search threshold: the probability of carrying "
        "contraband above which drivers of the group are searched in the district.",
    ),
    "threshold_lower": ("double", "2.5% posterior quantile of the threshold."),
    "threshold_upper": ("double", "97.5% posterior quantile of the threshold."),
    "group_threshold": (
        "double",
        "Posterior mean of the group's threshold averaged over districts, weighted by the "
        "districts' stops (as the paper does).",
    ),
    "group_threshold_lower": ("double", "2.5% posterior quantile of the group's threshold."),
    "group_threshold_upper": ("double", "97.5% posterior quantile of the group's threshold."),
    "is_lower_than_reference": (
        "boolean",
        "The group's 95% interval lies wholly below the reference group's posterior mean "
        "(a lower bar for searching the group).",
    ),
    "is_small_numbers": ("boolean", "Fewer than 10 hits in the cell: read with caution."),
    "max_rhat": (
        "double",
        "Largest split R-hat of the agency's thresholds (convergence; < 1.05 is good).",
    ),
    "divergences": ("integer", "Divergent transitions in the agency's fit (0 is good)."),
    "method": ("varchar", "The method, as applied."),
}

DECISION_COLUMNS = {
    "analysis": ("varchar", "veil_of_darkness, veil_of_darkness_dst or threshold_test."),
    "agency_id": ("varchar", "Agency the filter was applied to."),
    "period": ("varchar", "Years the analysis covers (YYYY-YYYY), empty when none."),
    "rule": ("varchar", "The filter or eligibility rule."),
    "rows_before": ("bigint", "Person-stops before the filter."),
    "rows_after": ("bigint", "Person-stops after the filter."),
    "reason": ("varchar", "Why the filter is applied, or why no result was produced."),
}

TABLES = {
    "mart_veil_of_darkness": (
        "Veil-of-darkness test (Grogger and Ridgeway 2006, as the Stanford Open Policing "
        "Project codes it) per agency: vehicular stops of black and white drivers in the "
        "inter-twilight window, darkness coefficient with its interval.",
        VEIL_COLUMNS,
    ),
    "mart_threshold_test": (
        "Threshold test (Simoiu, Corbett-Davies and Goel 2017) per agency, district and race: "
        "inferred search thresholds with 95% credible intervals and posterior predictive rates.",
        THRESHOLD_COLUMNS,
    ),
    "mart_decision_log_fits": (
        "Every filter and eligibility rule the model fits applied, with rows before and after.",
        DECISION_COLUMNS,
    ),
}


def public_tables() -> list[dict]:
    """The tables in the shape the publication reads (schema, name, description, columns)."""
    return [
        {
            "schema": "marts",
            "name": name,
            "description": description,
            "columns": {c: doc for c, (_, doc) in columns.items()},
        }
        for name, (description, columns) in TABLES.items()
    ]


# --- fits ----------------------------------------------------------------------------------------


def locations(con) -> list[veil.Location]:
    from dagster_project.analytics import veil

    return [
        veil.Location(a, lat, lon, tz)
        for a, lat, lon, tz in con.execute(
            """
            select agency_id, latitude, longitude, time_zone from marts.dim_agencies
            where agency_id in (select distinct agency_id from marts.fct_stops)
            order by agency_id
            """
        ).fetchall()
    ]


def run_veil(con, log: list[dict], agencies: set[str] | None = None) -> list[dict]:
    """Veil of darkness for every agency with stops (only `agencies` when given)."""
    from dagster_project.analytics import veil

    located = []
    for loc in locations(con):
        if agencies is not None and loc.agency_id not in agencies:
            continue
        if loc.latitude is None or loc.longitude is None or not loc.time_zone:
            log.append(
                {
                    "analysis": veil.ANALYSIS,
                    "agency_id": loc.agency_id,
                    "period": "",
                    "rule": "agency location",
                    "rows_before": 0,
                    "rows_after": 0,
                    "reason": "agency.yml has no centroid or time zone: sun times unknown",
                }
            )
            continue
        located.append(loc)
    results, decisions = veil.veil_of_darkness(con, "marts.fct_stops", located)
    log.extend(decisions)
    return results


def threshold_counts(con) -> pd.DataFrame:
    """Counts per agency x district x race (set-based), with each agency's filters' totals."""
    return con.execute(
        """
        select agency_id, coalesce(district, '(none)') as district, subject_race,
               min(stop_year) as first_year, max(stop_year) as last_year,
               count(*) as stops,
               count(*) filter (where search_conducted is not null) as stops_search_recorded,
               count(*) filter (where search_conducted) as searches,
               count(*) filter (where search_conducted and contraband_found) as hits
        from marts.fct_stops group by all order by all
        """
    ).df()


def run_threshold(
    con, settings: NightlySettings, log: list[dict], agencies: set[str] | None = None
) -> list[dict]:
    """Threshold test, one hierarchical model per agency (only `agencies` when given)."""
    import pandas as pd

    from dagster_project import warehouse
    from dagster_project.analytics import threshold

    counts = threshold_counts(con)
    warehouse.release_cache(con)  # the fits' processes start next
    if agencies is not None:
        counts = counts[counts["agency_id"].isin(sorted(agencies))]
    eligible = []
    for agency, cells in counts.groupby("agency_id", sort=True):
        period = f"{int(cells['first_year'].min())}-{int(cells['last_year'].max())}"

        def note(rule, before, after, reason, agency=agency, period=period):
            log.append(
                {
                    "analysis": THRESHOLD_ANALYSIS,
                    "agency_id": agency,
                    "period": period,
                    "rule": rule,
                    "rows_before": int(before),
                    "rows_after": int(after),
                    "reason": reason,
                }
            )

        before = cells["stops"].sum()
        after = cells["stops_search_recorded"].sum()
        note("search recorded", before, after, "stops without a recorded search are not counted")
        cells = cells[cells["stops_search_recorded"] > 0].assign(
            stops=lambda c: c["stops_search_recorded"]
        )
        kept = cells[cells["subject_race"].isin(THRESHOLD_RACES)]
        note(
            "black, hispanic and white drivers",
            cells["stops"].sum(),
            kept["stops"].sum(),
            "the Stanford project's groups; others are too few to fit",
        )
        enough = kept[kept["searches"] >= settings.min_searches]
        note(
            f"at least {settings.min_searches} searches per race per district",
            kept["stops"].sum(),
            enough["stops"].sum(),
            "district x race cells with fewer searches are dropped (eligibility rule)",
        )
        districts = enough["district"].nunique()
        races = set(enough["subject_race"])
        if districts < settings.min_subgeographies or "white" not in races or len(races) < 2:
            note(
                f"at least {settings.min_subgeographies} districts, white and another group",
                enough["stops"].sum(),
                0,
                f"{districts} eligible district(s), groups {sorted(races) or 'none'}: no fit",
            )
            continue
        eligible.append(enough.assign(period=period))
    if not eligible:
        return []
    cells = pd.concat(eligible, ignore_index=True)
    fit = threshold.FitSettings(settings.num_warmup, settings.num_samples, settings.num_chains)
    fitted, diagnostics = threshold.fit_by(
        cells,
        "agency_id",
        fit,
        processes=settings.processes,
        cache_dir=str(data_dir() / "jax_cache"),
        race_col="subject_race",
        geo_col="district",
        stops_col="stops",
        searches_col="searches",
        hits_col="hits",
    )
    diag = {d["group"]: d for d in diagnostics}
    rows = []
    for r in fitted.itertuples(index=False):
        d = diag[r.agency_id]
        reference = fitted[
            (fitted["agency_id"] == r.agency_id) & (fitted["subject_race"] == "white")
        ]
        reference_mean = float(reference["race_threshold"].iloc[0])
        rows.append(
            {
                "agency_id": r.agency_id,
                "period": r.period,
                "district": r.district,
                "group": r.subject_race,
                "reference_group": "white",
                "stops": int(r.stops),
                "searches": int(r.searches),
                "hits": int(r.hits),
                "search_rate": r.searches / r.stops,
                "hit_rate": r.hits / r.searches if r.searches else math.nan,
                "predicted_search_rate": r.predicted_search_rate,
                "predicted_hit_rate": r.predicted_hit_rate,
                "threshold": r.inferred_threshold,
                "threshold_lower": r.inferred_threshold_lower,
                "threshold_upper": r.inferred_threshold_upper,
                "group_threshold": r.race_threshold,
                "group_threshold_lower": r.race_threshold_lower,
                "group_threshold_upper": r.race_threshold_upper,
                "is_lower_than_reference": bool(
                    r.subject_race != "white" and r.race_threshold_upper < reference_mean
                ),
                "is_small_numbers": bool(r.hits < settings.small_numbers),
                "max_rhat": d["max_rhat"],
                "divergences": d["divergences"],
                "method": (
                    "Threshold test (Simoiu, Corbett-Davies and Goel 2017; Stanford Open "
                    "Policing hierarchical model), NumPyro NUTS "
                    f"{settings.num_chains} chains x {settings.num_samples} draws "
                    f"({settings.num_warmup} warm-up)"
                ),
            }
        )
    return rows


def _typed_frame(name: str, rows: list[dict]) -> tuple[pd.DataFrame, str]:
    import pandas as pd

    _, columns = TABLES[name]
    select = ", ".join(f'cast("{c}" as {dtype}) as "{c}"' for c, (dtype, _) in columns.items())
    return pd.DataFrame(rows, columns=list(columns)), select


def write_table(con, name: str, rows: list[dict]) -> int:
    """Replace marts.<name> with `rows`, typed as documented (an empty table when no rows)."""
    frame, select = _typed_frame(name, rows)
    con.register("fits_frame", frame)
    try:
        con.execute("create schema if not exists marts")
        con.execute(f"create or replace table marts.{name} as select {select} from fits_frame")
    finally:
        con.unregister("fits_frame")
    return len(frame)


def replace_agencies(con, name: str, rows: list[dict], agencies: set[str]) -> int:
    """In marts.<name>, replace the rows of `agencies` with `rows` (theirs); other agencies'
    rows stay. Returns the table's rows."""
    frame, select = _typed_frame(name, rows)
    con.register("fits_frame", frame)
    try:
        con.execute("begin transaction")
        con.execute(
            f"delete from marts.{name} where list_contains(?, agency_id)", [sorted(agencies)]
        )
        con.execute(f"insert into marts.{name} select {select} from fits_frame")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        con.unregister("fits_frame")
    return int(con.execute(f"select count(*) from marts.{name}").fetchone()[0])


# Bump when a change to the fitting code should refit unchanged inputs.
FITS_VERSION = "1"
# Each agency's fingerprint as of its last fit: an agency whose stops and location are the same
# is not fitted again (its models are independent of the other agencies'; seeds are fixed, so a
# refit of the same inputs gives the same rows).
STATE_DDL = """
create schema if not exists fits_state;
create table if not exists fits_state.agency_inputs (
    agency_id varchar, fingerprint varchar, fitted_at timestamptz
);
"""


def agency_fingerprints(con, settings: NightlySettings) -> dict[str, str]:
    """agency -> cheap digest of everything its fits read: its fct_stops rows (key, load time,
    mapping) and its location, plus the settings and FITS_VERSION. Set-based, one pass."""
    rows = con.execute(
        """
        with stops as (
            select agency_id, count(*) as n, max(loaded_at) as last_loaded,
                   sum(hash(stop_person_id, loaded_at, mapping_hash)::hugeint) as digest
            from marts.fct_stops group by agency_id
        )
        select stops.agency_id, stops.n, stops.last_loaded, stops.digest,
               hash(a.latitude, a.longitude, a.time_zone)
        from stops left join marts.dim_agencies as a on a.agency_id = stops.agency_id
        order by stops.agency_id
        """
    ).fetchall()
    return {
        agency: f"{FITS_VERSION}|{settings}|{n}|{last}|{digest}|{location}"
        for agency, n, last, digest, location in rows
    }


def run_all(con, settings: NightlySettings | None = None, force: bool = False) -> dict:
    """Fit and write the three tables. Only agencies whose inputs changed since their last fit
    are fitted again (every agency with `force`, or when a table is missing); the others' rows
    stay as they are. Returns rows per table, with `refitted` (the agencies fitted) and
    `unchanged` when none was."""
    settings = settings or NightlySettings()
    con.execute(STATE_DDL)
    con.execute("drop table if exists fits_state.inputs")  # the whole-warehouse digest before
    current = agency_fingerprints(con, settings)
    last = dict(
        con.execute("select agency_id, fingerprint from fits_state.agency_inputs").fetchall()
    )
    existing = {
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'"
        ).fetchall()
    }
    whole = force or not set(TABLES) <= existing
    changed = set(current) if whole else {a for a, f in current.items() if last.get(a) != f}
    gone = set() if whole else set(last) - set(current)
    if not whole and not changed and not gone:
        return {
            name: int(con.execute(f"select count(*) from marts.{name}").fetchone()[0])
            for name in TABLES
        } | {"unchanged": 1, "refitted": []}
    decisions: list[dict] = []
    results = {
        "mart_veil_of_darkness": run_veil(con, decisions, changed),
        "mart_threshold_test": run_threshold(con, settings, decisions, changed),
        "mart_decision_log_fits": decisions,
    }
    rows = {
        name: write_table(con, name, table_rows)
        if whole
        else replace_agencies(con, name, table_rows, changed | gone)
        for name, table_rows in results.items()
    }
    con.execute("delete from fits_state.agency_inputs")
    if current:
        con.executemany(
            "insert into fits_state.agency_inputs values (?, ?, now())", sorted(current.items())
        )
    return rows | {"refitted": sorted(changed)}
