{#-
    Whole seconds from instant `first` to instant `second` (timestamps with time zone) as
    DuckDB's date_diff('second', ...) counts them (second boundaries crossed), whatever the
    session's time zone: dbt.datediff goes through local wall-clock time, an hour off across a
    daylight-saving change.
-#}
{% macro seconds_between(first, second) -%}
    {{ return(adapter.dispatch('seconds_between')(first, second)) }}
{%- endmacro %}

{% macro duckdb__seconds_between(first, second) -%}
    date_diff('second', {{ first }}, {{ second }})
{%- endmacro %}

{% macro default__seconds_between(first, second) -%}
    (floor(extract(epoch from {{ second }})) - floor(extract(epoch from {{ first }})))
{%- endmacro %}
