with

value_maps as (

    select * from {{ source('raw', 'value_maps') }}

),

normalised as (

    select
        -- ids
        cast(agency_id as varchar) as agency_id,

        -- dimensions
        cast(dataset as varchar) as dataset,
        cast(field as varchar) as field_name,
        lower(trim(cast(source_value as varchar))) as source_value,
        cast(canonical_value as varchar) as canonical_value

    from value_maps

),

final as (

    -- An identical row written twice would fan out every stop that uses the code in the
    -- staging join; conflicting rows are left in and fail the key test instead.
    select distinct * from normalised

)

select * from final
