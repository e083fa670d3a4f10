-- data/fct_complaints/*.parquet, counted by agency, year received and status.
-- An empty table gets one placeholder row (agency_id '(none)'): Evidence cannot write an
-- empty result to Parquet, and pages filter by agency, so the row never shows.
with published as (
    select
        agency_id,
        year(received_date) as received_year,
        coalesce(status, 'not recorded') as status,
        count(*) as complaints,
        sum(allegation_count) as allegations,
        sum(sustained_allegation_count) as sustained_allegations
    from read_parquet('fct_complaints/*.parquet')
    group by all
)
select * from published
union all by name
select '(none)' as agency_id where not exists (select 1 from published)
