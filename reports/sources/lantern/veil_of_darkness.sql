-- data/mart_veil_of_darkness.parquet: the Grogger-Ridgeway test, one row per agency and analysis.
-- An empty table gets one placeholder row (agency_id '(none)'): Evidence cannot write an
-- empty result to Parquet, and pages filter by agency, so the row never shows.
with published as (
    select agency_id, analysis, period, "group" as group_name, reference_group, n, n_black,
        n_white, n_dark, odds_ratio, odds_ratio_lower, odds_ratio_upper, p_value,
        is_small_numbers, is_flagged, method
    from read_parquet('mart_veil_of_darkness.parquet')
)
select * from published
union all by name
select '(none)' as agency_id where not exists (select 1 from published)
