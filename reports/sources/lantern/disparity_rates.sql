-- data/mart_relative_rate_index.parquet and data/mart_benchmark_rates.parquet, agency-wide rows:
-- each group's rate with its 95% interval, the ratio to the comparison group and the flags
-- (suppressed counts are null in the published files and stay null here).
-- An empty table gets one placeholder row (agency_id '(none)'): Evidence cannot write an
-- empty result to Parquet, and pages filter by agency, so the row never shows.
with published as (
    select 'mart_relative_rate_index' as source_file, agency_id, period, measure,
        decision_point_order as sort_order, replace(decision_point, '_', ' ') as label, base, group_name,
        comparison_group, numerator, denominator, estimate, lower, upper, ratio, ratio_lower,
        ratio_upper, is_small_numbers, is_suppressed, is_insufficient, is_disparity, flag, method
    from read_parquet('mart_relative_rate_index.parquet') where unit_type = 'agency'
    union all
    select 'mart_benchmark_rates', agency_id, period, measure,
        10 + case when measure like 'stops%' then 0 when measure like 'arrests%' then 1 else 2 end,
        replace(replace(measure, '_', ' '), '1000', '1,000'), 'residents', group_name,
        comparison_group, numerator,
        denominator, estimate, lower, upper, ratio, ratio_lower, ratio_upper, is_small_numbers,
        is_suppressed, is_insufficient, is_disparity, flag, method
    from read_parquet('mart_benchmark_rates.parquet') where unit_type = 'agency'
)
select *,
    -- Column totals as the page shows them: cells that are null (suppressed) are left out and
    -- the total says so ("≥ n") rather than pretend to be exact.
    case when count(numerator) over w = 0 then '—'
        else case when count(*) over w > count(numerator) over w then '≥ ' else '' end
            || format('{:,}', sum(numerator) over w) end as numerator_total,
    case when count(denominator) over w = 0 then '—'
        else case when count(*) over w > count(denominator) over w then '≥ ' else '' end
            || format('{:,}', sum(denominator) over w) end as denominator_total
from published
window w as (partition by agency_id, period, measure)
union all by name
select '(none)' as agency_id where not exists (select 1 from published)
