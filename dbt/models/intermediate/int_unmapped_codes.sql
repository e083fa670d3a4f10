{#-
    Codes and boolean spellings the value maps do not know (DESIGN.md 3: unmapped codes never
    vanish). Counted on the current version of each record, so a record the agency re-sent with
    a valid code stops counting. raw_value is the lower-cased, trimmed lookup key: the exact
    source_value a `values:` entry of the agency's mapping file must add.
-#}
{%- set value_fields = stops_value_fields() -%}

with

stops as (

    select * from {{ ref('int_stops_deduplicated') }}

),

value_maps as (

    select * from {{ ref('stg_raw__value_maps') }}
    where dataset = 'stops'

),

unmapped_values as (

    {%- for field in value_fields %}

    select
        stops.agency_id,
        '{{ field }}' as field_name,
        lower(trim(stops.{{ field }}_raw)) as raw_value,
        stops.source_file,
        stops.loaded_at

    from stops

    left join value_maps
        on stops.agency_id = value_maps.agency_id
        and value_maps.field_name = '{{ field }}'
        and lower(trim(stops.{{ field }}_raw)) = value_maps.source_value

    where stops.{{ field }}_raw is not null
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
        min(source_file) as first_source_file,
        min(loaded_at) as first_loaded_at,
        max(loaded_at) as last_loaded_at

    from unmapped_values
    group by agency_id, field_name, raw_value

)

select * from final
