"""Great Expectations suite of `marts.fct_stops` (one row per person stopped).

Blocking expectations guard what DESIGN.md section 6 calls the gate: keys, required fields,
value domains, date ranges and the Stanford Open Policing / RIPA logic rules. Warn expectations
report what should be looked at but must not hold back a release: rules that real agency data
breaks for legitimate reasons, and the per agency-month coverage and volume rules that the Stanford
Open Policing Project uses to decide which months are analysable.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd

from expectations.core import (
    BLOCKING,
    WARN,
    Check,
    ExpectationOutcome,
    SuiteResult,
    code_domains,
    format_examples,
    required_fields,
    run_suite,
)

SUITE_NAME = "marts.fct_stops"
ROW_KEY = "stop_person_id"
# Reported beside every unexpected value so a failure names the row and the agency.
INDEX_COLUMNS = (ROW_KEY, "agency_id")

# search_basis and search_discretion are derived in dbt from search_basis_detail, so agencies never
# map them and ingestion/canonical/stops.yml does not list them; domains from CANONICAL-MODEL.md b1
# (OPP search_basis; RIPA Board discretion: consent-only searches are "higher").
DERIVED_DOMAINS: dict[str, list[str]] = {
    "search_basis": ["k9", "plain_view", "consent", "probable_cause", "other"],
    "search_discretion": ["higher", "lower", "other"],
}
# Staging nulls ages outside this range (OPP), so a value outside it in the mart is a model bug.
AGE_RANGE = (10, 110)
# Columns that only describe a search: OPP predicate "null unless search_conducted".
SEARCH_ONLY_COLUMNS = ("contraband_found", "search_basis", "search_basis_detail")
# "no_action" is the strictest outcome only when nothing else happened (RIPA known errors list).
ACTION_FLAGS = ("arrest_made", "citation_issued", "warning_issued")
# OPP analysis rules: a month is usable when at least half its stops record race and it has at
# least 50 stops; below either, the month's rates are noise.
MIN_MONTH_COVERAGE = 0.5
MIN_MONTH_STOPS = 50
# A text column with at most this many distinct values is validated as a category (codes).
CATEGORY_MAX_VALUES = 1000


def suite_columns() -> list[str]:
    """The columns of fct_stops the suite reads: a batch is fetched with these only (lineage,
    hashes and times would double the frame and every filter GX makes of it)."""
    columns = [ROW_KEY, "stop_id", "agency_id", "stop_date", "subject_age", "outcome"]
    columns += [*required_fields("stops"), *code_domains("stops"), *DERIVED_DOMAINS]
    columns += [*SEARCH_ONLY_COLUMNS, *ACTION_FLAGS, "search_conducted", "search_basis_detail"]
    return list(dict.fromkeys(columns))


def validate_stops(
    df: pd.DataFrame,
    today: date | None = None,
    *,
    agency_first_years: Mapping[str, int] | None = None,
    not_recorded: Mapping[str, set[str]] | None = None,
) -> SuiteResult:
    """Validate rows of `marts.fct_stops`.

    `today` bounds stop dates (default: today's UTC date, which is never earlier than a US
    agency's local date). `agency_first_years` (agency_id -> first year of data, from
    `agency.yml`) adds the blocking "no stop before the agency's first year" rule.

    The per agency-month rules assume the frame holds whole months (the mart, or whole months of
    it); a batch holding part of a month would report that month as thin. The month containing
    `today` is skipped by the volume rule because it is still being filled.
    """
    today = today or datetime.now(UTC).date()
    frame = _prepared(df, agency_first_years, not_recorded or {})
    checks = _checks(today, agency_first_years is not None)
    outcomes = run_suite(frame, SUITE_NAME, checks, index_columns=INDEX_COLUMNS)
    outcomes += month_outcomes(frame, today)
    return SuiteResult.from_outcomes(SUITE_NAME, outcomes, row_count=len(df))


def _prepared(
    df: pd.DataFrame,
    agency_first_years: Mapping[str, int] | None,
    not_recorded: Mapping[str, set[str]],
) -> pd.DataFrame:
    """The frame GX sees, in the dtypes GX's pandas engine handles column-wise.

    stop_date as datetime64[ns] (DuckDB gives datetime64[us], hand-made frames often `date`
    objects; GX compares dates against its bounds vectorised only in nanoseconds, value by value
    in Python otherwise), subject_age as float64 (NaN for null: GX's range check is vectorised
    for float, per value for nullable integers), and text columns as categories or NumPy
    objects: every row condition filters the whole frame, and taking rows of Arrow-backed
    strings copies their bytes. On a million stops: 27 s -> about 8 s."""
    frame = df.copy(deep=False)
    if "stop_date" in frame.columns:
        frame["stop_date"] = pd.to_datetime(frame["stop_date"], errors="coerce").astype(
            "datetime64[ns]"
        )
    if "subject_age" in frame.columns:
        frame["subject_age"] = pd.to_numeric(frame["subject_age"], errors="coerce").astype(
            "float64"
        )
    for column in frame.columns:
        if column == "stop_date" or not pd.api.types.is_string_dtype(frame[column].dtype):
            continue
        values = frame[column]
        if values.nunique(dropna=True) <= CATEGORY_MAX_VALUES:
            frame[column] = values.astype("category")
        else:
            frame[column] = values.astype(object)
    if agency_first_years is not None and "agency_id" in frame.columns:
        first_dates = {
            agency: pd.Timestamp(year=int(year), month=1, day=1)
            for agency, year in agency_first_years.items()
        }
        frame["_agency_first_date"] = pd.to_datetime(
            frame["agency_id"].astype(object).map(first_dates)
        ).astype("datetime64[ns]")
    # A required field an agency declares not_recorded is checked for every other agency only.
    for column in required_fields("stops"):
        skipped = [a for a, fields in not_recorded.items() if column in fields]
        frame[f"_records_{column}"] = (
            ~frame["agency_id"].isin(skipped) if "agency_id" in frame.columns else True
        )
    return frame


def _checks(today: date, with_first_years: bool) -> list[Check]:
    checks: list[Check] = [
        Check(
            f"{ROW_KEY}_unique",
            BLOCKING,
            ROW_KEY,
            "Primary key: one row per person stopped.",
            lambda gx: gx.expectations.ExpectColumnValuesToBeUnique(column=ROW_KEY),
        ),
    ]
    for column in [ROW_KEY, "agency_id", *required_fields("stops")]:
        required = column in (ROW_KEY, "agency_id")
        checks.append(
            Check(
                f"{column}_not_null",
                BLOCKING,
                column,
                f"{column} is required (unless the agency's mapping declares it not_recorded).",
                _not_null(column) if required else _not_null(column, (f"_records_{column}", True)),
            )
        )
    for column, domain in {**code_domains("stops"), **DERIVED_DOMAINS}.items():
        checks.append(
            Check(
                f"{column}_in_domain",
                BLOCKING,
                column,
                f"{column} takes only its canonical values: {', '.join(domain)}.",
                _in_set(column, domain),
            )
        )
    low, high = AGE_RANGE
    checks.append(
        Check(
            "subject_age_in_range",
            BLOCKING,
            "subject_age",
            f"subject_age is between {low} and {high} (null allowed).",
            lambda gx: gx.expectations.ExpectColumnValuesToBeBetween(
                column="subject_age", min_value=low, max_value=high
            ),
        )
    )
    bound = pd.Timestamp(today)
    checks.append(
        Check(
            "stop_date_not_in_future",
            BLOCKING,
            "stop_date",
            f"stop_date is not after {today.isoformat()}.",
            lambda gx: gx.expectations.ExpectColumnValuesToBeBetween(
                column="stop_date", max_value=bound
            ),
        )
    )
    if with_first_years:
        checks.append(
            Check(
                "stop_date_not_before_first_year",
                BLOCKING,
                "stop_date",
                "stop_date is not before the agency's first year of data (agency.yml first_year).",
                lambda gx: gx.expectations.ExpectColumnPairValuesAToBeGreaterThanB(
                    column_A="stop_date",
                    column_B="_agency_first_date",
                    or_equal=True,
                    ignore_row_if="either_value_is_missing",
                ),
            )
        )
    for column in SEARCH_ONLY_COLUMNS:
        checks.append(
            Check(
                f"no_search_implies_null_{column}",
                BLOCKING,
                column,
                f"{column} is null when search_conducted is false (OPP predicate).",
                _null_when(column, "search_conducted", False),
            )
        )
    for column in ACTION_FLAGS:
        checks.append(
            Check(
                f"no_action_excludes_{column}",
                BLOCKING,
                column,
                f"outcome 'no_action' is exclusive: {column} is not true.",
                _in_set(column, [False], when=("outcome", "no_action")),
            )
        )
    checks += [
        Check(
            "incident_to_arrest_implies_arrest",
            WARN,
            "arrest_made",
            "A search incident to arrest implies arrest_made (RIPA known error).",
            _in_set("arrest_made", [True], when=("search_basis_detail", "incident_to_arrest")),
        ),
        Check(
            "search_has_basis",
            WARN,
            "search_basis_detail",
            "A search records its basis (search_basis_detail not null when search_conducted).",
            _not_null("search_basis_detail", when=("search_conducted", True)),
        ),
    ]
    return checks


def _condition(when: tuple[str, Any] | None) -> dict[str, Any]:
    if when is None:
        return {}
    from great_expectations.expectations.row_conditions import Column

    column, value = when
    # GX >= 1.9 condition objects (string row_conditions are deprecated); on pandas they filter
    # with `==`, so nullable booleans' NA rows are left out, as SQL would.
    return {"row_condition": Column(name=column) == value}


def _not_null(column: str, when: tuple[str, Any] | None = None):
    return lambda gx: gx.expectations.ExpectColumnValuesToNotBeNull(
        column=column, **_condition(when)
    )


def _in_set(column: str, values: list[Any], when: tuple[str, Any] | None = None):
    return lambda gx: gx.expectations.ExpectColumnValuesToBeInSet(
        column=column, value_set=values, **_condition(when)
    )


def _null_when(column: str, condition_column: str, value: Any):
    return lambda gx: gx.expectations.ExpectColumnValuesToBeNull(
        column=column, **_condition((condition_column, value))
    )


def month_outcomes(frame: pd.DataFrame, today: date) -> list[ExpectationOutcome]:
    """The OPP per agency-month rules, computed with pandas (GX has no grouped expectation)."""
    needed = {"agency_id", "stop_date", "subject_race"}
    missing = needed - set(frame.columns)
    coverage_name, volume_name = "subject_race_coverage_by_month", "stop_volume_by_month"
    if missing:
        reason = f"could not be evaluated: missing columns {sorted(missing)}"
        return [
            ExpectationOutcome(coverage_name, "subject_race", WARN, False, 0, [], reason),
            ExpectationOutcome(volume_name, "stop_id", WARN, False, 0, [], reason),
        ]
    dated = frame[frame["stop_date"].notna()]
    stop_date = pd.to_datetime(dated["stop_date"])
    # grouped on a number (formatting a million dates as text costs seconds), named after
    month = stop_date.dt.year * 100 + stop_date.dt.month
    race = dated["subject_race"]
    known = (race.notna() & (race != "unknown")).astype("int64")
    stop_key = dated["stop_id"] if "stop_id" in dated.columns else dated.index.to_series()
    months = (
        pd.DataFrame(
            {"agency_id": dated["agency_id"], "month": month, "known": known, "stop": stop_key}
        )
        .groupby(["agency_id", "month"], dropna=False)
        .agg(rows=("known", "size"), known=("known", "sum"), stops=("stop", "nunique"))
        .reset_index()
        .sort_values(["agency_id", "month"])
    )
    months["month"] = [f"{m // 100:04d}-{m % 100:02d}" for m in months["month"]]
    months["coverage"] = months["known"] / months["rows"]

    thin_race = months[months["coverage"] < MIN_MONTH_COVERAGE]
    coverage = ExpectationOutcome(
        name=coverage_name,
        column="subject_race",
        severity=WARN,
        success=thin_race.empty,
        unexpected_count=len(thin_race),
        unexpected_examples=format_examples(
            {"agency_id": r.agency_id, "month": r.month, "coverage": round(r.coverage, 3)}
            for r in thin_race.itertuples()
        ),
        description=(
            f"Per agency and month, at least {MIN_MONTH_COVERAGE:.0%} of rows record "
            "subject_race (not 'unknown'); unexpected_count counts agency-months."
        ),
    )

    current_month = today.strftime("%Y-%m")
    thin_volume = months[(months["stops"] < MIN_MONTH_STOPS) & (months["month"] != current_month)]
    volume = ExpectationOutcome(
        name=volume_name,
        column="stop_id",
        severity=WARN,
        success=thin_volume.empty,
        unexpected_count=len(thin_volume),
        unexpected_examples=format_examples(
            {"agency_id": r.agency_id, "month": r.month, "stops": int(r.stops)}
            for r in thin_volume.itertuples()
        ),
        description=(
            f"Per agency and month, at least {MIN_MONTH_STOPS} stops (distinct stop_id; the "
            "month in progress is skipped); unexpected_count counts agency-months."
        ),
    )
    return [coverage, volume]
