{#-
    One row per value from `start` to `stop` by `step` (a select-list expression). DuckDB's
    generate_series returns a list, unnested; PostgreSQL's returns the rows themselves.
-#}
{% macro series(start, stop, step=none) -%}
    {{ return(adapter.dispatch('series')(start, stop, step)) }}
{%- endmacro %}

{% macro duckdb__series(start, stop, step) -%}
    unnest(generate_series({{ start }}, {{ stop }}{{ ', ' ~ step if step is not none }}))
{%- endmacro %}

{% macro default__series(start, stop, step) -%}
    generate_series({{ start }}, {{ stop }}{{ ', ' ~ step if step is not none }})
{%- endmacro %}
