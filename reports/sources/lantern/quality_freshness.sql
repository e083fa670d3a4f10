-- data/mart_quality_freshness.parquet: when each dataset of each agency last arrived.
-- An empty table gets one placeholder row (agency_id '(none)'): Evidence cannot write an
-- empty result to Parquet, and pages filter by agency, so the row never shows.
with published as (
    select agency_id, dataset, expected_cadence, cadence_days,
        strftime(last_received_at, '%Y-%m-%d') as last_received, files_received,
        days_since_last_received, freshness_status
    from read_parquet('mart_quality_freshness.parquet')
)
select * from published
union all by name
select '(none)' as agency_id where not exists (select 1 from published)
