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

final as (

    select
        stops.agency_id,
        stops.source_record_id,
        stops.person_seq,
        stops.source_file,
        stops.source_row,
        stops.stop_date,
        agencies.first_year,
        case
            when stops.stop_date > cast(timezone(agencies.time_zone, current_timestamp) as date)
                then 'after today'
            else 'before first_year'
        end as problem

    from stops

    inner join agencies
        on stops.agency_id = agencies.agency_id

    where stops.stop_date > cast(timezone(agencies.time_zone, current_timestamp) as date)
        or stops.stop_year < agencies.first_year

)

select * from final
