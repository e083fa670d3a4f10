{#-
    The `code` and `boolean` fields of ingestion/canonical/incidents.yml: dlt loads them as
    delivered and staging normalises them through raw.value_maps. One list so stg_raw__incidents
    and the unmapped-code check cannot disagree on which fields are mapped.
-#}
{% macro incidents_value_fields() -%}
    {{ return({
        'crime_against': 'code',
        'offense_severity': 'code',
        'firearm_used': 'boolean',
        'is_supplement': 'boolean',
    }) }}
{%- endmacro %}
