with

agencies as (

    select * from {{ ref('stg_raw__agencies') }}

),

final as (

    select
        agency_id,
        agency_name,
        ori,
        state,
        time_zone,
        latitude,
        longitude,
        first_year,
        coalesce(reference_group, '{{ var("reference_group") }}') as reference_group

    from agencies

)

select * from final
