-- data/mart_search_hit_rates.parquet: search and hit rates with 95% Wilson intervals.
-- An empty table gets one placeholder row (agency_id '(none)'): Evidence cannot write an
-- empty result to Parquet, and pages filter by agency, so the row never shows.
with published as (
    select * from read_parquet('mart_search_hit_rates.parquet')
)
select * from published
union all by name
select '(none)' as agency_id where not exists (select 1 from published)
