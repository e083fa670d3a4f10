{#-
    Warn (DESIGN.md 3 and 6), as assert_no_unmapped_codes for stops: every code and flag an
    agency sends for calls for service, body-worn camera recordings and audit events, school
    contacts and surveys should be in its value maps. Staging maps an unknown code to unknown
    (a flag to null) so publication goes on; the rows returned here (agency, dataset, field, raw
    value, count, first file) tell the agency which `values:` entries its mapping lacks.
-#}
{{ config(severity='warn', tags=['warn']) }}

{%- set datasets = [
    'calls_for_service', 'bwc_recordings', 'bwc_audit_events', 'school_incidents',
    'survey_responses', 'survey_item_responses',
] -%}

with

value_maps as (

    select * from {{ ref('stg_raw__value_maps') }}

),

unmapped_values as (

    {%- for dataset in datasets %}
    {%- set outer_loop = loop %}
    {%- for field in records_value_fields(dataset) %}

    select
        records.agency_id,
        '{{ dataset }}' as dataset,
        '{{ field }}' as field_name,
        lower(trim(records.{{ field }}_raw)) as raw_value,
        records.source_file

    from {{ ref('int_' ~ dataset ~ '_deduplicated') }} as records

    left join value_maps
        on records.agency_id = value_maps.agency_id
        and value_maps.dataset = '{{ dataset }}'
        and value_maps.field_name = '{{ field }}'
        and lower(trim(records.{{ field }}_raw)) = value_maps.source_value

    where records.{{ field }}_raw is not null
        and value_maps.source_value is null
    {{ 'union all' if not (outer_loop.last and loop.last) }}
    {%- endfor %}
    {%- endfor %}

),

final as (

    select
        agency_id,
        dataset,
        field_name,
        raw_value,
        count(*) as row_count,
        min(source_file) as first_source_file

    from unmapped_values
    group by agency_id, dataset, field_name, raw_value

)

select * from final
