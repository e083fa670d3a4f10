-- data/fct_stops/*.parquet and data/fct_arrests/*.parquet: first and last record date per agency.
-- An empty table gets one placeholder row (agency_id '(none)'): Evidence cannot write an
-- empty result to Parquet, and pages filter by agency, so the row never shows.
with published as (
    select agency_id, 'stops' as dataset, strftime(min(stop_date), '%Y-%m-%d') as first_date,
        strftime(max(stop_date), '%Y-%m-%d') as last_date,
        count(*) as records
    from read_parquet('fct_stops/*.parquet') group by all
    union all
    select agency_id, 'arrests', strftime(min(arrest_date), '%Y-%m-%d'),
        strftime(max(arrest_date), '%Y-%m-%d'), count(*)
    from read_parquet('fct_arrests/*.parquet') group by all
)
select * from published
union all by name
select '(none)' as agency_id where not exists (select 1 from published)
