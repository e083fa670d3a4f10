{#-
    Per agency and year: people killed by police in the third-party record (ref_fatal_force, the
    Washington Post) set against the agency's own use-of-force records.

    Matching, as the reference file allows (it names no agency, only the Post's agency ids, whose
    names are in a file not delivered): a death is the agency's when its state equals the
    agency's state and its city the agency's `city` (agency.yml), and it falls within the period
    the agency's force records cover (first to last incident date), so a year the agency sent no
    records is not counted as missing. The agency's deadly-force incidents are those of force
    level ois or with a firearm discharged. A death is matched when one of them falls within one
    day of it (the Post's date and the agency's local date can differ around midnight).
    Most police shootings are not fatal, so unmatched deadly-force incidents are expected; an
    unmatched death is a fatal shooting the agency's records may lack (or another agency's in the
    same city: the city match cannot tell them apart).
-#}
with

agencies as (

    select agency_id, state, city from {{ ref('stg_raw__agencies') }}
    where city is not null

),

fatal_force as (

    select * from {{ ref('ref_fatal_force') }}

),

force_incidents as (

    select * from {{ ref('fct_use_of_force_incidents') }}

),

firearm_incidents as (

    select distinct uof_id from {{ ref('fct_use_of_force_actions') }}
    where force_type = 'firearm_discharged'

),

coverage as (

    select
        agency_id,
        min(incident_date) as first_date,
        max(incident_date) as last_date

    from force_incidents
    group by agency_id

),

deadly_force as (

    select
        force_incidents.agency_id,
        force_incidents.uof_id,
        force_incidents.incident_date

    from force_incidents

    left join firearm_incidents
        on force_incidents.uof_id = firearm_incidents.uof_id

    where force_incidents.highest_force_level = 'ois'
        or firearm_incidents.uof_id is not null

),

agency_deaths as (

    select
        agencies.agency_id,
        fatal_force.fatal_force_id,
        fatal_force.incident_date

    from fatal_force

    inner join agencies
        on fatal_force.state = upper(agencies.state)
        and lower(trim(fatal_force.city)) = lower(trim(agencies.city))

    inner join coverage
        on agencies.agency_id = coverage.agency_id
        and fatal_force.incident_date between coverage.first_date and coverage.last_date

),

deaths_matched as (

    select
        agency_deaths.agency_id,
        agency_deaths.fatal_force_id,
        agency_deaths.incident_date,
        count(deadly_force.uof_id) > 0 as is_matched

    from agency_deaths

    left join deadly_force
        on agency_deaths.agency_id = deadly_force.agency_id
        and abs({{ dbt.datediff('agency_deaths.incident_date', 'deadly_force.incident_date', 'day') }}) <= 1

    group by agency_deaths.agency_id, agency_deaths.fatal_force_id, agency_deaths.incident_date

),

deadly_force_matched as (

    select
        deadly_force.agency_id,
        deadly_force.uof_id,
        deadly_force.incident_date,
        count(agency_deaths.fatal_force_id) > 0 as is_matched

    from deadly_force

    left join agency_deaths
        on deadly_force.agency_id = agency_deaths.agency_id
        and abs({{ dbt.datediff('agency_deaths.incident_date', 'deadly_force.incident_date', 'day') }}) <= 1

    group by deadly_force.agency_id, deadly_force.uof_id, deadly_force.incident_date

),

agency_years as (

    select
        coverage.agency_id,
        cast(years.year as integer) as year,
        greatest(coverage.first_date, make_date(cast(years.year as integer), 1, 1))
            as period_start,
        least(coverage.last_date, make_date(cast(years.year as integer), 12, 31)) as period_end

    from coverage

    cross join lateral (
        select {{ series(
            'cast(extract(year from coverage.first_date) as integer)',
            'cast(extract(year from coverage.last_date) as integer)'
        ) }} as year
    ) as years

    where coverage.agency_id in (select agency_id from agencies)

),

deaths_by_year as (

    select
        agency_id,
        cast(extract(year from incident_date) as integer) as year,
        count(*) as reference_fatal_count,
        count(*) filter (where is_matched) as matched_fatal_count

    from deaths_matched
    group by agency_id, cast(extract(year from incident_date) as integer)

),

deadly_force_by_year as (

    select
        agency_id,
        cast(extract(year from incident_date) as integer) as year,
        count(*) as agency_deadly_force_count,
        count(*) filter (where is_matched) as agency_deadly_force_matched_count

    from deadly_force_matched
    group by agency_id, cast(extract(year from incident_date) as integer)

),

final as (

    select
        agency_years.agency_id,
        agency_years.year,
        agency_years.period_start,
        agency_years.period_end,
        coalesce(deaths_by_year.reference_fatal_count, 0) as reference_fatal_count,
        coalesce(deaths_by_year.matched_fatal_count, 0) as matched_fatal_count,
        coalesce(deaths_by_year.reference_fatal_count, 0)
            - coalesce(deaths_by_year.matched_fatal_count, 0) as unmatched_fatal_count,
        coalesce(deadly_force_by_year.agency_deadly_force_count, 0) as agency_deadly_force_count,
        coalesce(deadly_force_by_year.agency_deadly_force_matched_count, 0)
            as agency_deadly_force_matched_count

    from agency_years

    left join deaths_by_year
        on agency_years.agency_id = deaths_by_year.agency_id
        and agency_years.year = deaths_by_year.year

    left join deadly_force_by_year
        on agency_years.agency_id = deadly_force_by_year.agency_id
        and agency_years.year = deadly_force_by_year.year

)

select * from final
