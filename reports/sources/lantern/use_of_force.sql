-- data/fct_use_of_force_incidents/*.parquet, counted by agency, year and highest force level.
-- An empty table gets one placeholder row (agency_id '(none)'): Evidence cannot write an
-- empty result to Parquet, and pages filter by agency, so the row never shows.
with published as (
    select
        agency_id,
        incident_year,
        coalesce(highest_force_level, 'not recorded') as highest_force_level,
        count(*) as incidents,
        count(*) filter (where has_subject_injured) as incidents_subject_injured
    from read_parquet('fct_use_of_force_incidents/*.parquet')
    group by all
)
select * from published
union all by name
select '(none)' as agency_id where not exists (select 1 from published)
