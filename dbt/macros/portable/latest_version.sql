{#-
    The latest version of each record: one row per `partition_by`, the first in `order_by`, with
    the relation's columns unchanged. `relation` is a relation or a CTE name; DuckDB reads it
    twice, so give it the model it reads (a CTE read twice is materialised whole first: 10
    million stops took 36 s that way, 23 s with the view read twice). DuckDB keeps groups by
    aggregation; PostgreSQL keeps the first row of each group (DISTINCT ON); elsewhere the row
    numbers are computed in a subquery and the relation's columns listed (`columns`, required
    there).
-#}
{% macro latest_version(relation, partition_by, order_by, columns=none) -%}
    {{ return(adapter.dispatch('latest_version')(relation, partition_by, order_by, columns)) }}
{%- endmacro %}

{#-
    DuckDB: the groups with more than one row and their latest ordering values, by aggregation
    (max of a row value compares lexicographically); then every row of the other groups and the
    latest row of these. Aggregations and joins spill to disk under DuckDB's memory limit, a
    window over every row does not: ranking 10 million stops ran out of memory at 2 and 3 GB
    (issue 7's memory target), this way it stays under 2 GB. Needs every ordering term
    descending and non-null (the lineage columns loaded_at, source_file, source_row);
    otherwise the window, filtered in place.
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
    select _rows.* from {{ relation }} as _rows
    left join (
        select {{ keys | join(', ') }}, max(row({{ descending | join(', ') }})) as _latest_version
        from {{ relation }} as _grouped
        group by all
        having count(*) > 1
    ) as _repeated
        on {% for key in keys -%}
        _rows.{{ key }} is not distinct from _repeated.{{ key }}{{ ' and ' if not loop.last }}
        {%- endfor %}
    where _repeated._latest_version is null
        or row({% for column in descending %}_rows.{{ column }}{{ ', ' if not loop.last }}{% endfor %}) = _repeated._latest_version
    {%- else -%}
    select * from {{ relation }} as _rows
    qualify row_number() over (partition by {{ partition_by }} order by {{ order_by }}) = 1
    {%- endif %}
{%- endmacro %}

{% macro postgres__latest_version(relation, partition_by, order_by, columns) -%}
    select distinct on ({{ partition_by }}) * from {{ relation }} as _rows
    order by {{ partition_by }}, {{ order_by }}
{%- endmacro %}

{% macro default__latest_version(relation, partition_by, order_by, columns) -%}
    {%- if columns is none -%}
        {{ exceptions.raise_compiler_error("latest_version on " ~ adapter.type() ~ " needs the relation's columns") }}
    {%- endif %}
    select {{ columns | join(', ') }} from (
        select *, row_number() over (partition by {{ partition_by }} order by {{ order_by }}) as _version_rank
        from {{ relation }} as _rows
    ) as ranked
    where _version_rank = 1
{%- endmacro %}
