{#-
    The `code` and `boolean` fields of ingestion/canonical/arrests.yml: dlt loads them as
    delivered and staging normalises them through raw.value_maps. One list so stg_raw__arrests
    and the unmapped-code check cannot disagree on which fields are mapped.
-#}
{% macro arrests_value_fields() -%}
    {{ return({
        'arrest_type': 'code',
        'offense_group': 'code',
        'offense_severity': 'code',
        'subject_race': 'code',
        'subject_sex': 'code',
        'search_basis_detail': 'code',
        'reason_for_stop': 'code',
        'warrant_flag': 'boolean',
        'search_conducted': 'boolean',
        'contraband_found': 'boolean',
    }) }}
{%- endmacro %}
