-- data/fct_stops/*.parquet, counted by agency, year, stop type and perceived race: the site never
-- ships person-level rows to the browser. Counts are of people stopped (one row per person).
-- An empty table gets one placeholder row (agency_id '(none)'): Evidence cannot write an
-- empty result to Parquet, and pages filter by agency, so the row never shows.
with published as (
    select
        agency_id,
        stop_year,
        case stop_type when 'vehicular' then 'traffic' else stop_type end as stop_type,
        coalesce(subject_race, 'not recorded') as subject_race,
        count(*) as people_stopped,
        count(*) filter (where search_conducted) as searched,
        count(*) filter (where search_conducted and contraband_found) as contraband_found,
        count(*) filter (where frisk_performed) as frisked,
        count(*) filter (where arrest_made) as arrested,
        count(*) filter (where citation_issued) as cited,
        count(*) filter (where warning_issued) as warned
    from read_parquet('fct_stops/*.parquet')
    group by all
)
select * from published
union all by name
select '(none)' as agency_id where not exists (select 1 from published)
