{#-
    Casts raw.bwc_audit_events: the event's local moment becomes a UTC timestamp, the event type
    is normalised through raw.value_maps; the actor only as its salted hash.
-#}
with

source_rows as (

    select * from {{ source('raw', 'bwc_audit_events') }}

),

agencies as (

    select * from {{ ref('stg_raw__agencies') }}

),

value_maps as (

    select * from {{ ref('stg_raw__value_maps') }}
    where dataset = 'bwc_audit_events'

),

final as (

    select
        -- ids
        cast(source_rows._agency_id as varchar) as agency_id,
        cast(source_rows.source_record_id as varchar) as source_record_id,
        cast(source_rows.recording_record_id as varchar) as recording_record_id,
        cast(source_rows.actor_id_hash as varchar) as actor_id_hash,

        -- dimensions
        {{- records_mapped_columns('bwc_audit_events') }}

        -- timestamps
        {{ dbt.safe_cast('source_rows.event_date', 'date') }} as event_date,
        {{ local_timestamp('source_rows.event_date', 'source_rows.event_time') }} as event_at,

        -- lineage
        cast(source_rows._source_file as varchar) as source_file,
        cast(source_rows._source_row as bigint) as source_row,
        cast(source_rows._file_hash as varchar) as file_hash,
        cast(source_rows._loaded_at as timestamp with time zone) as loaded_at,
        cast(source_rows._load_id as varchar) as load_id

    from source_rows

    left join agencies
        on source_rows._agency_id = agencies.agency_id

    {{ value_map_joins('source_rows', records_value_fields('bwc_audit_events').keys() | list) }}

)

select * from final
