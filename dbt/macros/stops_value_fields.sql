{#-
    The `code` and `boolean` fields of ingestion/canonical/stops.yml: dlt loads them as delivered
    and staging normalises them through raw.value_maps. One list so stg_raw__stops and
    int_unmapped_codes cannot disagree on which fields are mapped.
-#}
{% macro stops_value_fields() -%}
    {{ return({
        'stop_type': 'code',
        'subject_race': 'code',
        'subject_sex': 'code',
        'reason_for_stop': 'code',
        'search_basis_detail': 'code',
        'outcome': 'code',
        'search_conducted': 'boolean',
        'contraband_found': 'boolean',
        'frisk_performed': 'boolean',
        'arrest_made': 'boolean',
        'citation_issued': 'boolean',
        'warning_issued': 'boolean',
    }) }}
{%- endmacro %}
