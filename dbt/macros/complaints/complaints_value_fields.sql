{#-
    The `code` fields of ingestion/canonical/complaints.yml, allegations.yml and
    complainants.yml, by dataset: dlt loads them as delivered and the staging models normalise
    them through raw.value_maps (all have default_code unknown).
-#}
{% macro complaints_value_fields(dataset) -%}
    {{ return({
        'complaints': ['complaint_source'],
        'allegations': ['category', 'recommended_finding', 'final_finding', 'discipline'],
        'complainants': ['subject_race', 'subject_sex'],
    }[dataset]) }}
{%- endmacro %}
