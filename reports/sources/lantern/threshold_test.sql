-- data/mart_threshold_test.parquet: inferred search thresholds per district and group, with the
-- group's pooled threshold and its 95% credible interval.
-- An empty table gets one placeholder row (agency_id '(none)'): Evidence cannot write an
-- empty result to Parquet, and pages filter by agency, so the row never shows.
with published as (
    select agency_id, period, district, "group" as group_name, reference_group, stops, searches,
        hits, threshold, threshold_lower, threshold_upper, group_threshold,
        group_threshold_lower, group_threshold_upper, is_lower_than_reference,
        is_small_numbers, max_rhat, divergences, method
    from read_parquet('mart_threshold_test.parquet')
)
select * from published
union all by name
select '(none)' as agency_id where not exists (select 1 from published)
