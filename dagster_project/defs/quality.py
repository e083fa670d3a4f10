"""Great Expectations suites as blocking asset checks on the public facts."""

import os

import dagster as dg

from dagster_project import warehouse
from ingestion import config

FCT_STOPS = dg.AssetKey(["marts", "fct_stops"])
FCT_ARRESTS = dg.AssetKey(["marts", "fct_arrests"])

# The batch to validate: whole agency-months touched by the latest load (the GX month rules need
# whole months), so a nightly run validates what it brought, not all history (issue 7).
TOUCHED_MONTHS_SQL = """
with latest as (
    select max(load_id) as load_id from raw.files where status = 'loaded'
),
touched as (
    select distinct agency_id, date_trunc('month', stop_date) as month
    from marts.fct_stops
    where load_id = (select load_id from latest)
)
"""
# Its agency-months with their rows, in order: the parts it is validated in.
BATCH_MONTHS_SQL = (
    TOUCHED_MONTHS_SQL
    + """
select touched.agency_id, touched.month, count(*) as stops
from marts.fct_stops as fct_stops
join touched
    on fct_stops.agency_id = touched.agency_id
    and date_trunc('month', fct_stops.stop_date) = touched.month
group by touched.agency_id, touched.month
order by touched.agency_id, touched.month
"""
)
# One part: the suite's columns of the batch's agency-months from (agency, month) to (agency, month).
BATCH_PART_SQL = (
    TOUCHED_MONTHS_SQL
    + """
select {columns}
from marts.fct_stops as fct_stops
join touched
    on fct_stops.agency_id = touched.agency_id
    and date_trunc('month', fct_stops.stop_date) = touched.month
where (touched.agency_id > ? or (touched.agency_id = ? and touched.month >= ?))
  and (touched.agency_id < ? or (touched.agency_id = ? and touched.month <= ?))
"""
)
# Rows of fct_stops held in pandas at once: a full run's batch is all history (10 million rows
# are ~2.5 GB as a frame, more under GX's filters), validated in parts of whole agency-months.
STOPS_PART_ROWS = 1_000_000


def batch_parts(months: list[tuple], limit: int = STOPS_PART_ROWS) -> list[tuple]:
    """Consecutive (agency, month, rows) groups packed into parts of at most `limit` rows (an
    agency-month larger than that is a part alone): [(first agency, month, last agency, month)]."""
    parts, start, rows = [], None, 0
    for index, (*_, count) in enumerate(months):
        if start is not None and rows + count > limit:
            parts.append((*months[start][:2], *months[index - 1][:2]))
            start, rows = None, 0
        if start is None:
            start = index
        rows += count
    if start is not None:
        parts.append((*months[start][:2], *months[-1][:2]))
    return parts


def _suite_result(context, asset_key: str, check_name: str, result, rows: int):
    """Record every outcome in quality.check_results (the publication's gate) and return the
    Dagster result: failed when any blocking expectation failed."""
    warehouse.record_checks(
        context.op_execution_context.run_id,
        [
            {
                "asset_key": asset_key,
                "check_name": f"{check_name}.{outcome.name}",
                "severity": outcome.severity,
                "passed": outcome.success,
                "description": outcome.description,
                "details": {
                    "column": outcome.column,
                    "unexpected_count": outcome.unexpected_count,
                    "examples": outcome.unexpected_examples,
                },
            }
            for outcome in result.results
        ],
    )
    failures = result.blocking_failures
    return dg.AssetCheckResult(
        passed=result.success_blocking,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(f"{f.name}: {f.unexpected_count} rows" for f in failures) or None,
        metadata={
            "rows_validated": rows,
            "blocking_failures": [f.name for f in failures],
            "warn_failures": [f.name for f in result.warn_failures],
        },
    )


@dg.asset_check(
    asset=FCT_STOPS,
    name="gx_stops_suite",
    blocking=True,
    description="Great Expectations suite `stops` (expectations/stops.py): keys, value domains, "
    "dates, OPP search logic (blocking); coverage and volume per agency-month (warn).",
)
def gx_stops_suite(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    with warehouse.connect(read_only=True) as con:
        result = validate_stops_batch(con, log=context.log.info)
    return _suite_result(context, "marts/fct_stops", "gx_stops_suite", result, result.row_count)


def validate_stops_batch(con, part_rows: int | None = None, log=None):
    """The stops suite on the latest load's agency-months, in parts of at most `part_rows` rows
    (default STOPS_PART_ROWS, or LANTERN_STOPS_PART_ROWS), its results merged into one."""
    from expectations.core import merge_results
    from expectations.stops import SUITE_NAME, suite_columns, validate_stops

    part_rows = part_rows or int(os.environ.get("LANTERN_STOPS_PART_ROWS", STOPS_PART_ROWS))
    first_years = {a: config.load_agency(a).first_year for a in config.agency_ids()}
    not_recorded = {
        a: set(config.load_mapping(a, "stops").not_recorded) for a in config.onboarded("stops")
    }
    columns = ", ".join(f"fct_stops.{c}" for c in suite_columns())
    sql = BATCH_PART_SQL.format(columns=columns)
    parts = batch_parts(con.execute(BATCH_MONTHS_SQL).fetchall(), part_rows)
    results = []
    for number, (agency_a, month_a, agency_b, month_b) in enumerate(parts, start=1):
        frame = warehouse.frame(
            con, sql, [agency_a, agency_a, month_a, agency_b, agency_b, month_b]
        )
        if len(parts) > 1 and log:
            log(
                f"stops suite, part {number} of {len(parts)}: {len(frame):,} rows "
                f"({agency_a} {month_a:%Y-%m} to {agency_b} {month_b:%Y-%m})"
            )
        results.append(
            validate_stops(frame, agency_first_years=first_years, not_recorded=not_recorded)
        )
        del frame
    if not parts:  # the latest load brought no stops: the suite runs on no rows
        frame = warehouse.frame(
            con, f"select {columns} from marts.fct_stops as fct_stops where 1 = 0"
        )
        results.append(
            validate_stops(frame, agency_first_years=first_years, not_recorded=not_recorded)
        )
    return merge_results(SUITE_NAME, results)


# The arrests the latest load brought (the arrests suite has no month rules, so no whole months).
LATEST_ARRESTS_SQL = """
with latest as (
    select max(load_id) as load_id from raw.files where status = 'loaded'
)
select * from marts.fct_arrests
where load_id = (select load_id from latest)
"""


@dg.asset_check(
    asset=FCT_ARRESTS,
    name="gx_arrests_suite",
    blocking=True,
    description="Great Expectations suite `arrests` (expectations/arrests.py): keys, value "
    "domains, dates and ages (blocking).",
)
def gx_arrests_suite(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    from expectations.arrests import ROW_KEY, validate_arrests

    with warehouse.connect(read_only=True) as con:
        result = validate_in_key_parts(con, LATEST_ARRESTS_SQL, ROW_KEY, validate_arrests)
    return _suite_result(context, "marts/fct_arrests", "gx_arrests_suite", result, result.row_count)


# Rows of a record-type batch held in pandas at once (a first night's batch is all history: 2.5
# million calls for service were 6.4 GB as one frame).
RECORD_PART_ROWS = 500_000


def validate_in_key_parts(con, batch_sql: str, key: str, validate, part_rows: int | None = None):
    """A suite without month rules on `batch_sql`'s rows, in parts of about `part_rows` rows
    (RECORD_PART_ROWS, or LANTERN_RECORD_PART_ROWS) split by a hash of the row key: the rows of
    one key always share a part, so uniqueness is checked exactly, and the parts' results merge
    into the whole batch's (counts summed, examples from the first parts)."""
    from expectations.core import merge_results

    part_rows = part_rows or int(os.environ.get("LANTERN_RECORD_PART_ROWS", RECORD_PART_ROWS))
    rows = con.execute(f"select count(*) from ({batch_sql}) as batch").fetchone()[0]
    parts = max(1, -(-rows // part_rows))
    if parts == 1:
        return validate(warehouse.frame(con, batch_sql))
    results = [
        validate(
            warehouse.frame(
                con, f"select * from ({batch_sql}) as batch where hash({key}) % {parts} = {part}"
            )
        )
        for part in range(parts)
    ]
    return merge_results(results[0].suite, results)


# --- Suites over several related facts (incidents, use of force, complaints) --------------------

FCT_INCIDENTS = dg.AssetKey(["marts", "fct_incidents"])
FCT_INCIDENT_OFFENSES = dg.AssetKey(["marts", "fct_incident_offenses"])
FCT_USE_OF_FORCE = {
    name: dg.AssetKey(["marts", f"fct_use_of_force_{name}"])
    for name in ("incidents", "subjects", "officers", "actions")
}
FCT_COMPLAINTS = dg.AssetKey(["marts", "fct_complaints"])
FCT_ALLEGATIONS = dg.AssetKey(["marts", "fct_allegations"])
FCT_COMPLAINANTS = dg.AssetKey(["marts", "fct_complainants"])

# The offense lines the latest load brought, with their incidents: those of the latest load and
# any other an offense names (so an offense pointing at no incident is caught, not filtered out).
LATEST_OFFENSES_SQL = """
with latest as (
    select max(load_id) as load_id from raw.files where status = 'loaded'
)
select * from marts.fct_incident_offenses
where load_id = (select load_id from latest)
"""
LATEST_INCIDENTS_SQL = """
with latest as (
    select max(load_id) as load_id from raw.files where status = 'loaded'
)
select * from marts.fct_incidents
where load_id = (select load_id from latest)
   or incident_id in (
       select incident_id from marts.fct_incident_offenses
       where load_id = (select load_id from latest)
   )
"""


@dg.asset_check(
    asset=FCT_INCIDENTS,
    name="gx_incidents_suite",
    blocking=True,
    additional_deps=[FCT_INCIDENT_OFFENSES],
    description="Great Expectations suite `incidents` (expectations/incidents.py): keys, NIBRS "
    "domains, dates, every offense line of an existing incident (blocking).",
)
def gx_incidents_suite(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    from expectations.incidents import validate_incidents

    with warehouse.connect(read_only=True) as con:
        offenses = warehouse.frame(con, LATEST_OFFENSES_SQL)
        incidents = warehouse.frame(con, LATEST_INCIDENTS_SQL)
    result = validate_incidents(incidents, offenses)
    return _suite_result(
        context, "marts/fct_incidents", "gx_incidents_suite", result, result.row_count
    )


@dg.asset_check(
    asset=FCT_USE_OF_FORCE["incidents"],
    name="gx_use_of_force_suite",
    blocking=True,
    additional_deps=[FCT_USE_OF_FORCE[n] for n in ("subjects", "officers", "actions")],
    description="Great Expectations suite `use_of_force` (expectations/use_of_force.py): keys, "
    "domains, dates, ages, every subject, officer and action of an existing incident (blocking).",
)
def gx_use_of_force_suite(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    from expectations.use_of_force import validate_use_of_force

    # Force reports are thousands a year per agency: the whole facts, so every link is checked.
    with warehouse.connect(read_only=True) as con:
        frames = {
            name: warehouse.frame(con, f"select * from marts.fct_use_of_force_{name}")
            for name in FCT_USE_OF_FORCE
        }
    result = validate_use_of_force(frames)
    return _suite_result(
        context,
        "marts/fct_use_of_force_incidents",
        "gx_use_of_force_suite",
        result,
        result.row_count,
    )


@dg.asset_check(
    asset=FCT_COMPLAINTS,
    name="gx_complaints_suite",
    blocking=True,
    additional_deps=[FCT_ALLEGATIONS, FCT_COMPLAINANTS],
    description="Great Expectations suite `complaints` (expectations/complaints.py): keys, "
    "finding and discipline domains, dates, status, links to complaints (blocking); findings on "
    "open complaints and date order (warn).",
)
def gx_complaints_suite(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    from expectations.complaints import validate_complaints

    # Complaints are a few thousand a year per agency: the whole facts, so every link is checked.
    with warehouse.connect(read_only=True) as con:
        frames = [
            warehouse.frame(con, f"select * from marts.{name}")
            for name in ("fct_complaints", "fct_allegations", "fct_complainants")
        ]
    result = validate_complaints(*frames)
    return _suite_result(
        context, "marts/fct_complaints", "gx_complaints_suite", result, result.row_count
    )


# --- the record types of CANONICAL-MODEL b5-b8: one blocking GX suite per fact ---------------------

# fact -> (expectations module, validate function, row key, what the suite checks). Each
# validates the rows the latest load brought, as gx_arrests_suite does, in parts by key (none of
# these suites has month rules).
RECORD_SUITES = {
    "fct_calls_for_service": (
        "expectations.calls_for_service",
        "validate_calls_for_service",
        "call_id",
        "keys, value domains, priority, dates, and the order received <= dispatched <= arrived "
        "<= cleared",
    ),
    "fct_bwc_recordings": (
        "expectations.bwc",
        "validate_bwc_recordings",
        "recording_id",
        "keys, value domains, end after start, deletion and release after recording, deletion "
        "flag consistent",
    ),
    "fct_bwc_audit_events": (
        "expectations.bwc",
        "validate_bwc_audit_events",
        "audit_event_id",
        "keys, the recording named, event types, dates",
    ),
    "fct_school_incidents": (
        "expectations.school",
        "validate_school_incidents",
        "school_incident_id",
        "keys, value domains, dates, school-discipline flag consistent with the reason, arrest "
        "flags consistent with the outcome",
    ),
    "fct_survey_responses": (
        "expectations.surveys",
        "validate_survey_responses",
        "response_id",
        "keys, value domains, dates",
    ),
    "fct_survey_item_responses": (
        "expectations.surveys",
        "validate_survey_item_responses",
        "item_response_id",
        "keys, constructs, Likert answers and scores within the item's scale",
    ),
}


def _record_suite_check(
    fact: str, module: str, function: str, key: str, what: str
) -> dg.AssetChecksDefinition:
    suite = function.removeprefix("validate_")
    check_name = f"gx_{suite}_suite"

    @dg.asset_check(
        asset=dg.AssetKey(["marts", fact]),
        name=check_name,
        blocking=True,
        description=f"Great Expectations suite `{suite}` ({module.replace('.', '/')}.py): {what} "
        "(blocking).",
    )
    def _check(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        import importlib

        validate = getattr(importlib.import_module(module), function)
        batch = f"""
            with latest as (
                select max(load_id) as load_id from raw.files where status = 'loaded'
            )
            select * from marts.{fact}
            where load_id = (select load_id from latest)
        """
        with warehouse.connect(read_only=True) as con:
            result = validate_in_key_parts(con, batch, key, validate)
        return _suite_result(context, f"marts/{fact}", check_name, result, result.row_count)

    return _check


record_suite_checks = [
    _record_suite_check(fact, module, function, key, what)
    for fact, (module, function, key, what) in RECORD_SUITES.items()
]
