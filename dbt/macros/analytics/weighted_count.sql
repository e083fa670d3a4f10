{#-
    count(*) [filter (where condition)] over rows that each stand for `weight` records (rows
    counted once by the values a query reads, then summed): 0 when no row qualifies, and a
    bigint on every engine, as count(*) is (a sum of bigints is a hugeint in DuckDB, a numeric
    in PostgreSQL).
-#}
{% macro weighted_count(weight, condition=none) -%}
    cast(coalesce(sum({{ weight }}){% if condition %} filter (where {{ condition }}){% endif %}, 0) as bigint)
{%- endmacro %}
