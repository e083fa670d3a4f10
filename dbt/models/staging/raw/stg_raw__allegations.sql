{#-
    Casts raw.allegations and normalises its code fields through raw.value_maps (match on agency, field
    and lower(trim(value))), as stg_raw__use_of_force does: a value the maps do not know, or an
    empty one, becomes 'unknown' (every code field has default_code unknown in
    ingestion/canonical/allegations.yml). Delivered values stay beside as <field>_raw.
-#}
{%- set value_fields = complaints_value_fields('allegations') -%}

with

source_rows as (

    select * from {{ source('raw', 'allegations') }}

),

value_maps as (

    select * from {{ ref('stg_raw__value_maps') }}
    where dataset = 'allegations'

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
        coalesce({{ dbt.safe_cast('allegation_seq', 'integer') }}, 1) as allegation_seq,
        cast(complaint_record_id as varchar) as complaint_record_id,
        cast(officer_id_hash as varchar) as officer_id_hash,
        coalesce(category_mapped, 'unknown') as category,
        cast(category_detail as varchar) as category_detail,
        coalesce(recommended_finding_mapped, 'unknown') as recommended_finding,
        coalesce(final_finding_mapped, 'unknown') as final_finding,
        coalesce(discipline_mapped, 'unknown') as discipline,

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
