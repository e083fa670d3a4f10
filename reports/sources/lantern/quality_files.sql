-- data/mart_quality_files.parquet: every file received, with rows delivered, loaded, rejected.
-- An empty table gets one placeholder row (agency_id '(none)'): Evidence cannot write an
-- empty result to Parquet, and pages filter by agency, so the row never shows.
with published as (
    select
        agency_id, dataset, source_file, status, reason, rows_raw, rows_accepted, rows_rejected,
        rows_quarantined, cast(loaded_at as timestamp) as loaded_at
    from read_parquet('mart_quality_files.parquet')
)
select * from published
union all by name
select '(none)' as agency_id where not exists (select 1 from published)
