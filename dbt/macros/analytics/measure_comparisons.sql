{#-
    The common shape of every disparity and performance mart (DESIGN.md 5, METHODS.md 1-5, 8, 9),
    written once: emits CTEs (the last named `name`) to place in a model's `with`.

    `cells` is a CTE with one row per agency_id, period (year), unit_type ('agency' or
    'district'), unit ('all' for the agency as a whole), measure, group_type, group_name, and:
      comparison_group      the group the ratio compares with (null: no ratio);
      numerator             events (bigint);
      denominator           the base (bigint): records, or residents for a population benchmark;
      denominator_is_count  true when the denominator counts records (suppressed like the
                            numerator, and the sample size of the test); false for residents;
      interval_kind         'binomial' (a share of the denominator: Wilson interval, Katz ratio
                            interval) or 'poisson' (events over an exposure: Poisson interval,
                            ratio interval exp(ln r -/+ z sqrt(1/a + 1/b)));
      scale                 1, 1000 (per 1,000) or 10000 (per 10,000);
      method                the formula, cited in the published row;
    plus any `extra_columns`, passed through.

    Counts are suppressed (suppress_small_counts) before anything is derived from them, and the
    comparison group's counts are read after suppression, so no estimate, interval or ratio is
    ever computed from a hidden count. Flags: is_small_numbers (a count below the threshold,
    zeros included), is_suppressed, is_insufficient (the sample of the group or of its
    comparison group, records or else events, below var minimum_cases, default 50: OPP and ODP
    test only groups with at least 50 searches; OJJDP marks such an RRI "insufficient"),
    is_disparity (the ratio's 95% interval excludes 1 and the cases suffice). flag summarises
    them: suppressed > insufficient_cases > small_numbers > ok.
-#}
{% macro measure_partitions() -%}
    {{ return([
        ['agency_id', 'period', 'unit_type', 'unit', 'measure', 'group_type'],
        ['agency_id', 'period', 'unit_type', 'measure', 'group_type', 'group_name'],
    ]) }}
{%- endmacro %}

{% macro measure_comparisons(cells, name, extra_columns=[]) -%}
    {%- set k = var('small_numbers_threshold') | int -%}
    {%- set minimum = var('minimum_cases') | int -%}
    {%- set partitions = measure_partitions() -%}

{{ name }}_cells as materialized (

    select
        *,
        case when denominator_is_count then denominator end as suppressible_denominator

    from {{ cells }}

),

{{ suppress_small_counts(name ~ '_cells', 'numerator', partitions, 'group_name, unit', name=name ~ '_numerators') }},

{{ suppress_small_counts(name ~ '_numerators', 'suppressible_denominator', partitions, 'group_name, unit', name=name ~ '_suppressed') }},

{{ name }}_published as materialized (

    select
        agency_id,
        period,
        unit_type,
        unit,
        measure,
        group_type,
        group_name,
        comparison_group,
        denominator_is_count,
        interval_kind,
        scale,
        method,
        {%- for column in extra_columns %}
        {{ column }},
        {%- endfor %}
        numerator as raw_numerator,
        denominator as raw_denominator,
        case when denominator_is_count then denominator else numerator end as sample_size,
        numerator_is_suppressed
            or coalesce(suppressible_denominator_is_suppressed, false) as is_suppressed,
        case when not numerator_is_suppressed then numerator end as numerator,
        case
            when not coalesce(suppressible_denominator_is_suppressed, false) then denominator
        end as denominator

    from {{ name }}_suppressed

),

{{ name }} as (

    select
        measures.agency_id,
        cast(measures.period as integer) as period,
        measures.unit_type,
        measures.unit,
        measures.measure,
        measures.group_type,
        measures.group_name,
        measures.comparison_group,
        cast(measures.numerator as bigint) as numerator,
        cast(measures.denominator as bigint) as denominator,
        round(
            measures.scale * measures.numerator / nullif(cast(measures.denominator as double precision), 0),
            6
        ) as estimate,
        round(case
            when measures.numerator is null or measures.denominator is null then null
            when measures.interval_kind = 'binomial' then
                measures.scale * {{ wilson_interval('measures.numerator', 'measures.denominator', 'lower') }}
            else
                measures.scale * {{ poisson_interval('measures.numerator', 'lower') }}
                / nullif(cast(measures.denominator as double precision), 0)
        end, 6) as lower,
        round(case
            when measures.numerator is null or measures.denominator is null then null
            when measures.interval_kind = 'binomial' then
                measures.scale * {{ wilson_interval('measures.numerator', 'measures.denominator', 'upper') }}
            else
                measures.scale * {{ poisson_interval('measures.numerator', 'upper') }}
                / nullif(cast(measures.denominator as double precision), 0)
        end, 6) as upper,
        cast(comparison.numerator as bigint) as comparison_numerator,
        cast(comparison.denominator as bigint) as comparison_denominator,
        round(
            comparison.scale * comparison.numerator / nullif(cast(comparison.denominator as double precision), 0),
            6
        ) as comparison_estimate,
        round({{ rate_ratio('measures.numerator', 'measures.denominator', 'comparison.numerator', 'comparison.denominator') }}, 6)
            as ratio,
        round(case
            when measures.group_name = measures.comparison_group then null
            when measures.interval_kind = 'binomial' then
                {{ log_ratio_interval('measures.numerator', 'measures.denominator', 'comparison.numerator', 'comparison.denominator', 'lower') }}
            else
                {{ poisson_ratio_interval('measures.numerator', 'measures.denominator', 'comparison.numerator', 'comparison.denominator', 'lower') }}
        end, 6) as ratio_lower,
        round(case
            when measures.group_name = measures.comparison_group then null
            when measures.interval_kind = 'binomial' then
                {{ log_ratio_interval('measures.numerator', 'measures.denominator', 'comparison.numerator', 'comparison.denominator', 'upper') }}
            else
                {{ poisson_ratio_interval('measures.numerator', 'measures.denominator', 'comparison.numerator', 'comparison.denominator', 'upper') }}
        end, 6) as ratio_upper,
        coalesce(
            measures.raw_numerator < {{ k }}
            or (measures.denominator_is_count and measures.raw_denominator < {{ k }}),
            false
        ) as is_small_numbers,
        measures.is_suppressed,
        coalesce(measures.sample_size < {{ minimum }}, true)
            or coalesce(comparison.sample_size < {{ minimum }}, false) as is_insufficient,
        {%- for column in extra_columns %}
        measures.{{ column }},
        {%- endfor %}
        measures.method

    from {{ name }}_published as measures

    left join {{ name }}_published as comparison
        on measures.agency_id = comparison.agency_id
        and measures.period = comparison.period
        and measures.unit_type = comparison.unit_type
        and measures.unit = comparison.unit
        and measures.measure = comparison.measure
        and measures.group_type = comparison.group_type
        and measures.comparison_group = comparison.group_name

)
{%- endmacro %}

{#-
    The flag columns every analytics mart ends with, from is_small_numbers, is_suppressed,
    is_insufficient and the ratio interval of `relation` (a CTE built by measure_comparisons or
    with the same columns).
-#}
{% macro measure_flags(relation='') -%}
    {%- set p = relation ~ '.' if relation else '' -%}
        coalesce(
            not {{ p }}is_insufficient
            and {{ p }}group_name != {{ p }}comparison_group
            and ({{ p }}ratio_lower > 1 or {{ p }}ratio_upper < 1),
            false
        ) as is_disparity,
        case
            when {{ p }}is_suppressed then 'suppressed'
            when {{ p }}is_insufficient then 'insufficient_cases'
            when {{ p }}is_small_numbers then 'small_numbers'
            else 'ok'
        end as flag
{%- endmacro %}
