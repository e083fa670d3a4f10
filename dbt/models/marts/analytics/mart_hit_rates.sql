{#-
    Outcome test (METHODS.md 5; Becker, Knowles-Persico-Todd): hit rates — searches that found
    contraband / searches whose outcome is recorded (contraband found without a search is no
    hit, RIPA Board) — by agency, year and perceived race, three ways:
      hit_rate (unit 'all')                 pooled over the agency;
      hit_rate (unit_type 'district')       within each district;
      hit_rate_district_average (unit 'all') the Stanford Open Policing Project's aggregate: the
        unweighted mean of the group's district hit rates, so that a group searched mostly in
        districts with high or low hit rates is not mistaken for a group held to another bar.
        A group is compared with its comparison group over the districts where both have at least
        one search with a recorded outcome (the comparison group's own row averages all its
        districts). Interval: mean -/+ 1.96 * sqrt(sum p(1-p)/n) / D (districts independent);
        ratio interval exp(ln(ratio) -/+ 1.96 * sqrt(var_g / mean_g^2 + var_c / mean_c^2)).
    A lower hit rate for a group than for the comparison group suggests it was searched on less
    evidence (inframarginality caveat: the threshold test, mart_threshold_test, addresses it).
-#}
{%- set k = var('small_numbers_threshold') | int -%}
{%- set minimum = var('minimum_cases') | int -%}
{%- set z = 1.959963984540054 -%}

with

stop_cells as (

    -- fct_stops counted once by the values the marts read (int_stop_cells, incremental by
    -- agency-year); `stops` is the people a cell stands for
    {{ stop_cells() }}

),

agencies as (

    select * from {{ ref('dim_agencies') }}

),

searches as (

    select
        agency_id,
        stop_year as period,
        district,
        subject_race,
        contraband_found,
        stops as people

    from stop_cells
    where search_conducted and contraband_found is not null

),

units as (

    select 'agency' as unit_type, 'all' as unit, searches.* from searches
    union all
    select 'district', district, searches.* from searches
    where district is not null

),

counts as (

    select
        agency_id,
        period,
        unit_type,
        unit,
        subject_race,
        {{ weighted_count('people') }} as searches,
        {{ weighted_count('people', 'contraband_found') }} as hits

    from units
    group by agency_id, period, unit_type, unit, subject_race

),

cells as (

    select
        counts.agency_id,
        counts.period,
        counts.unit_type,
        counts.unit,
        'hit_rate' as measure,
        'race' as group_type,
        counts.subject_race as group_name,
        agencies.reference_group as comparison_group,
        counts.hits as numerator,
        counts.searches as denominator,
        true as denominator_is_count,
        'binomial' as interval_kind,
        1.0 as scale,
        cast(null as integer) as districts_averaged,
        'estimate = searches that found contraband / searches with the outcome recorded (outcome'
        || ' test); 95% Wilson interval; ratio = estimate / that of the comparison group, 95%'
        || ' interval exp(ln(ratio) -/+ 1.96 * sqrt(1/a - 1/n1 + 1/b - 1/n2)) (Katz). Lantern'
        || ' METHODS.md 5, 9.' as method

    from counts

    inner join agencies
        on counts.agency_id = agencies.agency_id

),

{{ measure_comparisons('cells', 'measures', extra_columns=['districts_averaged']) }},

district_rates as (

    select
        agency_id,
        period,
        unit as district,
        subject_race,
        searches,
        hits,
        cast(hits as double precision) / searches as hit_rate,
        (cast(hits as double precision) / searches)
            * (1.0 - cast(hits as double precision) / searches) / searches as variance

    from counts
    where unit_type = 'district'

),

district_pairs as (

    select
        own.agency_id,
        own.period,
        own.subject_race as group_name,
        agencies.reference_group as comparison_group,
        own.searches,
        own.hits,
        own.hit_rate,
        own.variance,
        comparison.searches as comparison_searches,
        comparison.hits as comparison_hits,
        comparison.hit_rate as comparison_hit_rate,
        comparison.variance as comparison_variance

    from district_rates as own

    inner join agencies
        on own.agency_id = agencies.agency_id

    inner join district_rates as comparison
        on own.agency_id = comparison.agency_id
        and own.period = comparison.period
        and own.district = comparison.district
        and comparison.subject_race = agencies.reference_group

),

averaged as (

    select
        agency_id,
        period,
        'agency' as unit_type,
        'all' as unit,
        'hit_rate_district_average' as measure,
        'race' as group_type,
        group_name,
        comparison_group,
        sum(hits) as numerator,
        sum(searches) as denominator,
        avg(hit_rate) as mean_rate,
        sum(variance) / (count(*) * count(*)) as mean_variance,
        sum(comparison_hits) as comparison_numerator,
        sum(comparison_searches) as comparison_denominator,
        avg(comparison_hit_rate) as comparison_mean_rate,
        sum(comparison_variance) / (count(*) * count(*)) as comparison_mean_variance,
        cast(count(*) as integer) as districts_averaged

    from district_pairs
    group by agency_id, period, group_name, comparison_group

),

{{ suppress_small_counts('averaged', 'numerator', [['agency_id', 'period']], 'group_name', name='averaged_numerators_suppressed') }},

{{ suppress_small_counts('averaged_numerators_suppressed', 'denominator', [['agency_id', 'period']], 'group_name', name='averaged_suppressed') }},

averaged_measures as (

    select
        agency_id,
        cast(period as integer) as period,
        unit_type,
        unit,
        measure,
        group_type,
        group_name,
        comparison_group,
        numerator_is_suppressed or denominator_is_suppressed as is_suppressed,
        coalesce(
            comparison_numerator between 1 and {{ k - 1 }}
            or comparison_denominator between 1 and {{ k - 1 }},
            false
        ) as is_comparison_suppressed,
        numerator as raw_numerator,
        denominator as raw_denominator,
        comparison_numerator as raw_comparison_numerator,
        comparison_denominator as raw_comparison_denominator,
        mean_rate,
        mean_variance,
        comparison_mean_rate,
        comparison_mean_variance,
        districts_averaged

    from averaged_suppressed

),

averaged_final as (

    select
        agency_id,
        period,
        unit_type,
        unit,
        measure,
        group_type,
        group_name,
        comparison_group,
        cast(case when not is_suppressed then raw_numerator end as bigint) as numerator,
        cast(case when not is_suppressed then raw_denominator end as bigint) as denominator,
        round(case when not is_suppressed then mean_rate end, 6) as estimate,
        round(case when not is_suppressed then
            greatest(0.0, mean_rate - {{ z }} * sqrt(mean_variance))
        end, 6) as lower,
        round(case when not is_suppressed then
            least(1.0, mean_rate + {{ z }} * sqrt(mean_variance))
        end, 6) as upper,
        cast(case when not is_comparison_suppressed then raw_comparison_numerator end as bigint)
            as comparison_numerator,
        cast(case when not is_comparison_suppressed then raw_comparison_denominator end as bigint)
            as comparison_denominator,
        round(case when not is_comparison_suppressed then comparison_mean_rate end, 6)
            as comparison_estimate,
        round(case when not is_suppressed and not is_comparison_suppressed and comparison_mean_rate > 0 then
            mean_rate / comparison_mean_rate
        end, 6) as ratio,
        round(case
            when not is_suppressed and not is_comparison_suppressed and mean_rate > 0
                and comparison_mean_rate > 0 and group_name != comparison_group then
                mean_rate / comparison_mean_rate * exp(-{{ z }} * sqrt(
                    mean_variance / (mean_rate * mean_rate)
                    + comparison_mean_variance / (comparison_mean_rate * comparison_mean_rate)
                ))
        end, 6) as ratio_lower,
        round(case
            when not is_suppressed and not is_comparison_suppressed and mean_rate > 0
                and comparison_mean_rate > 0 and group_name != comparison_group then
                mean_rate / comparison_mean_rate * exp({{ z }} * sqrt(
                    mean_variance / (mean_rate * mean_rate)
                    + comparison_mean_variance / (comparison_mean_rate * comparison_mean_rate)
                ))
        end, 6) as ratio_upper,
        raw_numerator < {{ k }} or raw_denominator < {{ k }} as is_small_numbers,
        is_suppressed,
        raw_denominator < {{ minimum }} or raw_comparison_denominator < {{ minimum }}
            as is_insufficient,
        districts_averaged,
        'estimate = unweighted mean over districts of the district hit rates (Stanford Open'
        || ' Policing Project), over the districts where the group and the comparison group both'
        || ' have a search with the outcome recorded; numerator and denominator are the hits and'
        || ' searches in those districts; 95% interval mean -/+ 1.96 * sqrt(sum p(1-p)/n) / D;'
        || ' ratio = mean / mean of the comparison group over the same districts, 95% interval'
        || ' exp(ln(ratio) -/+ 1.96 * sqrt(var_g / mean_g^2 + var_c / mean_c^2)) (delta method).'
        || ' Lantern METHODS.md 5, 9.' as method

    from averaged_measures

),

unioned as (

    select
        agency_id, period, unit_type, unit, measure, group_type, group_name, comparison_group,
        numerator, denominator, estimate, lower, upper, comparison_numerator,
        comparison_denominator, comparison_estimate, ratio, ratio_lower, ratio_upper,
        is_small_numbers, is_suppressed, is_insufficient, districts_averaged, method
    from measures
    union all
    select
        agency_id, period, unit_type, unit, measure, group_type, group_name, comparison_group,
        numerator, denominator, estimate, lower, upper, comparison_numerator,
        comparison_denominator, comparison_estimate, ratio, ratio_lower, ratio_upper,
        is_small_numbers, is_suppressed, is_insufficient, districts_averaged, method
    from averaged_final

),

final as (

    select
        *,
        {{ measure_flags() }}

    from unioned

)

select * from final
