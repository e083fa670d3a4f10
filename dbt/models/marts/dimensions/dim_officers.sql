{#-
    One row per officer (salted hash only, never the agency's id) per agency, with the activity
    each record type attributes to them: the key for unit- and officer-level measures without
    publishing who the officer is.
-#}

with

stops as (

    select agency_id, officer_id_hash, stop_date as activity_date, 'stop' as activity
    from {{ ref('fct_stops') }}
    where officer_id_hash is not null

),

arrests as (

    select agency_id, officer_id_hash, arrest_date as activity_date, 'arrest' as activity
    from {{ ref('fct_arrests') }}
    where officer_id_hash is not null

),

force_reports as (

    select
        officers.agency_id,
        officers.officer_id_hash,
        incidents.incident_date as activity_date,
        'use_of_force' as activity
    from {{ ref('fct_use_of_force_officers') }} as officers
    inner join {{ ref('fct_use_of_force_incidents') }} as incidents
        on officers.uof_id = incidents.uof_id
    where officers.officer_id_hash is not null

),

activity as (

    select * from stops
    union all
    select * from arrests
    union all
    select * from force_reports

),

final as (

    select
        md5(agency_id || '|' || officer_id_hash) as officer_key,
        agency_id,
        officer_id_hash,
        min(activity_date) as first_activity_date,
        max(activity_date) as last_activity_date,
        count(*) filter (where activity = 'stop') as stops,
        count(*) filter (where activity = 'arrest') as arrests,
        count(*) filter (where activity = 'use_of_force') as use_of_force_reports

    from activity
    group by agency_id, officer_id_hash

)

select * from final
