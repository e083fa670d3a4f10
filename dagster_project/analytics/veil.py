"""The veil-of-darkness test (Grogger and Ridgeway 2006) as the Stanford project codes it.

METHODS.md section 6. If officers see a driver's race less well after dark, a smaller share of
black drivers among stops made after dark than among stops made in daylight *at the same clock
time* is evidence of bias in daylight stops. Sample and model, per agency:

1. vehicular stops of black and white drivers;
2. months where the clock time is recorded for at least 50% of those stops (eligibility), and
   stops with a recorded time;
3. years with at least 100 stops of each race (eligibility, per location-year);
4. clock times inside the inter-twilight window: between the year's earliest and latest dusk
   (end of civil twilight, sun 6 degrees below the horizon) at the agency's centroid, in its
   time zone (`astral`);
5. stops between sunset and dusk dropped (neither light nor dark);
6. `is_dark` = the clock time is after that date's dusk; counts aggregated by darkness, clock
   time rounded to 5 minutes and district (the paper's aggregation);
7. logistic regression of P(black) on is_dark + a natural cubic spline of clock time with 6
   degrees of freedom (patsy `cr(minute, df=6)`), plus district fixed effects where the agency
   records more than one district.

The daylight-saving variant keeps only stops within 30 days of a clock change, where the same
clock time is light on one side of the change and dark on the other, and adds season x year.

Every filter writes a decision-log row (analysis, agency_id, period, rule, rows_before,
rows_after, reason). The work is set-based SQL in DuckDB over any relation with the columns
agency_id, stop_date, stop_time, subject_race, stop_type, district: the warehouse's fct_stops, or
a DataFrame registered in an in-memory connection. statsmodels is imported inside `fit_counts`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd

ANALYSIS = "veil_of_darkness"
ANALYSIS_DST = "veil_of_darkness_dst"
Z95 = 1.959963984540054


@dataclass(frozen=True)
class Location:
    agency_id: str
    latitude: float
    longitude: float
    time_zone: str


@dataclass(frozen=True)
class VeilSettings:
    min_time_coverage: float = 0.5
    min_stops_per_race: int = 100
    spline_df: int = 6
    round_minutes: int = 5
    dst_window_days: int = 30


# --- sun times -----------------------------------------------------------------------------------


def sun_times(location: Location, years: list[int]) -> pd.DataFrame:
    """Every day of `years`: local sunset and dusk (civil) as minutes after midnight; a day
    without a dusk (polar summer) has none."""
    from astral import Observer
    from astral.sun import dusk, sunset

    tz = ZoneInfo(location.time_zone)
    observer = Observer(latitude=location.latitude, longitude=location.longitude)
    rows = []
    for year in years:
        day = date(year, 1, 1)
        while day.year == year:
            try:
                s = sunset(observer, date=day, tzinfo=tz)
                d = dusk(observer, date=day, tzinfo=tz)
                sunset_minute = s.hour * 60 + s.minute + s.second / 60
                dusk_minute = d.hour * 60 + d.minute + d.second / 60
                if d.date() != day or dusk_minute < sunset_minute:
                    sunset_minute = dusk_minute = math.nan
            except ValueError:
                sunset_minute = dusk_minute = math.nan
            rows.append((day, year, sunset_minute, dusk_minute))
            day += timedelta(days=1)
    return pd.DataFrame(rows, columns=["sun_date", "sun_year", "sunset_minute", "dusk_minute"])


def clock_changes(time_zone: str, years: list[int]) -> pd.DataFrame:
    """Dates the UTC offset changes (daylight saving starts or ends) and the season of each."""
    tz = ZoneInfo(time_zone)
    rows = []
    for year in years:
        day = date(year, 1, 1)
        previous = datetime(year - 1, 12, 31, 12, tzinfo=tz).utcoffset()
        while day.year == year:
            offset = datetime(day.year, day.month, day.day, 12, tzinfo=tz).utcoffset()
            if offset != previous:
                rows.append((day, year, "spring" if offset > previous else "fall"))
            previous = offset
            day += timedelta(days=1)
    return pd.DataFrame(rows, columns=["change_date", "change_year", "season"])


# --- sample --------------------------------------------------------------------------------------


class _Log:
    def __init__(self, analysis: str, agency_id: str, period: str, out: list[dict]):
        self.analysis, self.agency_id, self.period, self.out = analysis, agency_id, period, out

    def __call__(self, rule: str, before: int, after: int, reason: str) -> None:
        self.out.append(
            {
                "analysis": self.analysis,
                "agency_id": self.agency_id,
                "period": self.period,
                "rule": rule,
                "rows_before": int(before),
                "rows_after": int(after),
                "reason": reason,
            }
        )


def _count(con, table: str) -> int:
    return int(con.execute(f"select count(*) from {table}").fetchone()[0])


def _step(con, log: _Log, source: str, target: str, sql: str, rule: str, reason: str) -> int:
    before = _count(con, source)
    con.execute(f"create or replace temp table {target} as {sql}")
    after = _count(con, target)
    log(rule, before, after, reason)
    return after


def prepare_sample(
    con, relation: str, location: Location, settings: VeilSettings, decisions: list[dict]
) -> tuple[str, str] | None:
    """Build temp table vod_sample (the analysis sample with minute, sunset, dusk) for one
    agency; returns (period, table) or None when nothing is left (logged)."""
    con.execute(
        f"""
        create or replace temp table vod_0 as
        select agency_id, cast(stop_date as date) as stop_date, cast(stop_time as time) as stop_time,
               subject_race, stop_type, cast(district as varchar) as district
        from {relation} where agency_id = ?
        """,
        [location.agency_id],
    )
    years = [
        r[0]
        for r in con.execute("select distinct year(stop_date) from vod_0 order by 1").fetchall()
    ]
    period = f"{years[0]}-{years[-1]}" if years else ""
    log = _Log(ANALYSIS, location.agency_id, period, decisions)
    steps = [
        (
            "vod_0",
            "vod_1",
            "select * from vod_0 where stop_type = 'vehicular'",
            "vehicular stops",
            "the test compares drivers' visibility: pedestrian and other stops are not used",
        ),
        (
            "vod_1",
            "vod_2",
            "select * from vod_1 where subject_race in ('black', 'white')",
            "black and white drivers",
            "the test compares black with white drivers",
        ),
        (
            "vod_2",
            "vod_3",
            f"""
            select v.* from vod_2 v join (
                select date_trunc('month', stop_date) as month from vod_2
                group by 1 having count(stop_time) >= {settings.min_time_coverage} * count(*)
            ) m on date_trunc('month', v.stop_date) = m.month
            """,
            f"time recorded for at least {settings.min_time_coverage:.0%} of a month's stops",
            "months with poor time coverage are dropped whole (eligibility rule)",
        ),
        (
            "vod_3",
            "vod_4",
            "select * from vod_3 where stop_time is not null",
            "time recorded",
            "a stop without a clock time cannot be placed in light or dark",
        ),
        (
            "vod_4",
            "vod_5",
            f"""
            select v.* from vod_4 v join (
                select year(stop_date) as y from vod_4 group by 1
                having count(*) filter (where subject_race = 'black') >= {settings.min_stops_per_race}
                   and count(*) filter (where subject_race = 'white') >= {settings.min_stops_per_race}
            ) e on year(v.stop_date) = e.y
            """,
            f"at least {settings.min_stops_per_race} stops per race per location-year",
            "years with too few stops of either race are dropped (eligibility rule)",
        ),
    ]
    for source, target, sql, rule, reason in steps:
        if _step(con, log, source, target, sql, rule, reason) == 0:
            return None
    years = [
        r[0]
        for r in con.execute("select distinct year(stop_date) from vod_5 order by 1").fetchall()
    ]
    log.period = period = f"{years[0]}-{years[-1]}"
    con.register("vod_sun_frame", sun_times(location, years))
    con.execute("create or replace temp table vod_sun as select * from vod_sun_frame")
    con.unregister("vod_sun_frame")
    if (
        _step(
            con,
            log,
            "vod_5",
            "vod_6",
            """
            select v.*, hour(v.stop_time) * 60 + minute(v.stop_time) as minute,
                   s.sunset_minute, s.dusk_minute
            from vod_5 v
            join vod_sun s on s.sun_date = v.stop_date
            join (select sun_year, min(dusk_minute) as lo, max(dusk_minute) as hi
                  from vod_sun group by 1) w on w.sun_year = year(v.stop_date)
            where s.dusk_minute is not null
              and hour(v.stop_time) * 60 + minute(v.stop_time) between w.lo and w.hi
            """,
            "inter-twilight window",
            "clock times between the year's earliest and latest dusk at the agency's centroid",
        )
        == 0
    ):
        return None
    if (
        _step(
            con,
            log,
            "vod_6",
            "vod_sample",
            """
            select *, minute > dusk_minute as is_dark from vod_6
            where not (minute > sunset_minute and minute <= dusk_minute)
            """,
            "sunset to dusk dropped",
            "stops in civil twilight are neither light nor dark",
        )
        == 0
    ):
        return None
    return period, "vod_sample"


def aggregate(con, table: str, settings: VeilSettings, dst: bool = False) -> pd.DataFrame:
    """Counts of black and white drivers by darkness, rounded clock time and district."""
    extra = ", season, cast(change_year as varchar) as change_year" if dst else ""
    step = settings.round_minutes
    return con.execute(
        f"""
        select cast(is_dark as integer) as is_dark,
               cast(round(minute / {step}) * {step} as integer) as rounded_minute,
               coalesce(district, '(none)') as district{extra},
               count(*) filter (where subject_race = 'black') as n_black,
               count(*) filter (where subject_race = 'white') as n_white
        from {table} group by all order by all
        """
    ).df()


# --- model ---------------------------------------------------------------------------------------


def fit_counts(counts: pd.DataFrame, settings: VeilSettings, dst: bool = False) -> dict:
    """Binomial GLM of (n_black, n_white) on is_dark + cr(rounded_minute, df) [+ district]
    [+ season x year]; the is_dark coefficient with its SE, odds ratio and 95% interval."""
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    formula = (
        f"n_black + n_white ~ is_dark + cr(rounded_minute, df={settings.spline_df}, "
        "constraints='center')"
    )
    districts = counts["district"].nunique()
    if districts > 1:
        formula += " + C(district)"
    if dst:
        formula += (
            " + C(season) * C(change_year)"
            if counts["change_year"].nunique() > 1
            else (" + C(season)" if counts["season"].nunique() > 1 else "")
        )
    model = smf.glm(formula, counts, family=sm.families.Binomial())
    result = model.fit()
    beta = float(result.params["is_dark"])
    se = float(result.bse["is_dark"])
    return {
        "coefficient": beta,
        "std_error": se,
        "odds_ratio": math.exp(beta),
        "odds_ratio_lower": math.exp(beta - Z95 * se),
        "odds_ratio_upper": math.exp(beta + Z95 * se),
        "p_value": float(result.pvalues["is_dark"]),
        "district_fixed_effects": districts > 1,
        "formula": formula,
    }


def _result_row(analysis, location, period, counts, fit, settings) -> dict:
    n_black = int(counts["n_black"].sum())
    n_white = int(counts["n_white"].sum())
    row = {
        "analysis": analysis,
        "agency_id": location.agency_id,
        "period": period,
        "group": "black",
        "reference_group": "white",
        "n": n_black + n_white,
        "n_black": n_black,
        "n_white": n_white,
        "n_dark": int(counts.loc[counts["is_dark"] == 1, ["n_black", "n_white"]].sum().sum()),
        "spline_df": settings.spline_df,
        **fit,
    }
    row["is_small_numbers"] = min(n_black, n_white) < settings.min_stops_per_race
    # Evidence of bias against black drivers in daylight: odds of a black driver lower after dark,
    # the whole interval below 1.
    row["is_flagged"] = row["odds_ratio_upper"] < 1
    row["method"] = (
        "Grogger-Ridgeway veil of darkness (Stanford Open Policing): logistic regression of "
        f"P(black) on darkness + natural spline of clock time (df={settings.spline_df})"
        + (" + district fixed effects" if fit["district_fixed_effects"] else "")
        + (
            f"; stops within {settings.dst_window_days} days of a clock change"
            if analysis == ANALYSIS_DST
            else ""
        )
    )
    return row


def veil_of_darkness(
    con,
    relation: str,
    locations: list[Location],
    settings: VeilSettings | None = None,
    dst: bool = True,
) -> tuple[list[dict], list[dict]]:
    """Run the test (and its DST variant) for every location; (results, decision-log rows)."""
    settings = settings or VeilSettings()
    results: list[dict] = []
    decisions: list[dict] = []
    for location in locations:
        prepared = prepare_sample(con, relation, location, settings, decisions)
        if prepared is None:
            _Log(ANALYSIS, location.agency_id, "", decisions)(
                "no sample", 0, 0, "no stop left after the filters above: no fit"
            )
            continue
        period, table = prepared
        counts = aggregate(con, table, settings)
        fitted = _fit_or_log(ANALYSIS, location, period, counts, settings, decisions, False)
        if fitted:
            results.append(fitted)
        if dst:
            row = _dst(con, table, location, period, settings, decisions)
            if row:
                results.append(row)
    return results, decisions


def _fit_or_log(analysis, location, period, counts, settings, decisions, dst) -> dict | None:
    log = _Log(analysis, location.agency_id, period, decisions)
    n = int(counts[["n_black", "n_white"]].sum().sum())
    dark = counts.groupby("is_dark")[["n_black", "n_white"]].sum()
    if len(dark) < 2 or (dark == 0).any().any():
        log(
            "light and dark stops of both races",
            n,
            0,
            "the sample lacks light or dark stops of a race: no fit",
        )
        return None
    try:
        fit = fit_counts(counts, settings, dst)
    except (ValueError, ArithmeticError, KeyError) as exc:  # singular design, perfect separation
        log("model fit", n, 0, f"the model could not be fitted: {exc}")
        return None
    if not math.isfinite(fit["std_error"]):
        log("model fit", n, 0, "the darkness coefficient is not identified: no result")
        return None
    return _result_row(analysis, location, period, counts, fit, settings)


def _dst(con, table, location, period, settings, decisions) -> dict | None:
    log = _Log(ANALYSIS_DST, location.agency_id, period, decisions)
    years = [r[0] for r in con.execute(f"select distinct year(stop_date) from {table}").fetchall()]
    changes = clock_changes(location.time_zone, sorted(years))
    before = _count(con, table)
    if changes.empty:
        log(
            "clock changes",
            before,
            0,
            f"{location.time_zone} has no daylight saving time: no DST variant",
        )
        return None
    con.register("vod_changes_frame", changes)
    con.execute("create or replace temp table vod_dst_changes as select * from vod_changes_frame")
    con.unregister("vod_changes_frame")
    window = settings.dst_window_days
    after = _step(
        con,
        log,
        table,
        "vod_dst",
        f"""
        select v.*, c.season, c.change_year from {table} v
        join vod_dst_changes c
          on abs(date_diff('day', c.change_date, v.stop_date)) <= {window}
        """,
        f"within {window} days of a clock change",
        "around a change the same clock time is light on one side and dark on the other",
    )
    if after == 0:
        return None
    counts = aggregate(con, "vod_dst", settings, dst=True)
    return _fit_or_log(ANALYSIS_DST, location, period, counts, settings, decisions, True)


def run_on_frame(
    stops: pd.DataFrame,
    locations: list[Location],
    settings: VeilSettings | None = None,
    dst: bool = True,
) -> tuple[list[dict], list[dict]]:
    """The test on a DataFrame (agency_id, stop_date, stop_time, subject_race, stop_type,
    district), through an in-memory DuckDB connection."""
    import duckdb

    con = duckdb.connect()
    try:
        con.register("stops_input", stops)
        return veil_of_darkness(con, "stops_input", locations, settings, dst)
    finally:
        con.close()
