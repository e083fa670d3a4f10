{#-
    The shape of the analytics marts for estimates that are not shares or rates (a mean, a
    median, a percentile): emits CTEs (the last named `name`) turning `cells` (agency_id, period,
    unit_type, unit, measure, group_type, group_name, n, estimate, lower, upper, method) into the
    measure_comparisons columns. numerator = n, the cases behind the estimate (respondents,
    calls); it is suppressed like any count (suppress_small_counts over measure_partitions: from
    1 to var small_numbers_threshold - 1, plus complementary cells, since a mean times its n
    gives a total back), and a suppressed n nulls the estimate and its interval. There is no
    denominator and no comparison group, so the comparison and ratio columns are null and
    is_insufficient is false; is_small_numbers marks n below the threshold (then the cell is
    suppressed too).
-#}
{% macro mean_measures(cells, name) -%}
    {%- set k = var('small_numbers_threshold') | int -%}

{{ suppress_small_counts(cells, 'n', measure_partitions(), 'group_name, unit', name=name ~ '_suppressed') }},

{{ name }} as (

    select
        agency_id,
        cast(period as integer) as period,
        unit_type,
        unit,
        measure,
        group_type,
        group_name,
        cast(null as varchar) as comparison_group,
        cast(case when not n_is_suppressed then n end as bigint) as numerator,
        cast(null as bigint) as denominator,
        case when not n_is_suppressed then round(estimate, 6) end as estimate,
        case when not n_is_suppressed then round(lower, 6) end as lower,
        case when not n_is_suppressed then round(upper, 6) end as upper,
        cast(null as bigint) as comparison_numerator,
        cast(null as bigint) as comparison_denominator,
        cast(null as double precision) as comparison_estimate,
        cast(null as double precision) as ratio,
        cast(null as double precision) as ratio_lower,
        cast(null as double precision) as ratio_upper,
        n < {{ k }} as is_small_numbers,
        n_is_suppressed as is_suppressed,
        false as is_insufficient,
        false as is_disparity,
        case
            when n_is_suppressed then 'suppressed'
            when n < {{ k }} then 'small_numbers'
            else 'ok'
        end as flag,
        method

    from {{ name }}_suppressed

)
{%- endmacro %}

{#-
    t quantile t(0.975, df) by the Cornish-Fisher expansion in z = 1.959964 (three terms:
    (z^3 + z) / 4, (5z^5 + 16z^3 + 3z) / 96, (3z^7 + 19z^5 + 17z^3 - 15z) / 384 over df, df^2,
    df^3), within 0.0003 of the exact value for df >= 9, the smallest df of a published cell.
-#}
{% macro t_quantile_975(df) -%}
    (1.959963984540054
        + 2.372271230298562 / nullif({{ df }}, 0)
        + 2.822498615739611 / nullif(power({{ df }}, 2), 0)
        + 2.555849679507722 / nullif(power({{ df }}, 3), 0))
{%- endmacro %}
