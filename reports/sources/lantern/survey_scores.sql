-- data/fct_survey_responses/*.parquet joined with data/fct_survey_item_responses/*.parquet: each
-- respondent's construct score (mean of its scored items), then per agency, year, survey, unit
-- and construct the respondents and the mean with a 95% normal interval. A cell with fewer than
-- 10 respondents ships no score (anonymity).
-- An empty table gets one placeholder row (agency_id '(none)'): Evidence cannot write an
-- empty result to Parquet, and pages filter by agency, so the row never shows.
with scores as (
    select responses.agency_id, year(responses.completed_date) as survey_year,
        responses.survey_type, responses.survey_wave, responses.unit, items.construct,
        responses.response_id, avg(items.scored_value) as score
    from read_parquet('fct_survey_responses/*.parquet') as responses
    join read_parquet('fct_survey_item_responses/*.parquet') as items
        on items.response_id = responses.response_id
    where items.scored_value is not null
    group by all
),
cells as (
    select agency_id, survey_year, survey_type, survey_wave, unit,
        replace(construct, '_', ' ') as construct, count(*) as respondents, avg(score) as mean,
        1.96 * stddev_samp(score) / sqrt(count(*)) as half_width
    from scores group by all
),
published as (
    select agency_id, survey_year, survey_type, survey_wave, unit, construct, respondents,
        case when respondents >= 10 then mean end as mean_score,
        case when respondents >= 10 then mean - half_width end as mean_lower,
        case when respondents >= 10 then mean + half_width end as mean_upper,
        case when respondents < 10 then 'not shown: fewer than 10 respondents' else '' end
            as caveat,
        construct || ' · ' || unit as label
    from cells
)
select * from published
union all by name
select '(none)' as agency_id where not exists (select 1 from published)
