{#-
    One row per stop (fct_stops has one per person stopped): its agency, year and district, the
    earliest when the people of one stop disagree. Read by mart_bwc_compliance (stops with a
    recording) and int_decision_log_measures (its rules): grouping 10 million person-stops by
    stop costs about 1.7 s, once a night instead of once per reader.
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
