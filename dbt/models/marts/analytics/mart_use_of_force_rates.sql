{#-
    Use of force per 1,000 arrests and per 10,000 stops (METHODS.md 8; DESIGN.md 5) by agency,
    year, unit (the agency, and each district) and the subject's race: persons subjected to
    force (fct_use_of_force_subjects, the year and district of the incident) over arrestees
    (fct_arrests) and persons stopped (fct_stops) of the same race, year and district. Force
    subjects are not a subset of either (force is used outside arrests and stops), so the rate
    is a Poisson count over an exposure. A measure appears only for an agency-year that sent both
    datasets; district rows assume the datasets name districts alike (dim_units lists them).
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

records as (

    select
        force_subjects.agency_id,
        force_incidents.incident_year as period,
        force_incidents.district,
        force_subjects.subject_race,
        'force' as record_type,
        -- how many records a row stands for (a stop cell's people, else 1)
        1 as records
    from force_subjects
    inner join force_incidents
        on force_subjects.uof_id = force_incidents.uof_id
    union all
    select agency_id, arrest_year, district, subject_race, 'arrest', 1
    from arrests
    union all
    select agency_id, stop_year, district, subject_race, 'stop', stops
    from stop_cells

),

units as (

    select 'agency' as unit_type, 'all' as unit, records.* from records
    union all
    select 'district', district, records.* from records
    where district is not null

),

counts as (

    select
        agency_id,
        period,
        unit_type,
        unit,
        subject_race,
        {{ weighted_count('records', "record_type = 'force'") }} as force_subjects,
        {{ weighted_count('records', "record_type = 'arrest'") }} as arrests,
        {{ weighted_count('records', "record_type = 'stop'") }} as stops

    from units
    group by agency_id, period, unit_type, unit, subject_race

),

agency_years as (

    select
        agency_id,
        period,
        count(*) filter (where record_type = 'force') > 0 as has_force,
        count(*) filter (where record_type = 'arrest') > 0 as has_arrests,
        count(*) filter (where record_type = 'stop') > 0 as has_stops

    from records
    group by agency_id, period

),

by_measure as (

    select
        counts.*,
        'use_of_force_per_1000_arrests' as measure,
        counts.arrests as base,
        cast(1000 as double precision) as scale
    from counts
    inner join agency_years
        on counts.agency_id = agency_years.agency_id and counts.period = agency_years.period
    where agency_years.has_force and agency_years.has_arrests
    union all
    select
        counts.*,
        'use_of_force_per_10000_stops',
        counts.stops,
        10000.0
    from counts
    inner join agency_years
        on counts.agency_id = agency_years.agency_id and counts.period = agency_years.period
    where agency_years.has_force and agency_years.has_stops

),

cells as (

    select
        by_measure.agency_id,
        by_measure.period,
        by_measure.unit_type,
        by_measure.unit,
        by_measure.measure,
        'race' as group_type,
        by_measure.subject_race as group_name,
        agencies.reference_group as comparison_group,
        by_measure.force_subjects as numerator,
        by_measure.base as denominator,
        true as denominator_is_count,
        'poisson' as interval_kind,
        by_measure.scale,
        'estimate = ' || cast(cast(by_measure.scale as integer) as varchar)
        || ' * persons subjected to force / '
        || case when by_measure.measure like '%arrests' then 'arrestees' else 'persons stopped' end
        || ' of the same race, year and unit; 95% Poisson interval (Byar) of the force count /'
        || ' base; ratio = estimate / that of the comparison group, 95% interval exp(ln(ratio)'
        || ' -/+ 1.96 * sqrt(1/a + 1/b)). Lantern METHODS.md 8, 9.' as method

    from by_measure

    inner join agencies
        on by_measure.agency_id = agencies.agency_id

),

{{ measure_comparisons('cells', 'measures') }},

final as (

    select
        *,
        {{ measure_flags() }}

    from measures

)

select * from final
