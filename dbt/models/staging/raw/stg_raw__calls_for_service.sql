{#-
    Casts raw.calls_for_service: the four local moments of a call become UTC timestamps through
    the agency's time zone (records_mapped_columns / local_timestamp), priority an integer in
    1-9 (else null), and source, disposition and the mental-health flag are normalised through
    raw.value_maps (unknown / null when empty or unmapped; delivered values beside as *_raw).
-#}
with

source_rows as (

    select * from {{ source('raw', 'calls_for_service') }}

),

agencies as (

    select * from {{ ref('stg_raw__agencies') }}

),

value_maps as (

    select * from {{ ref('stg_raw__value_maps') }}
    where dataset = 'calls_for_service'

),

final as (

    select
        -- ids
        cast(source_rows._agency_id as varchar) as agency_id,
        cast(source_rows.source_record_id as varchar) as source_record_id,
        cast(source_rows.officer_id_hash as varchar) as officer_id_hash,

        -- dimensions
        cast(source_rows.call_type_initial as varchar) as call_type_initial,
        cast(source_rows.call_type_final as varchar) as call_type_final,
        case
            when {{ dbt.safe_cast('source_rows.priority', 'integer') }} between 1 and 9
                then {{ dbt.safe_cast('source_rows.priority', 'integer') }}
        end as priority,
        cast(source_rows.district as varchar) as district,
        cast(source_rows.beat as varchar) as beat,
        {{- records_mapped_columns('calls_for_service') }}

        -- timestamps
        {{ dbt.safe_cast('source_rows.received_date', 'date') }} as received_date,
        {{ local_timestamp('source_rows.received_date', 'source_rows.received_time') }} as received_at,
        {{ local_timestamp('source_rows.dispatched_date', 'source_rows.dispatched_time') }} as dispatched_at,
        {{ local_timestamp('source_rows.arrived_date', 'source_rows.arrived_time') }} as arrived_at,
        {{ local_timestamp('source_rows.cleared_date', 'source_rows.cleared_time') }} as cleared_at,

        -- lineage
        cast(source_rows._source_file as varchar) as source_file,
        cast(source_rows._source_row as bigint) as source_row,
        cast(source_rows._file_hash as varchar) as file_hash,
        cast(source_rows._loaded_at as timestamp with time zone) as loaded_at,
        cast(source_rows._load_id as varchar) as load_id

    from source_rows

    left join agencies
        on source_rows._agency_id = agencies.agency_id

    {{ value_map_joins('source_rows', records_value_fields('calls_for_service').keys() | list) }}

)

select * from final
