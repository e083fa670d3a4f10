{#-
    A model's grain is a set of columns (no dbt_utils: the build has no network for packages).
    Returns one row per duplicated combination, with how often it occurs.
-#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

with

grouped as (

    select
        {{ combination_of_columns | join(', ') }},
        count(*) as occurrences

    from {{ model }}
    group by {{ combination_of_columns | join(', ') }}

),

final as (

    select * from grouped
    where occurrences > 1

)

select * from final

{% endtest %}
