{#-
    Run before every dbt invocation (dbt_project.yml on-run-start): functions DuckDB has and the
    target lacks, defined with DuckDB's meaning so the models' SQL runs unchanged on both.

    PostgreSQL: round(double precision, integer) (PostgreSQL rounds only numeric to n places);
    DuckDB's rounds half away from zero, round(x * 10^n) / 10^n, as here.
-#}
{% macro engine_functions() -%}
    {{ return(adapter.dispatch('engine_functions')()) }}
{%- endmacro %}

{% macro default__engine_functions() -%}
{%- endmacro %}

{% macro postgres__engine_functions() -%}
    create or replace function public.round(x double precision, digits integer)
    returns double precision language sql immutable parallel safe as $$
        select sign(x) * floor(abs(x) * power(10::double precision, digits) + 0.5)
            / power(10::double precision, digits)
    $$
{%- endmacro %}
