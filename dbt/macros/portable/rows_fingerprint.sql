{#-
    An aggregate digest of a group's rows, independent of their order: the number of rows and the
    sum of a hash of `columns` of each (rows_hash_sum). Equal for the same rows; different (but
    for a hash collision) when a row is added, removed or changed in those columns. Incremental
    models compare it with the one they stored to find the groups to recompute (int_stop_cells).
    Both parts are sums, so a group's digest can also be summed from its subgroups' counts and
    rows_hash_sum (int_stop_cells does, in one pass over fct_stops).
-#}
{% macro rows_fingerprint(columns) -%}
    cast(count(*) as varchar) || ':' || cast({{ rows_hash_sum(columns) }} as varchar)
{%- endmacro %}

{#- The sum of a hash of `columns` over a group's rows (an aggregate) -#}
{% macro rows_hash_sum(columns) -%}
    {{ return(adapter.dispatch('rows_hash_sum')(columns)) }}
{%- endmacro %}

{#- DuckDB: its 64-bit hash of the columns, summed as a hugeint. Not their XOR: DuckDB combines
    the columns' hashes so that a column equal on every row (an agency's mapping_hash) cancels out
    of the XOR of an even number of rows. -#}
{% macro duckdb__rows_hash_sum(columns) -%}
    sum(cast(hash({{ columns | join(', ') }}) as hugeint))
{%- endmacro %}

{#- Elsewhere (PostgreSQL): the first 60 bits of each row's md5, summed as a numeric -#}
{% macro default__rows_hash_sum(columns) -%}
    sum(
        cast(cast('x' || left(md5(concat_ws('|'
            {%- for column in columns %}, cast({{ column }} as varchar){% endfor -%}
        )), 15) as bit(60)) as bigint)
    )
{%- endmacro %}
