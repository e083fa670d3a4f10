{#-
    Casts raw.complaints and normalises its code fields through raw.value_maps (match on agency, field
    and lower(trim(value))), as stg_raw__use_of_force does: a value the maps do not know, or an
    empty one, becomes 'unknown' (every code field has default_code unknown in
    ingestion/canonical/complaints.yml). Delivered values stay beside as <field>_raw.
-#}
{%- set value_fields = complaints_value_fields('complaints') -%}

with

source_rows as (

    select * from {{ source('raw', 'complaints') }}

),

value_maps as (

    select * from {{ ref('stg_raw__value_maps') }}
    where dataset = 'complaints'

),

mapped as (

    select
        source_rows.*,
        {%- for field in value_fields %}
        map_{{ field }}.canonical_value as {{ field }}_mapped{{ ',' if not loop.last }}
        {%- endfor %}

    from source_rows

    {{ value_map_joins('source_rows', value_fields) }}

),

final as (

    select
        cast(_agency_id as varchar) as agency_id,
        cast(source_record_id as varchar) as source_record_id,
        {{ dbt.safe_cast('received_date', 'date') }} as received_date,
        {{ dbt.safe_cast('incident_date', 'date') }} as incident_date,
        {{ dbt.safe_cast('incident_time', 'time') }} as incident_time,
        {{ dbt.safe_cast('closed_date', 'date') }} as closed_date,
        coalesce(complaint_source_mapped, 'unknown') as complaint_source,
        cast(district as varchar) as district,
        cast(beat as varchar) as beat,
        cast(bwc_recording_record_id as varchar) as bwc_recording_record_id,

        -- delivered values of the mapped fields
        {%- for field in value_fields %}
        cast({{ field }} as varchar) as {{ field }}_raw,
        {%- endfor %}

        -- lineage
        cast(_source_file as varchar) as source_file,
        cast(_source_row as bigint) as source_row,
        cast(_file_hash as varchar) as file_hash,
        cast(_loaded_at as timestamp with time zone) as loaded_at,
        cast(_load_id as varchar) as load_id

    from mapped

)

select * from final
