{#-
    Relative rate index (OJJDP's method; METHODS.md 3) along the chain residents -> stops ->
    searches -> arrests -> use of force, by agency, year and perceived race. At each decision
    point the rate is events / the previous stage's count (residents for the first), and the RRI
    (column ratio) is the group's rate / the comparison group's; values below 1 read as 1/RRI.
      1 stop          persons stopped (fct_stops) per 1,000 residents (benchmark_population)
      2 search        persons searched per 100 persons stopped with search status recorded
      3 arrest        arrestees (fct_arrests, at a stop or not) per 100 persons searched
      4 use_of_force  persons subjected to force (fct_use_of_force_subjects) per 100 arrestees
    Stages 2 is nested in its base (binomial; Katz ratio interval); the others are counts over
    an exposure (Poisson; ratio interval exp(ln(ratio) -/+ 1.96 * sqrt(1/a + 1/b))), the standard
    log-ratio intervals, not OJJDP's. A decision point appears only for an agency-year that sent
    both datasets it needs (an agency without force data gets no force row, not an RRI of 0).
    is_insufficient (flag insufficient_cases, OJJDP's "S") when the group's or the comparison
    group's base (its events, for the residents base) is below var minimum_cases.
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

stop_counts as (

    select
        agency_id,
        stop_year as period,
        subject_race,
        {{ weighted_count('stops') }} as stops,
        {{ weighted_count('stops', 'search_conducted is not null') }} as stops_search_recorded,
        {{ weighted_count('stops', 'search_conducted') }} as searches

    from stop_cells
    group by agency_id, stop_year, subject_race

),

arrest_counts as (

    select
        agency_id,
        arrest_year as period,
        subject_race,
        count(*) as arrests

    from arrests
    group by agency_id, arrest_year, subject_race

),

force_counts as (

    select
        force_subjects.agency_id,
        force_incidents.incident_year as period,
        force_subjects.subject_race,
        count(*) as force_subjects

    from force_subjects

    inner join force_incidents
        on force_subjects.uof_id = force_incidents.uof_id

    group by force_subjects.agency_id, force_incidents.incident_year, force_subjects.subject_race

),

benchmarks as (

    {{ benchmark_population('stop_counts', 'population') }}

),

stop_years as (

    select distinct agency_id, period from stop_counts

),

searched_years as (

    select agency_id, period from stop_counts
    group by agency_id, period
    having sum(stops_search_recorded) > 0

),

arrest_years as (

    select distinct agency_id, period from arrest_counts

),

force_years as (

    select distinct agency_id, period from force_counts

),

-- every group seen at any stage or among the residents, for every agency-year
groups as (

    select agency_id, period, subject_race from stop_counts
    union
    select agency_id, period, subject_race from arrest_counts
    union
    select agency_id, period, subject_race from force_counts
    union
    select agency_id, period, subject_race from benchmarks

),

stages as (

    select
        groups.agency_id,
        groups.period,
        groups.subject_race,
        1 as decision_point_order,
        'stop' as decision_point,
        'residents' as base,
        coalesce(stop_counts.stops, 0) as numerator,
        benchmarks.population as denominator,
        false as denominator_is_count,
        'poisson' as interval_kind,
        cast(1000 as double precision) as scale

    from groups
    inner join stop_years
        on groups.agency_id = stop_years.agency_id and groups.period = stop_years.period
    left join stop_counts
        on groups.agency_id = stop_counts.agency_id and groups.period = stop_counts.period
        and groups.subject_race = stop_counts.subject_race
    left join benchmarks
        on groups.agency_id = benchmarks.agency_id and groups.period = benchmarks.period
        and groups.subject_race = benchmarks.subject_race

    union all

    select
        groups.agency_id,
        groups.period,
        groups.subject_race,
        2,
        'search',
        'stops',
        coalesce(stop_counts.searches, 0),
        coalesce(stop_counts.stops_search_recorded, 0),
        true,
        'binomial',
        cast(100 as double precision)

    from groups
    inner join searched_years
        on groups.agency_id = searched_years.agency_id and groups.period = searched_years.period
    left join stop_counts
        on groups.agency_id = stop_counts.agency_id and groups.period = stop_counts.period
        and groups.subject_race = stop_counts.subject_race

    union all

    select
        groups.agency_id,
        groups.period,
        groups.subject_race,
        3,
        'arrest',
        'searches',
        coalesce(arrest_counts.arrests, 0),
        coalesce(stop_counts.searches, 0),
        true,
        'poisson',
        cast(100 as double precision)

    from groups
    inner join arrest_years
        on groups.agency_id = arrest_years.agency_id and groups.period = arrest_years.period
    inner join searched_years
        on groups.agency_id = searched_years.agency_id and groups.period = searched_years.period
    left join stop_counts
        on groups.agency_id = stop_counts.agency_id and groups.period = stop_counts.period
        and groups.subject_race = stop_counts.subject_race
    left join arrest_counts
        on groups.agency_id = arrest_counts.agency_id and groups.period = arrest_counts.period
        and groups.subject_race = arrest_counts.subject_race

    union all

    select
        groups.agency_id,
        groups.period,
        groups.subject_race,
        4,
        'use_of_force',
        'arrests',
        coalesce(force_counts.force_subjects, 0),
        coalesce(arrest_counts.arrests, 0),
        true,
        'poisson',
        cast(100 as double precision)

    from groups
    inner join force_years
        on groups.agency_id = force_years.agency_id and groups.period = force_years.period
    inner join arrest_years
        on groups.agency_id = arrest_years.agency_id and groups.period = arrest_years.period
    left join arrest_counts
        on groups.agency_id = arrest_counts.agency_id and groups.period = arrest_counts.period
        and groups.subject_race = arrest_counts.subject_race
    left join force_counts
        on groups.agency_id = force_counts.agency_id and groups.period = force_counts.period
        and groups.subject_race = force_counts.subject_race

),

cells as (

    select
        stages.agency_id,
        stages.period,
        'agency' as unit_type,
        'all' as unit,
        'rri_' || stages.decision_point as measure,
        'race' as group_type,
        stages.subject_race as group_name,
        agencies.reference_group as comparison_group,
        stages.numerator,
        stages.denominator,
        stages.denominator_is_count,
        stages.interval_kind,
        stages.scale,
        cast(stages.decision_point_order as integer) as decision_point_order,
        stages.decision_point,
        stages.base,
        'OJJDP relative rate index: estimate = ' || cast(cast(stages.scale as integer) as varchar)
        || ' * ' || stages.decision_point || ' events / ' || stages.base
        || ' (the previous decision point); ratio (the RRI) = estimate / that of the comparison'
        || ' group; 95% interval '
        || case
            when stages.interval_kind = 'binomial'
                then 'Wilson; RRI exp(ln(RRI) -/+ 1.96 * sqrt(1/a - 1/n1 + 1/b - 1/n2))'
            else 'Poisson (Byar); RRI exp(ln(RRI) -/+ 1.96 * sqrt(1/a + 1/b))'
        end
        || '; insufficient_cases when a base (events, for residents) is below {{ var("minimum_cases") }}.'
        || ' Lantern METHODS.md 3, 9.' as method

    from stages

    inner join agencies
        on stages.agency_id = agencies.agency_id

),

{{ measure_comparisons('cells', 'measures', extra_columns=['decision_point_order', 'decision_point', 'base']) }},

final as (

    select
        *,
        {{ measure_flags() }}

    from measures

)

select * from final
