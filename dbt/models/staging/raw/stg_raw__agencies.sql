with

agencies as (

    select * from {{ source('raw', 'agencies') }}

),

final as (

    select
        -- ids
        cast(agency_id as varchar) as agency_id,
        cast(ori as varchar) as ori,

        -- dimensions
        cast(agency_name as varchar) as agency_name,
        cast(state as varchar) as state,
        cast(time_zone as varchar) as time_zone,
        lower(trim(cast(reference_group as varchar))) as reference_group,

        -- measures
        cast(latitude as double) as latitude,
        cast(longitude as double) as longitude,
        cast(first_year as integer) as first_year

    from agencies

)

select * from final
