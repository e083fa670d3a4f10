{#-
    Agency-wide and unit-specific performance measures in one long table, the table the annual
    report reads (DESIGN.md 5; issue 5 item 8): one row per agency, unit, year, measure and group,
    with the value, its numerator and denominator, 95% interval and flag. Each analytics mart
    contributes its estimates (measure as in the mart) and, for groups with a comparison group,
    their ratios (measure `<measure>_ratio`, comparison_group set; the relative rate index
    contributes only its ratios, `rri_<decision point>_ratio`). A ratio row carries no numerator or
    denominator (they are on the estimate rows of the group and of the comparison group).

    The body-worn camera, school, survey and response-time marts join the same way (a mean,
    median or percentile carries its n as numerator and no denominator). Another measure family
    joins by adding a CTE with these columns to the list below; measure names must not clash.
-#}

with

benchmark_rates as (

    select *, 'mart_benchmark_rates' as source_model from {{ ref('mart_benchmark_rates') }}

),

search_rates as (

    select *, 'mart_search_rates' as source_model from {{ ref('mart_search_rates') }}

),

hit_rates as (

    select *, 'mart_hit_rates' as source_model from {{ ref('mart_hit_rates') }}

),

use_of_force_rates as (

    select *, 'mart_use_of_force_rates' as source_model from {{ ref('mart_use_of_force_rates') }}

),

complaint_outcomes as (

    select *, 'mart_complaint_outcomes' as source_model from {{ ref('mart_complaint_outcomes') }}

),

bwc_compliance as (

    select *, 'mart_bwc_compliance' as source_model from {{ ref('mart_bwc_compliance') }}

),

school_contacts as (

    select *, 'mart_school_contacts' as source_model from {{ ref('mart_school_contacts') }}

),

survey_scores as (

    select *, 'mart_survey_scores' as source_model from {{ ref('mart_survey_scores') }}

),

response_times as (

    select *, 'mart_response_times' as source_model from {{ ref('mart_response_times') }}

),

relative_rate_index as (

    select *, 'mart_relative_rate_index' as source_model from {{ ref('mart_relative_rate_index') }}

),

measure_rows as (

    {%- set relations = [
        'benchmark_rates', 'search_rates', 'hit_rates', 'use_of_force_rates', 'complaint_outcomes',
        'bwc_compliance', 'school_contacts', 'survey_scores', 'response_times',
    ] %}
    {%- for relation in relations %}
    select
        agency_id, unit_type, unit, period, measure, group_type, group_name, source_model, method,
        estimate, ratio, ratio_lower, ratio_upper, comparison_group, numerator, denominator,
        lower, upper, flag, is_disparity
    from {{ relation }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

estimates as (

    select
        agency_id,
        unit_type,
        unit,
        period,
        measure,
        group_type,
        group_name,
        cast(null as varchar) as comparison_group,
        estimate as value,
        numerator,
        denominator,
        lower,
        upper,
        flag,
        cast(null as boolean) as is_disparity,
        source_model,
        method

    from measure_rows

),

ratios as (

    select
        agency_id,
        unit_type,
        unit,
        period,
        measure || '_ratio' as measure,
        group_type,
        group_name,
        comparison_group,
        ratio as value,
        cast(null as bigint) as numerator,
        cast(null as bigint) as denominator,
        ratio_lower as lower,
        ratio_upper as upper,
        flag,
        is_disparity,
        source_model,
        method

    from measure_rows
    where comparison_group is not null
        and group_name != comparison_group

    union all

    select
        agency_id,
        unit_type,
        unit,
        period,
        measure || '_ratio',
        group_type,
        group_name,
        comparison_group,
        ratio,
        cast(null as bigint),
        cast(null as bigint),
        ratio_lower,
        ratio_upper,
        flag,
        is_disparity,
        source_model,
        method

    from relative_rate_index
    where group_name != comparison_group

),

final as (

    select * from estimates
    union all
    select * from ratios

)

select * from final
