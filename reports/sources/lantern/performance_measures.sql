-- data/mart_performance_measures.parquet: the long table (agency, unit, period, measure, group,
-- value, interval, flag), read generically by its measure column.
-- An empty table gets one placeholder row (agency_id '(none)'): Evidence cannot write an
-- empty result to Parquet, and pages filter by agency, so the row never shows.
with published as (
    select agency_id, unit_type, unit, period, measure, group_type, group_name, value,
        numerator, denominator, lower, upper, flag, source_model
    from read_parquet('mart_performance_measures.parquet')
)
select * from published
union all by name
select '(none)' as agency_id where not exists (select 1 from published)
