{#-
    Casts raw.school_incidents and normalises every code and flag through raw.value_maps (codes
    unknown, flags null when empty or unmapped; delivered values beside as *_raw).
-#}
with

source_rows as (

    select * from {{ source('raw', 'school_incidents') }}

),

agencies as (

    select * from {{ ref('stg_raw__agencies') }}

),

value_maps as (

    select * from {{ ref('stg_raw__value_maps') }}
    where dataset = 'school_incidents'

),

final as (

    select
        -- ids
        cast(source_rows._agency_id as varchar) as agency_id,
        cast(source_rows.source_record_id as varchar) as source_record_id,
        cast(source_rows.officer_id_hash as varchar) as officer_id_hash,
        cast(source_rows.school_code as varchar) as school_code,

        -- dimensions
        {{- records_mapped_columns('school_incidents') }}

        -- timestamps
        {{ dbt.safe_cast('source_rows.incident_date', 'date') }} as incident_date,
        {{ dbt.safe_cast('source_rows.incident_time', 'time') }} as incident_time,
        {{ local_timestamp('source_rows.incident_date', 'source_rows.incident_time') }} as incident_at,

        -- lineage
        cast(source_rows._source_file as varchar) as source_file,
        cast(source_rows._source_row as bigint) as source_row,
        cast(source_rows._file_hash as varchar) as file_hash,
        cast(source_rows._loaded_at as timestamp with time zone) as loaded_at,
        cast(source_rows._load_id as varchar) as load_id

    from source_rows

    left join agencies
        on source_rows._agency_id = agencies.agency_id

    {{ value_map_joins('source_rows', records_value_fields('school_incidents').keys() | list) }}

)

select * from final
