{#-
    The `code` and `boolean` fields of ingestion/canonical/use_of_force.yml: dlt loads them as
    delivered and staging normalises them through raw.value_maps. One list so
    stg_raw__use_of_force and the unmapped-code check cannot disagree on which fields are mapped.
    The `list` field force_types is mapped element by element in int_use_of_force_actions_unnested.
-#}
{% macro use_of_force_value_fields() -%}
    {{ return({
        'force_level': 'code',
        'subject_race': 'code',
        'subject_sex': 'code',
        'officer_injured': 'boolean',
        'subject_injured': 'boolean',
        'subject_arrested': 'boolean',
    }) }}
{%- endmacro %}
