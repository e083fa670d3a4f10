{#-
    Search rates (METHODS.md 4) by agency, year, unit (the agency, and each district) and
    perceived race: all searches, and the RIPA Board's split by discretion read from
    fct_stops.search_basis_detail — higher discretion: consent only; lower discretion: incident
    to arrest, inventory, warrant (probable cause, plain view, k9, officer safety and other bases
    are in neither). The denominator is every person stopped whose search status is recorded,
    so the three rates share it and a discretion rate is a share of stops, not of searches. A
    search without a recorded basis counts in `search_rate` only (mart_decision_log counts them).
-#}

with

stop_cells as (

    -- fct_stops counted once by the values the marts read (int_stop_cells, incremental by
    -- agency-year); `stops` is the people a cell stands for
    {{ stop_cells() }}

),

agencies as (

    select * from {{ ref('dim_agencies') }}

),

recorded as (

    select
        agency_id,
        stop_year as period,
        district,
        subject_race,
        search_conducted,
        case
            when search_basis_detail = 'consent' then 'higher'
            when search_basis_detail in ('incident_to_arrest', 'inventory', 'warrant') then 'lower'
        end as discretion,
        stops as people

    from stop_cells
    where search_conducted is not null

),

units as (

    select 'agency' as unit_type, 'all' as unit, recorded.* from recorded
    union all
    select 'district', district, recorded.* from recorded
    where district is not null

),

counts as (

    select
        agency_id,
        period,
        unit_type,
        unit,
        subject_race,
        {{ weighted_count('people') }} as stops,
        {{ weighted_count('people', 'search_conducted') }} as searches,
        {{ weighted_count('people', "search_conducted and discretion = 'higher'") }} as higher_discretion_searches,
        {{ weighted_count('people', "search_conducted and discretion = 'lower'") }} as lower_discretion_searches

    from units
    group by agency_id, period, unit_type, unit, subject_race

),

by_measure as (

    select *, 'search_rate' as measure, searches as events from counts
    union all
    select *, 'search_rate_higher_discretion', higher_discretion_searches from counts
    union all
    select *, 'search_rate_lower_discretion', lower_discretion_searches from counts

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
        by_measure.events as numerator,
        by_measure.stops as denominator,
        true as denominator_is_count,
        'binomial' as interval_kind,
        1.0 as scale,
        case by_measure.measure
            when 'search_rate' then 'estimate = persons searched / persons stopped with search status recorded'
            when 'search_rate_higher_discretion' then 'estimate = persons searched by consent (higher discretion, RIPA Board) / persons stopped with search status recorded'
            else 'estimate = persons searched incident to arrest, for inventory or on a warrant (lower discretion, RIPA Board) / persons stopped with search status recorded'
        end
        || '; 95% Wilson interval; ratio = estimate / that of the comparison group, 95% interval'
        || ' exp(ln(ratio) -/+ 1.96 * sqrt(1/a - 1/n1 + 1/b - 1/n2)) (Katz). Lantern METHODS.md 4, 9.'
            as method

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
