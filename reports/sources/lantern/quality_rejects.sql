-- data/mart_quality_rejects.parquet: rows excluded at loading, by file, column and problem.
-- An empty table gets one placeholder row (agency_id '(none)'): Evidence cannot write an
-- empty result to Parquet, and pages filter by agency, so the row never shows.
with published as (
    select * from read_parquet('mart_quality_rejects.parquet')
)
select * from published
union all by name
select '(none)' as agency_id where not exists (select 1 from published)
