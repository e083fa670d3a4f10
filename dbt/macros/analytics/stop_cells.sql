{#-
    The stop cells the marts count: int_stop_cells without its zero rows. A zero row is how
    int_stop_cells' delete+insert removes the cells of an agency-year left with no stops; it is
    no cell of the data, so every reader goes through this macro instead of repeating the filter.
-#}
{% macro stop_cells() -%}
    select * from {{ ref('int_stop_cells') }}
    where stops > 0
{%- endmacro %}
