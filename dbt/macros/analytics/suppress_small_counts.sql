{#-
    Small-numbers suppression with complementary suppression (METHODS.md 9): emits CTEs for a
    model's `with` clause (no trailing comma), the last named `name`, which is `relation` plus the
    boolean column `<count_column>_is_suppressed` (and working columns prefixed
    `_<count_column>_`, which callers leave out of their final select). Each step is a
    materialized CTE: inlined, the nested window steps took DuckDB's optimizer 5-8 s per model on
    a few hundred rows; materialized, milliseconds.

    Primary: a count from 1 to threshold - 1 is suppressed (var small_numbers_threshold, default
    10). A zero is published: it identifies nobody, and hiding it would hide that a group was
    never stopped or searched.
    Complementary: a published set of cells (each entry of `partitions`, e.g. the races of one
    agency-year-measure, or the districts of one agency-year-measure-race) whose total is known
    from other cells or files must never hold exactly one suppressed cell, or the total minus the
    published cells gives it back. In such a set the smallest non-zero published cell is also
    suppressed (ties broken by `order_by`). One cell suppressed in one set can make another set
    hold exactly one, so the sets are visited in turn, `passes` times over. Should a set still
    hold exactly one after that, every non-zero cell of its block (the columns all partitions
    share) is suppressed: crude, but no total can undo it. The dbt test
    complementary_suppression_holds checks the result on every build.
-#}
{% macro suppress_small_counts(relation, count_column, partitions, order_by, name, threshold=none, passes=3) -%}
    {%- set k = (threshold if threshold is not none else var('small_numbers_threshold')) | int -%}
    {%- set prefix = '_' ~ count_column -%}
    {%- set ns = namespace(previous_cte=relation, flag=none, step=0, shared=true) -%}
    {%- set common = [] -%}
    {%- for column in partitions[0] -%}
        {%- set ns.shared = true -%}
        {%- for partition in partitions -%}
            {%- if column not in partition -%}{%- set ns.shared = false -%}{%- endif -%}
        {%- endfor -%}
        {%- if ns.shared -%}{%- do common.append(column) -%}{%- endif -%}
    {%- endfor -%}
{{ name }}_step_0 as materialized (

    select
        *,
        coalesce({{ count_column }} between 1 and {{ k - 1 }}, false) as {{ prefix }}_suppressed_0

    from {{ relation }}

),
    {%- set ns.flag = prefix ~ '_suppressed_0' %}
    {%- set ns.previous_cte = name ~ '_step_0' %}
    {%- for pass in range(passes) %}
        {%- for partition in partitions %}
            {%- set ns.step = ns.step + 1 %}
            {%- set columns = partition | join(', ') %}

{{ name }}_step_{{ ns.step }} as materialized (

    select
        *,
        {{ ns.flag }} or coalesce(
            {{ prefix }}_in_set_{{ ns.step }} = 1
            and {{ prefix }}_rank_{{ ns.step }} = 1
            and not {{ ns.flag }}
            and {{ count_column }} > 0,
            false
        ) as {{ prefix }}_suppressed_{{ ns.step }}

    from (
        select
            *,
            count(*) filter (where {{ ns.flag }}) over (partition by {{ columns }})
                as {{ prefix }}_in_set_{{ ns.step }},
            row_number() over (
                partition by {{ columns }}
                order by
                    case when not {{ ns.flag }} and {{ count_column }} > 0 then 0 else 1 end,
                    {{ count_column }},
                    {{ order_by }}
            ) as {{ prefix }}_rank_{{ ns.step }}
        from {{ ns.previous_cte }}
    ) as ranked

),
            {%- set ns.flag = prefix ~ '_suppressed_' ~ ns.step %}
            {%- set ns.previous_cte = name ~ '_step_' ~ ns.step %}
        {%- endfor %}
    {%- endfor %}

{#- Fallback: a set still holding exactly one suppressed cell after the passes gets every
    non-zero cell of its block (the columns all partitions share) suppressed: crude, but no total
    can undo it. #}
{{ name }}_lone_sets as materialized (

    select
        *,
        {%- for partition in partitions %}
        (
            count(*) filter (where {{ ns.flag }}) over (partition by {{ partition | join(', ') }}) = 1
            and count(*) filter (where not {{ ns.flag }} and {{ count_column }} > 0)
                over (partition by {{ partition | join(', ') }}) > 0
        ){{ ' or' if not loop.last }}
        {%- endfor %}
            as {{ prefix }}_lone

    from {{ ns.previous_cte }}

),

{{ name }} as materialized (

    select
        *,
        {{ ns.flag }} or coalesce(
            {{ prefix }}_block_has_lone and {{ count_column }} > 0, false
        ) as {{ count_column }}_is_suppressed

    from (
        select
            *,
            bool_or({{ prefix }}_lone) over (partition by {{ common | join(', ') }})
                as {{ prefix }}_block_has_lone
        from {{ name }}_lone_sets
    ) as blocks

)
{%- endmacro %}
