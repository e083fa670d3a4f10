with

cadences as (

    select * from {{ source('raw', 'cadences') }}

),

final as (

    select
        -- ids
        cast(agency_id as varchar) as agency_id,

        -- dimensions
        cast(dataset as varchar) as dataset,
        cast(expected_cadence as varchar) as expected_cadence,

        -- measures
        cast(cadence_days as integer) as cadence_days

    from cadences

)

select * from final
