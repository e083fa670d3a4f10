{#-
    Warn (DESIGN.md 3), as assert_no_unmapped_arrest_codes: every code an agency sends in its
    incidents export should be in its value maps. Staging maps an unknown code to unknown / null
    so publication goes on; the rows returned here (agency, field, raw value, count, first file)
    tell the agency which `values:` entries its incidents mapping lacks. Counted on the current
    version of each incident.
-#}
{{ config(severity='warn', tags=['warn']) }}

{%- set value_fields = incidents_value_fields() -%}

with

incidents as (

    select * from {{ ref('int_incidents_deduplicated') }}

),

value_maps as (

    select * from {{ ref('stg_raw__value_maps') }}
    where dataset = 'incidents'

),

unmapped_values as (

    {%- for field in value_fields %}

    select
        incidents.agency_id,
        '{{ field }}' as field_name,
        lower(trim(incidents.{{ field }}_raw)) as raw_value,
        incidents.source_file

    from incidents

    left join value_maps
        on incidents.agency_id = value_maps.agency_id
        and value_maps.field_name = '{{ field }}'
        and lower(trim(incidents.{{ field }}_raw)) = value_maps.source_value

    where incidents.{{ field }}_raw is not null
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
