{#-
    An aggregate digest of a group's rows, independent of their order: the number of rows and a
    combination of a hash of `columns` of each. Equal for the same rows; different (but for a
    hash collision) when a row is added, removed or changed in those columns. Incremental models
    compare it with the one they stored to find the groups to recompute (int_stop_cells).
-#}
{% macro rows_fingerprint(columns) -%}
    {{ return(adapter.dispatch('rows_fingerprint')(columns)) }}
{%- endmacro %}

{#- DuckDB: the sum of its 64-bit hash of the columns. Not their XOR: DuckDB combines the
    columns' hashes so that a column equal on every row (an agency's mapping_hash) cancels out of
    the XOR of an even number of rows. -#}
{% macro duckdb__rows_fingerprint(columns) -%}
    cast(count(*) as varchar) || ':' || cast(sum(cast(hash({{ columns | join(', ') }}) as hugeint)) as varchar)
{%- endmacro %}

{#- Elsewhere (PostgreSQL): the sum of the first 60 bits of each row's md5 -#}
{% macro default__rows_fingerprint(columns) -%}
    cast(count(*) as varchar) || ':' || cast(sum(
        cast(cast('x' || left(md5(concat_ws('|'
            {%- for column in columns %}, cast({{ column }} as varchar){% endfor -%}
        )), 15) as bit(60)) as bigint)
    ) as varchar)
{%- endmacro %}
