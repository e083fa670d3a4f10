{#-
    Benchmark test (METHODS.md 1, 2): persons stopped, arrestees and persons subjected to force
    per 1,000 residents by agency, year and perceived race, against the agency's population
    benchmark (dim_population, the year chosen by benchmark_population), and the disparity ratio
    to the agency's reference group with a 95% log-scale interval. Events are Poisson counts over
    the residents as exposure (a resident can be stopped many times and non-residents are
    stopped too). A dataset an agency does not send gives no rows, not zeros: a group with
    residents but no events is 0 only in a year the agency sent that dataset.
-#}

with

stop_cells as (

    -- fct_stops counted once by the values the marts read (int_stop_cells, incremental by
    -- agency-year); `stops` is the people a cell stands for
    {{ stop_cells() }}

),

arrests as (

    select * from {{ ref('fct_arrests') }}

),

force_subjects as (

    select * from {{ ref('fct_use_of_force_subjects') }}

),

force_incidents as (

    select * from {{ ref('fct_use_of_force_incidents') }}

),

agencies as (

    select * from {{ ref('dim_agencies') }}

),

population as (

    select * from {{ ref('dim_population') }}

),

events as (

    -- `records`: how many records a row stands for (a stop cell's people, else 1)
    select agency_id, stop_year as period, subject_race, 'stops' as event, stops as records
    from stop_cells
    union all
    select agency_id, arrest_year, subject_race, 'arrests', 1
    from arrests
    union all
    select force_subjects.agency_id, force_incidents.incident_year, force_subjects.subject_race, 'use_of_force_subjects', 1
    from force_subjects
    inner join force_incidents
        on force_subjects.uof_id = force_incidents.uof_id

),

event_counts as (

    select
        agency_id,
        period,
        event,
        subject_race,
        {{ weighted_count('records') }} as events

    from events
    group by agency_id, period, event, subject_race

),

agency_event_years as (

    select distinct agency_id, period, event
    from event_counts

),

benchmarks as (

    {{ benchmark_population('agency_event_years', 'population') }}

),

benchmark_cells as (

    select
        agency_event_years.agency_id,
        agency_event_years.period,
        agency_event_years.event,
        benchmarks.subject_race,
        benchmarks.population,
        benchmarks.population_year

    from agency_event_years

    inner join benchmarks
        on agency_event_years.agency_id = benchmarks.agency_id
        and agency_event_years.period = benchmarks.period

),

cells as (

    select
        coalesce(event_counts.agency_id, benchmark_cells.agency_id) as agency_id,
        coalesce(event_counts.period, benchmark_cells.period) as period,
        'agency' as unit_type,
        'all' as unit,
        coalesce(event_counts.event, benchmark_cells.event) || '_per_1000_residents' as measure,
        'race' as group_type,
        coalesce(event_counts.subject_race, benchmark_cells.subject_race) as group_name,
        agencies.reference_group as comparison_group,
        coalesce(event_counts.events, 0) as numerator,
        benchmark_cells.population as denominator,
        false as denominator_is_count,
        'poisson' as interval_kind,
        cast(1000 as double precision) as scale,
        cast(benchmark_cells.population_year as integer) as population_year,
        'estimate = 1000 * events / residents of population_year (the year itself or the latest'
        || ' earlier year supplied); 95% Poisson interval of the events (Byar) / residents;'
        || ' ratio = estimate / that of the comparison group, 95% interval exp(ln(ratio) -/+'
        || ' 1.96 * sqrt(1/a + 1/b)). Lantern METHODS.md 1, 2, 9.' as method

    from event_counts

    full outer join benchmark_cells
        on event_counts.agency_id = benchmark_cells.agency_id
        and event_counts.period = benchmark_cells.period
        and event_counts.event = benchmark_cells.event
        and event_counts.subject_race = benchmark_cells.subject_race

    inner join agencies
        on coalesce(event_counts.agency_id, benchmark_cells.agency_id) = agencies.agency_id

),

{{ measure_comparisons('cells', 'measures', extra_columns=['population_year']) }},

final as (

    select
        *,
        {{ measure_flags() }}

    from measures

)

select * from final
