{#-
    Casts raw.complainants and normalises its code fields through raw.value_maps (match on agency, field
    and lower(trim(value))), as stg_raw__use_of_force does: a value the maps do not know, or an
    empty one, becomes 'unknown' (every code field has default_code unknown in
    ingestion/canonical/complainants.yml). Delivered values stay beside as <field>_raw.
-#}
{%- set value_fields = complaints_value_fields('complainants') -%}

with

source_rows as (

    select * from {{ source('raw', 'complainants') }}

),

value_maps as (

    select * from {{ ref('stg_raw__value_maps') }}
    where dataset = 'complainants'

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
        cast(complaint_record_id as varchar) as complaint_record_id,
        coalesce({{ dbt.safe_cast('complainant_seq', 'integer') }}, 1) as complainant_seq,
        coalesce(subject_race_mapped, 'unknown') as subject_race,
        coalesce(subject_sex_mapped, 'unknown') as subject_sex,
        case
            when {{ dbt.safe_cast('subject_age', 'integer') }} between 10 and 110
                then {{ dbt.safe_cast('subject_age', 'integer') }}
        end as subject_age,

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
