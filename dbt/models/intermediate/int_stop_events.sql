{#-
    One row per stop (fct_stops has one per person stopped): its agency, year and district, the
    earliest when the people of one stop disagree. Read by mart_bwc_compliance (stops with a
    recording) and int_decision_log_measures (its rules): grouping 10 million person-stops by
    stop costs 2-3 s on its own (9 s beside another model in a full build), once a night
    instead of once per reader.

    Incremental: a night groups again only the stops with a person-row fct_stops refreshed
    (select_stops_to_refresh on fct_stops: rows loaded since the newest loaded_at here, and
    every stop of an agency whose mapping hash changed), all of each such stop's people, old
    and new (a corrected person can move the stop's year). Grouping every stop again cost
    6.8 s of a narrow night at 10 million person-stops. A full refresh gives the same table.
-#}
{{
    config(
        materialized='incremental',
        unique_key='stop_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

with

stops as (

    select * from {{ ref('fct_stops') }}

),

{% if is_incremental() -%}
refreshed_stops as (

    select distinct agency_id, stop_id
    from ({{ select_stops_to_refresh(ref('fct_stops'), ref('fct_stops')) }}) as refreshed

),

stops_to_group as (

    select stops.*
    from stops
    inner join refreshed_stops
        on stops.agency_id = refreshed_stops.agency_id
        and stops.stop_id = refreshed_stops.stop_id

),
{%- else -%}
stops_to_group as (

    select * from stops

),
{%- endif %}

final as (

    -- loaded_at and mapping_hash: what select_stops_to_refresh compares on the next night.
    -- Every row of an agency in fct_stops has its current mapping hash (a remap rewrites them
    -- all), so any row's will do: max() of the text cost 15 s of a 10-million-stop build.
    select
        agency_id,
        stop_id,
        min(stop_year) as period,
        min(district) as district,
        max(loaded_at) as loaded_at,
        {{ dbt.any_value('mapping_hash') }} as mapping_hash

    from stops_to_group
    group by agency_id, stop_id

)

select * from final
