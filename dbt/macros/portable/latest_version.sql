{#-
    The latest version of each record: one row per `partition_by`, the first in `order_by`, with
    the relation's columns unchanged. DuckDB filters the window in place (QUALIFY); PostgreSQL
    keeps the first row of each group (DISTINCT ON); elsewhere the row numbers are computed in a
    subquery and the relation's columns listed (`columns`, required there).
-#}
{% macro latest_version(relation, partition_by, order_by, columns=none) -%}
    {{ return(adapter.dispatch('latest_version')(relation, partition_by, order_by, columns)) }}
{%- endmacro %}

{% macro duckdb__latest_version(relation, partition_by, order_by, columns) -%}
    select * from {{ relation }}
    qualify row_number() over (partition by {{ partition_by }} order by {{ order_by }}) = 1
{%- endmacro %}

{% macro postgres__latest_version(relation, partition_by, order_by, columns) -%}
    select distinct on ({{ partition_by }}) * from {{ relation }}
    order by {{ partition_by }}, {{ order_by }}
{%- endmacro %}

{% macro default__latest_version(relation, partition_by, order_by, columns) -%}
    {%- if columns is none -%}
        {{ exceptions.raise_compiler_error("latest_version on " ~ adapter.type() ~ " needs the relation's columns") }}
    {%- endif %}
    select {{ columns | join(', ') }} from (
        select *, row_number() over (partition by {{ partition_by }} order by {{ order_by }}) as _version_rank
        from {{ relation }}
    ) as ranked
    where _version_rank = 1
{%- endmacro %}
