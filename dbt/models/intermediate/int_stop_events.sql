{#-
    One row per stop (fct_stops has one per person stopped): its agency, year and district, the
    earliest when the people of one stop disagree. Read by mart_bwc_compliance (stops with a
    recording) and int_decision_log_measures (its rules): grouping 10 million person-stops by
    stop costs 2-3 s on its own (9 s beside another model in a full build), once a night
    instead of once per reader.
-#}

with

stops as (

    select * from {{ ref('fct_stops') }}

),

final as (

    select
        agency_id,
        stop_id,
        min(stop_year) as period,
        min(district) as district

    from stops
    group by agency_id, stop_id

)

select * from final
