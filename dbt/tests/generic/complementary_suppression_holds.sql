{#-
    Fails for every set of cells (rows sharing `partition_by`) holding exactly one suppressed
    (null) `column_name` while another cell of the set publishes a positive count: the set's
    total, known from another row or file, minus the published cells would give the suppressed
    count back (METHODS.md 9). A set whose other cells are all zero cannot hide its one cell
    better, so it is not a failure.
-#}
{% test complementary_suppression_holds(model, column_name, partition_by) %}

select
    {{ partition_by | join(', ') }},
    count(*) filter (where {{ column_name }} is null) as suppressed_cells,
    count(*) filter (where {{ column_name }} > 0) as positive_published_cells

from {{ model }}
group by {{ partition_by | join(', ') }}
having count(*) filter (where {{ column_name }} is null) = 1
    and count(*) filter (where {{ column_name }} > 0) > 0

{% endtest %}
