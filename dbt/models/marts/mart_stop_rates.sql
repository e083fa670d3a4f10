{#-
    Stops per 1,000 residents and the disparity ratio to the agency's reference group by agency,
    year and perceived race (METHODS.md 1, 2). The benchmark is the population of the stop year,
    or, because census estimates lag, of the latest earlier year the agency supplied (else its
    earliest later year); one population year per agency-year so groups are never compared on
    different years. Groups with residents but no stops are kept with 0 stops; groups without a
    population row (e.g. unknown) are kept with null rates. Stop counts from 1 to
    small_numbers_threshold - 1 are suppressed with their complementary cell (suppress_small_counts:
    the races of one agency-year add up to a published total), and nothing is derived from them.
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

population as (

    select * from {{ ref('stg_raw__population') }}

),

stop_counts as (

    select
        agency_id,
        stop_year,
        subject_race,
        {{ weighted_count('stops') }} as stops

    from stop_cells
    group by agency_id, stop_year, subject_race

),

agency_years as (

    select distinct
        agency_id,
        stop_year

    from stop_counts

),

population_years as (

    select distinct
        agency_id,
        population_year

    from population

),

benchmark_years as (

    select
        agency_years.agency_id,
        agency_years.stop_year,
        population_years.population_year,
        row_number() over (
            partition by agency_years.agency_id, agency_years.stop_year
            order by
                case when population_years.population_year <= agency_years.stop_year then 0 else 1 end,
                abs(population_years.population_year - agency_years.stop_year)
        ) as year_preference

    from agency_years

    inner join population_years
        on agency_years.agency_id = population_years.agency_id

),

benchmarks as (

    select
        benchmark_years.agency_id,
        benchmark_years.stop_year,
        population.population_year,
        population.subject_race,
        population.population

    from benchmark_years

    inner join population
        on benchmark_years.agency_id = population.agency_id
        and benchmark_years.population_year = population.population_year

    where benchmark_years.year_preference = 1

),

cells as (

    select
        coalesce(stop_counts.agency_id, benchmarks.agency_id) as agency_id,
        coalesce(stop_counts.stop_year, benchmarks.stop_year) as stop_year,
        coalesce(stop_counts.subject_race, benchmarks.subject_race) as subject_race,
        coalesce(stop_counts.stops, 0) as stops,
        benchmarks.population,
        benchmarks.population_year

    from stop_counts

    full outer join benchmarks
        on stop_counts.agency_id = benchmarks.agency_id
        and stop_counts.stop_year = benchmarks.stop_year
        and stop_counts.subject_race = benchmarks.subject_race

),

{{ suppress_small_counts('cells', 'stops', [['agency_id', 'stop_year']], 'subject_race', name='cells_suppressed') }},

published_cells as (

    select
        agency_id,
        stop_year,
        subject_race,
        case when not stops_is_suppressed then stops end as stops,
        stops as unsuppressed_stops,
        stops_is_suppressed as is_suppressed,
        population,
        population_year

    from cells_suppressed

),

compared as (

    select
        cells.*,
        agencies.reference_group,
        cells.subject_race = agencies.reference_group as is_reference_group,
        reference_cells.stops as reference_stops,
        reference_cells.population as reference_population

    from published_cells as cells

    inner join agencies
        on cells.agency_id = agencies.agency_id

    left join published_cells as reference_cells
        on cells.agency_id = reference_cells.agency_id
        and cells.stop_year = reference_cells.stop_year
        and agencies.reference_group = reference_cells.subject_race

),

final as (

    select
        agency_id,
        stop_year,
        subject_race,
        stops,
        population,
        population_year,
        round(cast(1000 as double precision) * stops / nullif(population, 0), 6) as stops_per_1000,
        round(cast(1000 as double precision) * {{ poisson_interval('stops', 'lower') }} / nullif(population, 0), 6)
            as stops_per_1000_lower,
        round(cast(1000 as double precision) * {{ poisson_interval('stops', 'upper') }} / nullif(population, 0), 6)
            as stops_per_1000_upper,
        reference_group,
        round(
            {{ rate_ratio('stops', 'population', 'reference_stops', 'reference_population') }}, 6
        ) as disparity_ratio,
        round(case when not is_reference_group then
            {{ log_ratio_interval('stops', 'population', 'reference_stops', 'reference_population', 'lower') }}
        end, 6) as disparity_ratio_lower,
        round(case when not is_reference_group then
            {{ log_ratio_interval('stops', 'population', 'reference_stops', 'reference_population', 'upper') }}
        end, 6) as disparity_ratio_upper,
        unsuppressed_stops < {{ threshold }} or coalesce(population < {{ threshold }}, false)
            as is_small_numbers,
        is_suppressed,
        'stops_per_1000 = 1000 * stops / population (residents of population_year: the stop year'
        || ' or the latest earlier year supplied); 95% Poisson interval on the stop count (Byar''s'
        || ' approximation) divided by population; disparity_ratio = stops_per_1000 / that of the'
        || ' agency''s reference group in the same year, 95% interval exp(ln(ratio) -/+ 1.96 *'
        || ' sqrt(1/a - 1/n1 + 1/b - 1/n2)) (log scale); is_small_numbers when stops or population'
        || ' < {{ threshold }}; stops from 1 to {{ threshold - 1 }} and their complementary cell'
        || ' suppressed (null). Lantern METHODS.md 1, 2, 9.' as method

    from compared

)

select * from final
