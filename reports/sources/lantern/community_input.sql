-- narratives/community_input.parquet: the community input each agency logged, and its response.
-- An empty table gets one placeholder row (agency_id '(none)'): Evidence cannot write an
-- empty result to Parquet, and pages filter by agency, so the row never shows.
with published as (
    select * replace (strftime(received_date, '%Y-%m-%d') as received_date)
    from read_parquet('community_input.parquet')
)
select * from published
union all by name
select '(none)' as agency_id where not exists (select 1 from published)
