-- data/fct_bwc_recordings/*.parquet, counted by agency, year started and category.
-- An empty table gets one placeholder row (agency_id '(none)'): Evidence cannot write an
-- empty result to Parquet, and pages filter by agency, so the row never shows.
with published as (
    select agency_id, year(started_date) as started_year,
        coalesce(category, 'not recorded') as category, count(*) as recordings,
        count(*) filter (where is_publicly_released) as publicly_released,
        count(*) filter (where is_deleted) as deleted
    from read_parquet('fct_bwc_recordings/*.parquet')
    group by all
)
select * from published
union all by name
select '(none)' as agency_id where not exists (select 1 from published)
