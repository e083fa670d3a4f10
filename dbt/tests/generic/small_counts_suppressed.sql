{#-
    Fails for every published count from 1 to small_numbers_threshold - 1 in `column_name`
    (METHODS.md 9): suppress_small_counts must have nulled it.
-#}
{% test small_counts_suppressed(model, column_name) %}

select *
from {{ model }}
where {{ column_name }} between 1 and {{ (var('small_numbers_threshold') | int) - 1 }}

{% endtest %}
