with

population as (

    select * from {{ source('raw', 'population') }}

),

final as (

    select
        -- ids
        cast(agency_id as varchar) as agency_id,

        -- dimensions
        cast(year as integer) as population_year,
        lower(trim(cast(subject_race as varchar))) as subject_race,

        -- measures
        cast(population as bigint) as population

    from population

)

select * from final
