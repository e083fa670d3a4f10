{#-
    Search rate (searches / stops) and hit rate (contraband found / searches; contraband without
    a search is not a hit, RIPA Board) by agency, year and perceived race, each with its ratio to
    the agency's reference group in the same year (METHODS.md 3, 4, 5). Rates are rounded to 6
    decimals so published files and unit tests compare exactly. Every count from 1 to
    small_numbers_threshold - 1 is suppressed with its complementary cell (suppress_small_counts,
    over the races of one agency-year), and no rate or ratio is computed from a suppressed count.
-#}
{%- set threshold = var('small_numbers_threshold') | int -%}

with

stop_cells as (

    -- fct_stops counted once by the values the marts read (int_stop_cells, incremental by
    -- agency-year); `stops` is the people a cell stands for
    {{ stop_cells() }}

),

agencies as (

    select * from {{ ref('dim_agencies') }}

),

counts as (

    select
        agency_id,
        stop_year,
        subject_race,
        {{ weighted_count('stops') }} as stops,
        -- Denominators count only rows that record the field: an agency that does not record
        -- searches or contraband gets a null rate, never a false zero.
        {{ weighted_count('stops', 'search_conducted is not null') }} as stops_search_recorded,
        {{ weighted_count('stops', 'search_conducted') }} as searches,
        {{ weighted_count('stops', 'search_conducted and contraband_found is not null') }} as searches_outcome_recorded,
        {{ weighted_count('stops', 'search_conducted and contraband_found') }} as hits

    from stop_cells
    group by agency_id, stop_year, subject_race

),

{{ suppress_small_counts('counts', 'stops', [['agency_id', 'stop_year']], 'subject_race', name='stops_suppressed') }},

{{ suppress_small_counts('stops_suppressed', 'stops_search_recorded', [['agency_id', 'stop_year']], 'subject_race', name='stops_search_recorded_suppressed') }},

{{ suppress_small_counts('stops_search_recorded_suppressed', 'searches', [['agency_id', 'stop_year']], 'subject_race', name='searches_suppressed') }},

{{ suppress_small_counts('searches_suppressed', 'searches_outcome_recorded', [['agency_id', 'stop_year']], 'subject_race', name='searches_outcome_recorded_suppressed') }},

{{ suppress_small_counts('searches_outcome_recorded_suppressed', 'hits', [['agency_id', 'stop_year']], 'subject_race', name='hits_suppressed') }},

published_counts as (

    select
        agency_id,
        stop_year,
        subject_race,
        case when not stops_is_suppressed then stops end as stops,
        case when not stops_search_recorded_is_suppressed then stops_search_recorded end as stops_search_recorded,
        case when not searches_is_suppressed then searches end as searches,
        case when not searches_outcome_recorded_is_suppressed then searches_outcome_recorded end as searches_outcome_recorded,
        case when not hits_is_suppressed then hits end as hits,
        stops as unsuppressed_stops,
        searches as unsuppressed_searches,
        stops_is_suppressed
            or stops_search_recorded_is_suppressed
            or searches_is_suppressed
            or searches_outcome_recorded_is_suppressed
            or hits_is_suppressed as is_suppressed

    from hits_suppressed

),

compared as (

    select
        counts.*,
        agencies.reference_group,
        counts.subject_race = agencies.reference_group as is_reference_group,
        reference_counts.stops_search_recorded as reference_stops,
        reference_counts.searches as reference_searches,
        reference_counts.searches_outcome_recorded as reference_searches_outcome_recorded,
        reference_counts.hits as reference_hits

    from published_counts as counts

    inner join agencies
        on counts.agency_id = agencies.agency_id

    left join published_counts as reference_counts
        on counts.agency_id = reference_counts.agency_id
        and counts.stop_year = reference_counts.stop_year
        and agencies.reference_group = reference_counts.subject_race

),

final as (

    select
        agency_id,
        stop_year,
        subject_race,
        stops,
        stops_search_recorded,
        searches,
        round(cast(searches as double precision) / nullif(stops_search_recorded, 0), 6)
            as search_rate,
        round({{ wilson_interval('searches', 'stops_search_recorded', 'lower') }}, 6)
            as search_rate_lower,
        round({{ wilson_interval('searches', 'stops_search_recorded', 'upper') }}, 6)
            as search_rate_upper,
        searches_outcome_recorded,
        hits,
        round(cast(hits as double precision) / nullif(searches_outcome_recorded, 0), 6) as hit_rate,
        round({{ wilson_interval('hits', 'searches_outcome_recorded', 'lower') }}, 6)
            as hit_rate_lower,
        round({{ wilson_interval('hits', 'searches_outcome_recorded', 'upper') }}, 6)
            as hit_rate_upper,
        reference_group,
        round(
            {{ rate_ratio('searches', 'stops_search_recorded', 'reference_searches', 'reference_stops') }}, 6
        ) as search_rate_ratio,
        round(case when not is_reference_group then
            {{ log_ratio_interval('searches', 'stops_search_recorded', 'reference_searches', 'reference_stops', 'lower') }}
        end, 6) as search_rate_ratio_lower,
        round(case when not is_reference_group then
            {{ log_ratio_interval('searches', 'stops_search_recorded', 'reference_searches', 'reference_stops', 'upper') }}
        end, 6) as search_rate_ratio_upper,
        round(
            {{ rate_ratio('hits', 'searches_outcome_recorded', 'reference_hits', 'reference_searches_outcome_recorded') }}, 6
        ) as hit_rate_ratio,
        round(case when not is_reference_group then
            {{ log_ratio_interval('hits', 'searches_outcome_recorded', 'reference_hits', 'reference_searches_outcome_recorded', 'lower') }}
        end, 6) as hit_rate_ratio_lower,
        round(case when not is_reference_group then
            {{ log_ratio_interval('hits', 'searches_outcome_recorded', 'reference_hits', 'reference_searches_outcome_recorded', 'upper') }}
        end, 6) as hit_rate_ratio_upper,
        unsuppressed_stops < {{ threshold }} or unsuppressed_searches < {{ threshold }}
            as is_small_numbers,
        is_suppressed,
        'search_rate = searches / stops_search_recorded; hit_rate = hits / searches_outcome_recorded, a hit being contraband found'
        || ' in a search (outcome test, pooled over districts); 95% Wilson score intervals;'
        || ' *_ratio = rate / rate of the agency''s reference group in the same year, 95%'
        || ' interval exp(ln(ratio) -/+ 1.96 * sqrt(1/a - 1/n1 + 1/b - 1/n2)) (Katz log scale);'
        || ' is_small_numbers when stops or searches < {{ threshold }}; counts from 1 to'
        || ' {{ threshold - 1 }} and their complementary cells suppressed (null). Lantern'
        || ' METHODS.md 3-5, 9.' as method

    from compared

)

select * from final
