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

-- one pass over all stops keeps the few rows staging flagged; the per-field work below runs on
-- those only (a union of one anti-join per field over all stops took 100 s for 10 M rows)
flagged_stops as (

    select * from stops
    where has_unmapped_value

),

delivered_values as (

    select
        flagged_stops.agency_id,
        fields.field_name,
        lower(trim(
            case fields.field_name
                {%- for field in value_fields %}
                when '{{ field }}' then flagged_stops.{{ field }}_raw
                {%- endfor %}
            end
        )) as raw_value,
        flagged_stops.source_file,
        flagged_stops.loaded_at

    from flagged_stops

    cross join (
        values
            {%- for field in value_fields %}
            ('{{ field }}'){{ ',' if not loop.last }}
            {%- endfor %}
    ) as fields (field_name)

),

unmapped_values as (

    select delivered_values.*

    from delivered_values

    left join value_maps
        on delivered_values.agency_id = value_maps.agency_id
        and delivered_values.field_name = value_maps.field_name
        and delivered_values.raw_value = value_maps.source_value

    where delivered_values.raw_value is not null
        and value_maps.source_value is null

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
