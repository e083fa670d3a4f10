"""The nightly model fits over the warehouse: veil of darkness and threshold test per agency and
year (each agency-year its own sample and model, as its annual report reads it; a night fits
again only the agency-years whose stops changed, so a night's refit does not grow with history).

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
    "period": ("varchar", "The year of the stops in the sample (YYYY-YYYY: one test per year)."),
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
    "agency_id": ("varchar", "Agency the fit covers (one hierarchical model per agency-year)."),
    "period": ("varchar", "The year of the stops counted (YYYY-YYYY: one model per year)."),
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
        "Largest split R-hat of the agency-year's thresholds (convergence; < 1.05 is good).",
    ),
    "divergences": ("integer", "Divergent transitions in the agency-year's fit (0 is good)."),
    "method": ("varchar", "The method, as applied."),
}

DECISION_COLUMNS = {
    "analysis": ("varchar", "veil_of_darkness, veil_of_darkness_dst or threshold_test."),
    "agency_id": ("varchar", "Agency the filter was applied to."),
    "period": ("varchar", "The year the analysis covers (YYYY-YYYY)."),
    "rule": ("varchar", "The filter or eligibility rule."),
    "rows_before": ("bigint", "Person-stops before the filter."),
    "rows_after": ("bigint", "Person-stops after the filter."),
    "reason": ("varchar", "Why the filter is applied, or why no result was produced."),
}

TABLES = {
    "mart_veil_of_darkness": (
        "Veil-of-darkness test (Grogger and Ridgeway 2006, as the Stanford Open Policing "
        "Project codes it) per agency and year: vehicular stops of black and white drivers in the "
        "inter-twilight window, darkness coefficient with its interval.",
        VEIL_COLUMNS,
    ),
    "mart_threshold_test": (
        "Threshold test (Simoiu, Corbett-Davies and Goel 2017) per agency and year, by district "
        "and race: "
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


Group = tuple[str, int]  # (agency_id, year): one sample and one model each


def period_of(year: int) -> str:
    return f"{year}-{year}"


def _by_year(groups: set[Group]) -> dict[int, set[str]]:
    years: dict[int, set[str]] = {}
    for agency, year in groups:
        years.setdefault(int(year), set()).add(agency)
    return years


def run_veil(con, log: list[dict], groups: set[Group]) -> list[dict]:
    """Veil of darkness for the agency-years `groups`: each year's stops are one sample and one
    model."""
    from dagster_project.analytics import veil

    located = {loc.agency_id: loc for loc in locations(con)}
    results: list[dict] = []
    for year, agencies in sorted(_by_year(groups).items()):
        year_locations = []
        for agency in sorted(agencies):
            loc = located.get(agency)
            if loc is None:
                continue
            if loc.latitude is None or loc.longitude is None or not loc.time_zone:
                log.append(
                    {
                        "analysis": veil.ANALYSIS,
                        "agency_id": agency,
                        "period": period_of(year),
                        "rule": "agency location",
                        "rows_before": 0,
                        "rows_after": 0,
                        "reason": "agency.yml has no centroid or time zone: sun times unknown",
                    }
                )
                continue
            year_locations.append(loc)
        relation = f"(select * from marts.fct_stops where stop_year = {int(year)})"
        found, decisions = veil.veil_of_darkness(con, relation, year_locations)
        for row in [*found, *decisions]:
            row["period"] = row["period"] or period_of(year)  # a sample left empty: its year
        results.extend(found)
        log.extend(decisions)
    return results


def threshold_counts(con) -> pd.DataFrame:
    """Counts per agency x year x district x race (set-based)."""
    return con.execute(
        """
        select agency_id, stop_year, coalesce(district, '(none)') as district, subject_race,
               count(*) as stops,
               count(*) filter (where search_conducted is not null) as stops_search_recorded,
               count(*) filter (where search_conducted) as searches,
               count(*) filter (where search_conducted and contraband_found) as hits
        from marts.fct_stops where stop_year is not null group by all order by all
        """
    ).df()


def run_threshold(
    con, settings: NightlySettings, log: list[dict], groups: set[Group]
) -> list[dict]:
    """Threshold test, one hierarchical model per agency-year of `groups`."""
    import pandas as pd

    from dagster_project import warehouse
    from dagster_project.analytics import threshold

    counts = threshold_counts(con)
    warehouse.release_cache(con)  # the fits' processes start next
    wanted = pd.MultiIndex.from_tuples(sorted(groups), names=["agency_id", "stop_year"])
    counts = counts[pd.MultiIndex.from_frame(counts[["agency_id", "stop_year"]]).isin(wanted)]
    eligible = []
    for (agency, year), cells in counts.groupby(["agency_id", "stop_year"], sort=True):
        period = period_of(int(year))

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
        eligible.append(enough.assign(period=period, fit=f"{agency} {period}"))
    if not eligible:
        return []
    cells = pd.concat(eligible, ignore_index=True)
    fit = threshold.FitSettings(settings.num_warmup, settings.num_samples, settings.num_chains)
    fitted, diagnostics = threshold.fit_by(
        cells,
        "fit",
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
    reference_means = (
        fitted[fitted["subject_race"] == "white"].groupby("fit")["race_threshold"].first()
    )
    rows = []
    for r in fitted.itertuples(index=False):
        d = diag[r.fit]
        reference_mean = float(reference_means[r.fit])
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


def replace_groups(con, name: str, rows: list[dict], groups: set[Group]) -> int:
    """In marts.<name>, replace the rows of the agency-years `groups` with `rows` (theirs); the
    other agency-years' rows stay. Returns the table's rows."""
    frame, select = _typed_frame(name, rows)
    keys = sorted(f"{agency}|{period_of(year)}" for agency, year in groups)
    con.register("fits_frame", frame)
    try:
        con.execute("begin transaction")
        con.execute(
            f"delete from marts.{name} where list_contains(?, agency_id || '|' || period)", [keys]
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
FITS_VERSION = "2"  # 2: one model per agency-year (1: per agency, pooled over its years)
# Each agency-year's fingerprint as of its last fit: an agency-year whose stops and location are
# the same is not fitted again (its models are independent of the others'; seeds are fixed, so a
# refit of the same inputs gives the same rows).
STATE_TABLE = "period_inputs"
STATE_DDL = f"""
create schema if not exists fits_state;
create table if not exists fits_state.{STATE_TABLE} (
    agency_id varchar, stop_year integer, fingerprint varchar, fitted_at timestamptz
);
"""


def fit_groups(con, settings: NightlySettings | None = None) -> dict[Group, str]:
    """(agency, year) -> cheap digest of everything its fits read: its fct_stops rows of the year
    (key, load time, mapping) and its location, plus the settings and FITS_VERSION. Set-based,
    one pass; a sum of the rows' hashes (an XOR would cancel a column constant over an even
    number of rows, such as an agency's mapping_hash)."""
    rows = con.execute(
        """
        with stops as (
            select agency_id, stop_year, count(*) as n, max(loaded_at) as last_loaded,
                   sum(hash(stop_person_id, loaded_at, mapping_hash)::hugeint) as digest
            from marts.fct_stops where stop_year is not null group by agency_id, stop_year
        )
        select stops.agency_id, stops.stop_year, stops.n, stops.last_loaded, stops.digest,
               hash(a.latitude, a.longitude, a.time_zone)
        from stops left join marts.dim_agencies as a on a.agency_id = stops.agency_id
        order by stops.agency_id, stops.stop_year
        """
    ).fetchall()
    settings = settings or NightlySettings()
    return {
        (agency, int(year)): f"{FITS_VERSION}|{settings}|{n}|{last}|{digest}|{location}"
        for agency, year, n, last, digest, location in rows
    }


def run_all(con, settings: NightlySettings | None = None, force: bool = False) -> dict:
    """Fit and write the three tables. Only agency-years whose inputs changed since their last
    fit are fitted again (every one with `force`, when a table is missing, or when no fit was
    recorded yet); the others' rows stay as they are, and the rows of an agency-year left
    without stops go. Returns rows per table, with `refitted` (the agencies fitted),
    `refitted_periods` ("agency YYYY") and `unchanged` when none was."""
    settings = settings or NightlySettings()
    con.execute(STATE_DDL)
    for old in ("inputs", "agency_inputs"):  # the whole-warehouse and per-agency digests before
        con.execute(f"drop table if exists fits_state.{old}")
    current = fit_groups(con, settings)
    last = {
        (agency, int(year)): fingerprint
        for agency, year, fingerprint in con.execute(
            f"select agency_id, stop_year, fingerprint from fits_state.{STATE_TABLE}"
        ).fetchall()
    }
    existing = {
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'"
        ).fetchall()
    }
    whole = force or not set(TABLES) <= existing or (not last and bool(current))
    changed = set(current) if whole else {g for g, f in current.items() if last.get(g) != f}
    gone = set() if whole else set(last) - set(current)
    if not whole and not changed and not gone:
        return {
            name: int(con.execute(f"select count(*) from marts.{name}").fetchone()[0])
            for name in TABLES
        } | {"unchanged": 1, "refitted": [], "refitted_periods": []}
    # The threshold test first: its worker processes start while this process holds little; the
    # veil's queries leave DuckDB's pages resident here (up to the memory limit) after them.
    veil_log: list[dict] = []
    threshold_log: list[dict] = []
    threshold_rows = run_threshold(con, settings, threshold_log, changed)
    veil_rows = run_veil(con, veil_log, changed)
    results = {
        "mart_veil_of_darkness": veil_rows,
        "mart_threshold_test": threshold_rows,
        "mart_decision_log_fits": veil_log + threshold_log,
    }
    rows = {
        name: write_table(con, name, table_rows)
        if whole
        else replace_groups(con, name, table_rows, changed | gone)
        for name, table_rows in results.items()
    }
    con.execute(f"delete from fits_state.{STATE_TABLE}")
    if current:
        con.executemany(
            f"insert into fits_state.{STATE_TABLE} values (?, ?, ?, now())",
            [(agency, year, f) for (agency, year), f in sorted(current.items())],
        )
    return rows | {
        "refitted": sorted({agency for agency, _ in changed}),
        "refitted_periods": [f"{agency} {year}" for agency, year in sorted(changed)],
    }
