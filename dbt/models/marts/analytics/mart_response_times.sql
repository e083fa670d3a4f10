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

sorted as materialized (

    -- each cell's minutes in order, once: its quantiles and the order statistics of their
    -- intervals are positions in that list (a window ranking every call and percentile_cont
    -- sorted the 13 million grouped rows of 10 million stops' calls twice: 35 s)
    select
        agency_id,
        period,
        unit_type,
        unit,
        group_type,
        group_name,
        count(*) as n,
        array_agg(minutes order by minutes) as sorted_minutes,
        avg(minutes) as mean,
        stddev_samp(minutes) as sd

    from grouped
    group by agency_id, period, unit_type, unit, group_type, group_name

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
        n,
        -- percentile_cont: at position h = (n - 1) p (from 0, in double precision), between
        -- its floor and ceiling, interpolated as DuckDB and PostgreSQL do
        {%- set h = '(n - 1) * cast(' ~ p ~ ' as double precision)' %}
        sorted_minutes[cast(floor({{ h }}) as integer) + 1]
            + ({{ h }} - floor({{ h }}))
            * (sorted_minutes[cast(ceil({{ h }}) as integer) + 1] - sorted_minutes[cast(floor({{ h }}) as integer) + 1])
            as estimate,
        sorted_minutes[
            cast(greatest(1, floor(n * {{ p }} - 1.959964 * sqrt(n * {{ p }} * {{ 1 - p }}))) as integer)
        ] as lower,
        sorted_minutes[
            cast(least(n, ceil(n * {{ p }} + 1.959964 * sqrt(n * {{ p }} * {{ 1 - p }})) + 1) as integer)
        ] as upper,
        'estimate = the {{ "median" if p == 0.5 else "90th percentile" }} (interpolated) of the'
        || ' minutes from the call received to the first unit''s arrival, by the year received;'
        || ' 95% distribution-free interval from the order statistics of ranks floor(np - 1.96'
        || ' sqrt(np(1-p))) and ceil(np + 1.96 sqrt(np(1-p))) + 1 (p = {{ p }}), clipped to 1..n;'
        || ' n = numerator = calls with a response time. Lantern METHODS.md 8, 9.' as method
    from sorted
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
        n,
        mean,
        mean - {{ t_quantile_975('n - 1') }} * sd / sqrt(n),
        mean + {{ t_quantile_975('n - 1') }} * sd / sqrt(n),
        'estimate = the mean of the minutes from the call received to the first unit''s arrival,'
        || ' by the year received; 95% interval mean -/+ t(0.975, n - 1) * sd / sqrt(n); n ='
        || ' numerator = calls with a response time. Lantern METHODS.md 8, 9.'
    from sorted

),

{{ mean_measures('cells', 'measures') }}

select * from measures
