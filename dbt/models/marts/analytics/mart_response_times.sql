{#-
    Call-for-service response times (DESIGN.md 5; issue 5 item 7): minutes from the call received
    to the first unit's arrival (fct_calls_for_service.response_seconds / 60), by agency and the
    year the call was received, for the agency (unit all) and each beat (unit_type beat), all
    calls and by dispatch priority (group_type priority, group_name '1' the most urgent):

      response_minutes_median   the median (interpolated), with the distribution-free 95%
                                interval of order statistics: ranks floor(n/2 - 1.96 sqrt(n)/2)
                                and ceil(n/2 + 1.96 sqrt(n)/2) + 1, clipped to 1..n;
      response_minutes_p90      the 90th percentile (interpolated), the same order-statistic
                                interval at p = 0.9: floor(np - 1.96 sqrt(np(1-p))) and
                                ceil(np + 1.96 sqrt(np(1-p))) + 1;
      response_minutes_mean     the mean, with a 95% t interval (mean -/+ t(0.975, n-1) sd/sqrt(n)).

    numerator = calls with a response time; cells of fewer than var small_numbers_threshold
    calls (and their complementary cells) are suppressed (mean_measures).
-#}
{%- set quantiles = [('response_minutes_median', 0.5), ('response_minutes_p90', 0.9)] -%}

with

calls as (

    select * from {{ ref('fct_calls_for_service') }}

),

responses as (

    select
        agency_id,
        received_year as period,
        beat,
        cast(priority as varchar) as priority,
        response_seconds / cast(60 as double precision) as minutes

    from calls
    where response_seconds is not null

),

grouped as materialized (

    select agency_id, period, 'agency' as unit_type, 'all' as unit, 'all' as group_type, 'all' as group_name, minutes
    from responses
    union all
    select agency_id, period, 'agency', 'all', 'priority', priority, minutes
    from responses
    where priority is not null
    union all
    select agency_id, period, 'beat', beat, 'all', 'all', minutes
    from responses
    where beat is not null
    union all
    select agency_id, period, 'beat', beat, 'priority', priority, minutes
    from responses
    where beat is not null and priority is not null

),

ranked as materialized (

    select
        *,
        row_number() over (cell order by minutes) as rank_in_cell,
        count(*) over cell as cell_n

    from grouped
    window cell as (partition by agency_id, period, unit_type, unit, group_type, group_name)

),

cells as materialized (

    {%- for measure, p in quantiles %}
    select
        agency_id,
        period,
        unit_type,
        unit,
        '{{ measure }}' as measure,
        group_type,
        group_name,
        count(*) as n,
        percentile_cont({{ p }}) within group (order by minutes) as estimate,
        min(minutes) filter (
            where rank_in_cell = greatest(1, floor(cell_n * {{ p }} - 1.959964 * sqrt(cell_n * {{ p }} * {{ 1 - p }})))
        ) as lower,
        min(minutes) filter (
            where rank_in_cell = least(cell_n, ceil(cell_n * {{ p }} + 1.959964 * sqrt(cell_n * {{ p }} * {{ 1 - p }})) + 1)
        ) as upper,
        'estimate = the {{ "median" if p == 0.5 else "90th percentile" }} (interpolated) of the'
        || ' minutes from the call received to the first unit''s arrival, by the year received;'
        || ' 95% distribution-free interval from the order statistics of ranks floor(np - 1.96'
        || ' sqrt(np(1-p))) and ceil(np + 1.96 sqrt(np(1-p))) + 1 (p = {{ p }}), clipped to 1..n;'
        || ' n = numerator = calls with a response time. Lantern METHODS.md 8, 9.' as method
    from ranked
    group by agency_id, period, unit_type, unit, group_type, group_name
    union all
    {%- endfor %}
    select
        agency_id,
        period,
        unit_type,
        unit,
        'response_minutes_mean',
        group_type,
        group_name,
        count(*),
        avg(minutes),
        avg(minutes) - {{ t_quantile_975('count(*) - 1') }} * stddev_samp(minutes) / sqrt(count(*)),
        avg(minutes) + {{ t_quantile_975('count(*) - 1') }} * stddev_samp(minutes) / sqrt(count(*)),
        'estimate = the mean of the minutes from the call received to the first unit''s arrival,'
        || ' by the year received; 95% interval mean -/+ t(0.975, n - 1) * sd / sqrt(n); n ='
        || ' numerator = calls with a response time. Lantern METHODS.md 8, 9.'
    from ranked
    group by agency_id, period, unit_type, unit, group_type, group_name

),

{{ mean_measures('cells', 'measures') }}

select * from measures
