-- data/fct_arrests/*.parquet, counted by agency, year, perceived race and offence severity.
-- An empty table gets one placeholder row (agency_id '(none)'): Evidence cannot write an
-- empty result to Parquet, and pages filter by agency, so the row never shows.
with published as (
    select
        agency_id,
        arrest_year,
        coalesce(subject_race, 'not recorded') as subject_race,
        coalesce(offense_severity, 'not recorded') as offense_severity,
        count(*) as people_arrested
    from read_parquet('fct_arrests/*.parquet')
    group by all
)
select * from published
union all by name
select '(none)' as agency_id where not exists (select 1 from published)
