{#-
    Models land in the plain schema their folder names (staging, intermediate, marts) instead of
    dbt's default <target_schema>_<custom_schema>, so Dagster asset keys, SQL names and report
    sources all read marts.fct_stops.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
