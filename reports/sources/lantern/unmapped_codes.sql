-- data/mart_quality_unmapped_codes.parquet: codes the agency's mapping does not translate.
-- An empty table gets one placeholder row (agency_id '(none)'): Evidence cannot write an
-- empty result to Parquet, and pages filter by agency, so the row never shows.
with published as (
    select agency_id, field_name, raw_value, row_count
    from read_parquet('mart_quality_unmapped_codes.parquet')
)
select * from published
union all by name
select '(none)' as agency_id where not exists (select 1 from published)
