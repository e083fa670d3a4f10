{#-
    Residents by agency, year and group: the benchmark of stop, arrest and force rates, as the
    agency supplies it in agency.yml (ACS tables), published so every rate can be recomputed.
-#}

with

population as (

    select * from {{ ref('stg_raw__population') }}

),

final as (

    select
        agency_id,
        population_year,
        subject_race,
        population

    from population

)

select * from final
