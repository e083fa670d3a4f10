{#-
    fct_stops counted by every value the disparity marts read: agency, year, district, perceived
    race, search, contraband and search basis, one row per combination with its people
    (`stops`). mart_search_rates, mart_hit_rates, mart_search_hit_rates, mart_stop_rates,
    mart_benchmark_rates, mart_relative_rate_index, mart_use_of_force_rates and mart_decision_log
    sum these cells instead of reading every person stopped.

    Incremental by agency-period (issue 7): every cell carries its agency-year's fingerprint
    (rows_fingerprint of fct_stops' stop_person_id, loaded_at and mapping_hash), and a night
    counts again only the agency-years whose fingerprint changed: new stops, stops corrected
    (a correction that moves a stop to another year changes both years), an agency's stops
    remapped (new value maps or time zone rewrite them with a new mapping_hash). delete+insert
    on (agency_id, period_key) replaces their cells. An agency-year left without stops keeps one
    row with stops = 0 and no other values, so that its cells are deleted: readers take the
    cells with stops > 0. The marts join the reference group and population themselves and are built
    from the cells every night, so a changed agency or population needs no recount. A full
    refresh gives the same cells.
-#}
{{
    config(
        materialized='incremental',
        unique_key=['agency_id', 'period_key'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

{%- set fingerprinted = ['stop_person_id', 'loaded_at', 'mapping_hash'] %}

{#- (agency_id, period_key, fingerprint now or none when the agency-year has no stops left) of
    the agency-years to count again, read before the model runs and written in as literals -#}
{%- set touched = [] -%}
{%- if is_incremental() and execute -%}
    {%- set touched_query -%}
        with current_periods as (
            select
                agency_id,
                coalesce(stop_year, 0) as period_key,
                {{ rows_fingerprint(fingerprinted) }} as fingerprint
            from {{ ref('fct_stops') }}
            group by agency_id, coalesce(stop_year, 0)
        ),
        counted_periods as (
            select distinct agency_id, period_key, period_fingerprint as fingerprint
            from {{ this }}
        )
        select
            coalesce(current_periods.agency_id, counted_periods.agency_id),
            coalesce(current_periods.period_key, counted_periods.period_key),
            current_periods.fingerprint
        from current_periods
        full outer join counted_periods
            on current_periods.agency_id = counted_periods.agency_id
            and current_periods.period_key = counted_periods.period_key
        where current_periods.fingerprint is distinct from counted_periods.fingerprint
        order by 1, 2
    {%- endset -%}
    {%- set touched = run_query(touched_query).rows -%}
{%- endif %}

{%- set recounted = [] -%}
{%- set emptied = [] -%}
{%- for row in touched -%}
    {%- do (recounted if row[2] is not none else emptied).append(row) -%}
{%- endfor %}

with

stops as (

    -- only the columns counted and fingerprinted: a CTE read twice would be materialised whole
    select
        agency_id,
        stop_year,
        district,
        subject_race,
        search_conducted,
        contraband_found,
        search_basis_detail,
        {{ fingerprinted | join(',\n        ') }}

    from {{ ref('fct_stops') }}
    {%- if is_incremental() %}
    where
    {%- for row in recounted %}
        {{ 'or ' if not loop.first }}(agency_id = '{{ row[0] | replace("'", "''") }}' and
            {%- if row[1] == 0 %} stop_year is null{% else %} stop_year = {{ row[1] }}{% endif %})
    {%- else %}
        false
    {%- endfor %}
    {%- endif %}

),

-- one pass over the stops: each cell's people and the sum of their rows' hashes, which add up
-- to the agency-year's rows_fingerprint below
cells as (

    select
        agency_id,
        stop_year,
        coalesce(stop_year, 0) as period_key,
        district,
        subject_race,
        search_conducted,
        contraband_found,
        search_basis_detail,
        count(*) as stops,
        {{ rows_hash_sum(fingerprinted) }} as rows_hash_sum

    from stops
    group by
        agency_id,
        stop_year,
        coalesce(stop_year, 0),
        district,
        subject_race,
        search_conducted,
        contraband_found,
        search_basis_detail

),

final as (

    select
        agency_id,
        stop_year,
        period_key,
        district,
        subject_race,
        search_conducted,
        contraband_found,
        search_basis_detail,
        stops,
        -- rows_fingerprint of the agency-year's rows, from its cells
        cast(
            cast(sum(stops) over (partition by agency_id, period_key) as varchar)
            || ':'
            || cast(sum(rows_hash_sum) over (partition by agency_id, period_key) as varchar)
            as varchar
        ) as period_fingerprint

    from cells
    {%- for row in emptied %}

    union all

    select
        '{{ row[0] | replace("'", "''") }}',
        cast({{ row[1] if row[1] != 0 else 'null' }} as integer),
        {{ row[1] }},
        cast(null as varchar),
        cast(null as varchar),
        cast(null as boolean),
        cast(null as boolean),
        cast(null as varchar),
        cast(0 as bigint),
        cast(null as varchar)
    {%- endfor %}

)

select * from final
