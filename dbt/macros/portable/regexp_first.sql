{#- The first match of `pattern` in `text` (the whole match; null when none). -#}
{% macro regexp_first(text, pattern) -%}
    {{ return(adapter.dispatch('regexp_first')(text, pattern)) }}
{%- endmacro %}

{% macro duckdb__regexp_first(text, pattern) -%}
    nullif(regexp_extract({{ text }}, {{ pattern }}), '')
{%- endmacro %}

{#- PostgreSQL (and SQL:2008 substring ... similar): substring(text from pattern). -#}
{% macro default__regexp_first(text, pattern) -%}
    substring({{ text }} from '(' || {{ pattern }} || ')')
{%- endmacro %}
