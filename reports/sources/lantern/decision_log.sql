-- data/mart_decision_log.parquet and data/mart_decision_log_fits.parquet: every filter an
-- analysis applied, with the rows before and after it.
-- An empty table gets one placeholder row (agency_id '(none)'): Evidence cannot write an
-- empty result to Parquet, and pages filter by agency, so the row never shows.
with published as (
    select agency_id, cast(period as varchar) as period, analysis, rule, rows_before,
        rows_after, reason
    from read_parquet('mart_decision_log.parquet')
    union all
    select agency_id, period, analysis, rule, rows_before, rows_after, reason
    from read_parquet('mart_decision_log_fits.parquet')
)
select * from published
union all by name
select '(none)' as agency_id where not exists (select 1 from published)
