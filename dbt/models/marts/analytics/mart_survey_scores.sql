{#-
    Survey construct scores by unit (DESIGN.md 5; issue 5 item 7): for each survey type and
    construct (measure `<survey_type>_<construct>`, e.g. officer_climate_supervisor_support), the
    mean construct score of the respondents, each respondent's score being the mean of the
    construct's items they answered (fct_survey_item_responses.scored_value, reverse-scored items
    already flipped, so higher means more of the construct), with a 95% t interval (mean -/+
    t(0.975, n - 1) * sd / sqrt(n)).

    Units: the agency (unit all), and the survey's own unit (the officer's organizational unit
    for the officer climate survey, the resident's district for a community survey); group all
    respondents (fct_survey_responses already coarsens rank and tenure bands to `suppressed`
    below 10 questionnaires, so no finer group is reported). Only cells of at least var
    small_numbers_threshold (10) respondents are published: smaller ones, and their
    complementary cells, are suppressed and flagged (mean_measures). Year of completion.
-#}

with

responses as (

    select * from {{ ref('fct_survey_responses') }}

),

item_responses as (

    select * from {{ ref('fct_survey_item_responses') }}

),

respondent_scores as (

    select
        responses.response_id,
        responses.agency_id,
        cast(extract(year from responses.completed_date) as integer) as period,
        responses.survey_type,
        responses.unit,
        item_responses.construct,
        avg(cast(item_responses.scored_value as double precision)) as score

    from responses

    inner join item_responses
        on responses.response_id = item_responses.response_id

    where item_responses.scored_value is not null
        and item_responses.construct is not null

    group by
        responses.response_id,
        responses.agency_id,
        responses.completed_date,
        responses.survey_type,
        responses.unit,
        item_responses.construct

),

grouped as (

    select
        agency_id, period, survey_type, construct, 'agency' as unit_type, 'all' as unit,
        'all' as group_type, 'all' as group_name, score
    from respondent_scores
    union all
    select
        agency_id, period, survey_type, construct,
        case when survey_type = 'officer_climate' then 'organizational_unit' else 'district' end,
        unit, 'all', 'all', score
    from respondent_scores
    where unit is not null

),

cells as materialized (

    select
        agency_id,
        period,
        unit_type,
        unit,
        survey_type || '_' || construct as measure,
        group_type,
        group_name,
        count(*) as n,
        avg(score) as estimate,
        avg(score) - {{ t_quantile_975('count(*) - 1') }} * stddev_samp(score) / sqrt(count(*))
            as lower,
        avg(score) + {{ t_quantile_975('count(*) - 1') }} * stddev_samp(score) / sqrt(count(*))
            as upper,
        'estimate = mean over respondents of their construct score (the mean of the construct''s'
        || ' items they answered, reverse-scored items flipped); 95% interval mean -/+ t(0.975,'
        || ' n - 1) * sd / sqrt(n), n = numerator = respondents; published only for cells of at'
        || ' least {{ var("small_numbers_threshold") }} respondents. Lantern METHODS.md 8, 9.'
            as method

    from grouped
    where period is not null
    group by agency_id, period, unit_type, unit, survey_type, construct, group_type, group_name

),

{{ mean_measures('cells', 'measures') }}

select * from measures
