{#-
    Blocking date range (DESIGN.md 6): a stop cannot be dated after today in the agency's own
    time zone (a UTC "today" would reject an evening stop in Asia or accept a future one in the
    Americas) nor before the first year the agency can send, which catches two-digit-year and
    day/month format slips.
-#}
{#- dim_agencies is only the lookup: attach the check to fct_stops in Dagster. -#}
{{ config(tags=['blocking'], meta={'dagster': {'ref': {'name': 'fct_stops'}}}) }}

with

stops as (

    select * from {{ ref('fct_stops') }}

),

agencies as (

    select * from {{ ref('dim_agencies') }}

),

-- today in each agency's zone, once per agency rather than once per stop
agency_bounds as (

    select
        agency_id,
        first_year,
        cast(timezone(time_zone, current_timestamp) as date) as local_today

    from agencies

),

final as (

    select
        stops.agency_id,
        stops.source_record_id,
        stops.person_seq,
        stops.source_file,
        stops.source_row,
        stops.stop_date,
        agency_bounds.first_year,
        case
            when stops.stop_date > agency_bounds.local_today then 'after today'
            else 'before first_year'
        end as problem

    from stops

    inner join agency_bounds
        on stops.agency_id = agency_bounds.agency_id

    where stops.stop_date > agency_bounds.local_today
        or stops.stop_year < agency_bounds.first_year

)

select * from final
