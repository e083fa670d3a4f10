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

    select
        delivered.agency_id,
        '{{ dataset }}' as dataset,
        delivered.field_name,
        delivered.raw_value,
        delivered.source_file

    from (
        {{ delivered_codes(ref('int_' ~ dataset ~ '_deduplicated'), records_value_fields(dataset)) }}
    ) as delivered

    left join value_maps
        on delivered.agency_id = value_maps.agency_id
        and value_maps.dataset = '{{ dataset }}'
        and delivered.field_name = value_maps.field_name
        and delivered.raw_value = value_maps.source_value

    where value_maps.source_value is null
    {{ 'union all' if not loop.last }}
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
