-- data/fct_calls_for_service/*.parquet, counted by agency, year received and priority, with the
-- median response time (first unit arrived - call received).
-- An empty table gets one placeholder row (agency_id '(none)'): Evidence cannot write an
-- empty result to Parquet, and pages filter by agency, so the row never shows.
with published as (
    select agency_id, received_year, coalesce(cast(priority as varchar), 'not recorded') as priority,
        count(*) as calls, count(response_seconds) as timed_calls,
        median(response_seconds) / 60.0 as median_response_minutes,
        count(*) filter (where is_mental_health_call) as mental_health_calls
    from read_parquet('fct_calls_for_service/*.parquet')
    group by all
)
select * from published
union all by name
select '(none)' as agency_id where not exists (select 1 from published)
