with

agencies as (

    select * from {{ source('raw', 'agencies') }}

),

stops_value_maps as (

    select * from {{ ref('stg_raw__value_maps') }}
    where dataset = 'stops'

),

-- Fingerprint of everything outside raw.stops that shapes an agency's stops (its stops value
-- maps and time zone). The incremental stops models rebuild an agency's rows when it changes,
-- e.g. when the agency adds the map for a code that was unknown.
stops_mapping_hashes as (

    select
        agencies.agency_id,
        md5(
            coalesce(cast(agencies.time_zone as varchar), '')
            || '|'
            || coalesce(
                string_agg(
                    stops_value_maps.field_name
                    || '=' || stops_value_maps.source_value
                    || '>' || stops_value_maps.canonical_value,
                    ';'
                    order by
                        stops_value_maps.field_name,
                        stops_value_maps.source_value,
                        stops_value_maps.canonical_value
                ),
                ''
            )
        ) as stops_mapping_hash

    from agencies

    left join stops_value_maps
        on agencies.agency_id = stops_value_maps.agency_id

    group by agencies.agency_id, agencies.time_zone

),

final as (

    select
        -- ids
        cast(agencies.agency_id as varchar) as agency_id,
        cast(agencies.ori as varchar) as ori,

        -- dimensions
        cast(agencies.agency_name as varchar) as agency_name,
        cast(agencies.state as varchar) as state,
        cast(agencies.city as varchar) as city,
        cast(agencies.time_zone as varchar) as time_zone,
        lower(trim(cast(agencies.reference_group as varchar))) as reference_group,

        -- measures
        cast(agencies.latitude as double precision) as latitude,
        cast(agencies.longitude as double precision) as longitude,
        cast(agencies.first_year as integer) as first_year,

        -- lineage
        stops_mapping_hashes.stops_mapping_hash

    from agencies

    left join stops_mapping_hashes
        on agencies.agency_id = stops_mapping_hashes.agency_id

)

select * from final
