{#-
    Residents by group for each agency and year of `agency_years` (a CTE with agency_id and
    period), from `population` (agency_id, population_year, subject_race, population): the
    population of that year or, because census estimates lag, of the latest earlier year the
    agency supplied, else its earliest later year; one population year per agency-year so the
    groups are never compared on different years (the rule of mart_stop_rates). A select with
    agency_id, period, population_year, subject_race, population.
-#}
{% macro benchmark_population(agency_years, population) -%}
    select
        chosen.agency_id,
        chosen.period,
        population_rows.population_year,
        population_rows.subject_race,
        population_rows.population

    from (
        select
            years.agency_id,
            years.period,
            population_years.population_year,
            row_number() over (
                partition by years.agency_id, years.period
                order by
                    case when population_years.population_year <= years.period then 0 else 1 end,
                    abs(population_years.population_year - years.period)
            ) as year_preference

        from (select distinct agency_id, period from {{ agency_years }}) as years

        inner join (
            select distinct agency_id, population_year from {{ population }}
        ) as population_years
            on years.agency_id = population_years.agency_id
    ) as chosen

    inner join {{ population }} as population_rows
        on chosen.agency_id = population_rows.agency_id
        and chosen.population_year = population_rows.population_year

    where chosen.year_preference = 1
{%- endmacro %}
