{#-
    The UTC instant of `local_timestamp`, a wall-clock time in the IANA zone held by
    `zone_column`: timezone(zone, timestamp), which PostgreSQL and DuckDB both have.

    DuckDB's ICU converts a zone read from a column row by row (~2.7 us a row; ~1 s per moment
    column of a million calls for service) and a constant zone about twenty times faster. So on
    DuckDB every zone the agencies use (raw.agencies, read when the model is built) gets a branch
    with the zone as a constant; any other zone falls through to the row-by-row call. It is the
    same function on the same values: the same instant, in DST gaps and repeated hours too.
-#}
{% macro utc_from_local(zone_column, local_timestamp) -%}
    {{ return(adapter.dispatch('utc_from_local')(zone_column, local_timestamp)) }}
{%- endmacro %}

{% macro default__utc_from_local(zone_column, local_timestamp) -%}
    timezone({{ zone_column }}, {{ local_timestamp }})
{%- endmacro %}

{% macro duckdb__utc_from_local(zone_column, local_timestamp) -%}
    {%- set zones = agency_time_zones() -%}
    {%- if zones -%}
    case {{ zone_column }}
        {%- for zone in zones %}
        when '{{ zone }}' then timezone('{{ zone }}', {{ local_timestamp }})
        {%- endfor %}
        else timezone({{ zone_column }}, {{ local_timestamp }})
    end
    {%- else -%}
    timezone({{ zone_column }}, {{ local_timestamp }})
    {%- endif -%}
{%- endmacro %}

{#- The distinct time zones of raw.agencies, quoted for a SQL literal; none while parsing or
    before the first load. -#}
{% macro agency_time_zones() -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {#- looked up, not source(): a model's unit tests mock only the sources it declares -#}
    {%- set relation = adapter.get_relation(
        database=target.database, schema='raw', identifier='agencies'
    ) -%}
    {%- if relation is none -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set result = run_query(
        'select distinct cast(time_zone as varchar) from ' ~ relation
        ~ ' where time_zone is not null order by 1'
    ) -%}
    {%- set zones = [] -%}
    {%- for row in result.rows -%}
        {%- do zones.append(row[0] | replace("'", "''")) -%}
    {%- endfor -%}
    {{ return(zones) }}
{%- endmacro %}
