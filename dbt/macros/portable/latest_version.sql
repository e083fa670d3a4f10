{#-
    The latest version of each record: one row per `partition_by`, the first in `order_by`, with
    the relation's columns unchanged. DuckDB filters the window in place (QUALIFY); PostgreSQL
    keeps the first row of each group (DISTINCT ON); elsewhere the row numbers are computed in a
    subquery and the relation's columns listed (`columns`, required there).
-#}
{% macro latest_version(relation, partition_by, order_by, columns=none) -%}
    {{ return(adapter.dispatch('latest_version')(relation, partition_by, order_by, columns)) }}
{%- endmacro %}

{#-
    DuckDB: each group's latest ordering values by aggregation (max of a row value compares
    lexicographically), then the rows that hold them. Aggregations and joins spill to disk under
    DuckDB's memory limit, a window over every row does not: ranking 10 million stops ran out of
    memory at 2 and 3 GB (issue 7's memory target), this way it stays under 2 GB. Needs every
    ordering term descending and non-null (the lineage columns loaded_at, source_file,
    source_row); otherwise the window, filtered in place.
-#}
{% macro duckdb__latest_version(relation, partition_by, order_by, columns) -%}
    {%- set keys = partition_by.split(',') | map('trim') | list -%}
    {%- set terms = order_by.split(',') | map('trim') | list -%}
    {%- set descending = [] -%}
    {%- for term in terms -%}
        {%- set words = term.split() -%}
        {%- if words | length == 2 and words[1] | lower == 'desc' -%}
            {%- do descending.append(words[0]) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if descending | length == terms | length -%}
    select * from {{ relation }}
    semi join (
        select {{ keys | join(', ') }}, max(row({{ descending | join(', ') }})) as _latest_version
        from {{ relation }}
        group by all
    ) as _latest
        on {% for key in keys -%}
        {{ relation }}.{{ key }} is not distinct from _latest.{{ key }} and {% endfor -%}
        row({% for column in descending %}{{ relation }}.{{ column }}{{ ', ' if not loop.last }}{% endfor %}) = _latest._latest_version
    {%- else -%}
    select * from {{ relation }}
    qualify row_number() over (partition by {{ partition_by }} order by {{ order_by }}) = 1
    {%- endif %}
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
