{#-
    Warn (DESIGN.md 3 and 6), as assert_no_unmapped_codes for stops: every code an agency sends
    in its arrests export should be in its value maps. Staging maps an unknown code to
    unknown / other / null so publication goes on; the rows returned here (agency, field, raw
    value, count, first file) tell the agency which `values:` entries its arrests mapping lacks.
    Counted on the current version of each record.
-#}
{{ config(severity='warn', tags=['warn']) }}

{%- set value_fields = arrests_value_fields() -%}

with

arrests as (

    select * from {{ ref('int_arrests_deduplicated') }}

),

value_maps as (

    select * from {{ ref('stg_raw__value_maps') }}
    where dataset = 'arrests'

),

unmapped_values as (

    {%- for field in value_fields %}

    select
        arrests.agency_id,
        '{{ field }}' as field_name,
        lower(trim(arrests.{{ field }}_raw)) as raw_value,
        arrests.source_file

    from arrests

    left join value_maps
        on arrests.agency_id = value_maps.agency_id
        and value_maps.field_name = '{{ field }}'
        and lower(trim(arrests.{{ field }}_raw)) = value_maps.source_value

    where arrests.{{ field }}_raw is not null
        and value_maps.source_value is null
    {{ 'union all' if not loop.last }}
    {%- endfor %}

),

final as (

    select
        agency_id,
        field_name,
        raw_value,
        count(*) as row_count,
        min(source_file) as first_source_file

    from unmapped_values
    group by agency_id, field_name, raw_value

)

select * from final
