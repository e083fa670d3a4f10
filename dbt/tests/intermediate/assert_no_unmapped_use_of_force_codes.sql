{#-
    Warn (DESIGN.md 3 and 6), as assert_no_unmapped_codes for stops: every code an agency sends
    in its use-of-force export should be in its value maps, force types element by element.
    Staging maps an unknown code to unknown / other / null so publication goes on; the rows
    returned here (agency, field, raw value, count, first file) tell the agency which `values:`
    entries its use_of_force mapping lacks. Counted on the current version of each report row.
-#}
{{ config(severity='warn', tags=['warn']) }}

{%- set value_fields = use_of_force_value_fields() -%}

with

use_of_force as (

    select * from {{ ref('int_use_of_force_deduplicated') }}

),

actions as (

    select * from {{ ref('int_use_of_force_actions_unnested') }}

),

value_maps as (

    select * from {{ ref('stg_raw__value_maps') }}
    where dataset = 'use_of_force'

),

unmapped_values as (

    {%- for field in value_fields %}

    select
        use_of_force.agency_id,
        '{{ field }}' as field_name,
        lower(trim(use_of_force.{{ field }}_raw)) as raw_value,
        use_of_force.source_file

    from use_of_force

    left join value_maps
        on use_of_force.agency_id = value_maps.agency_id
        and value_maps.field_name = '{{ field }}'
        and lower(trim(use_of_force.{{ field }}_raw)) = value_maps.source_value

    where use_of_force.{{ field }}_raw is not null
        and value_maps.source_value is null

    union all
    {%- endfor %}

    select
        agency_id,
        'force_types' as field_name,
        lower(force_type_raw) as raw_value,
        source_file

    from actions
    where is_unmapped

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
