{#-
    Casts raw.bwc_recordings: start and end become UTC timestamps through the agency's time zone,
    the linked record ids stay as delivered (the marts hash them into the facts' keys), and
    trigger, category, redaction status and release flag are normalised through raw.value_maps.
-#}
with

source_rows as (

    select * from {{ source('raw', 'bwc_recordings') }}

),

agencies as (

    select * from {{ ref('stg_raw__agencies') }}

),

value_maps as (

    select * from {{ ref('stg_raw__value_maps') }}
    where dataset = 'bwc_recordings'

),

final as (

    select
        -- ids
        cast(source_rows._agency_id as varchar) as agency_id,
        cast(source_rows.source_record_id as varchar) as source_record_id,
        cast(source_rows.officer_id_hash as varchar) as officer_id_hash,
        cast(source_rows.device_id as varchar) as device_id,
        cast(source_rows.call_record_id as varchar) as call_record_id,
        cast(source_rows.stop_record_id as varchar) as stop_record_id,
        cast(source_rows.use_of_force_record_id as varchar) as use_of_force_record_id,
        cast(source_rows.complaint_record_id as varchar) as complaint_record_id,

        -- dimensions
        {{- records_mapped_columns('bwc_recordings') }}

        -- measures
        {{ dbt.safe_cast('source_rows.retention_days', 'integer') }} as retention_days,

        -- timestamps
        {{ dbt.safe_cast('source_rows.started_date', 'date') }} as started_date,
        {{ local_timestamp('source_rows.started_date', 'source_rows.started_time') }} as started_at,
        {{ local_timestamp('source_rows.ended_date', 'source_rows.ended_time') }} as ended_at,
        {{ dbt.safe_cast('source_rows.scheduled_deletion_date', 'date') }} as scheduled_deletion_date,
        {{ dbt.safe_cast('source_rows.deleted_date', 'date') }} as deleted_date,
        {{ dbt.safe_cast('source_rows.released_date', 'date') }} as released_date,

        -- lineage
        cast(source_rows._source_file as varchar) as source_file,
        cast(source_rows._source_row as bigint) as source_row,
        cast(source_rows._file_hash as varchar) as file_hash,
        cast(source_rows._loaded_at as timestamp with time zone) as loaded_at,
        cast(source_rows._load_id as varchar) as load_id

    from source_rows

    left join agencies
        on source_rows._agency_id = agencies.agency_id

    {{ value_map_joins('source_rows', records_value_fields('bwc_recordings').keys() | list) }}

)

select * from final
