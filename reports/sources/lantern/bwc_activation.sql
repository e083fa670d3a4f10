-- Body-worn camera activation, per agency and year, from the link keys of
-- data/fct_bwc_recordings/*.parquet: use-of-force incidents (fct_use_of_force_incidents.uof_id)
-- and stops (fct_stops.stop_id) with at least one linked recording, and late activations:
-- recorded force incidents whose first recording started more than 30 s after the first unit
-- arrived on the call (fct_calls_for_service.arrived_at).
-- An empty table gets one placeholder row (agency_id '(none)'): Evidence cannot write an
-- empty result to Parquet, and pages filter by agency, so the row never shows.
with recordings as (
    select * from read_parquet('fct_bwc_recordings/*.parquet')
),
first_recording as (
    select uof_id, min(started_at) as started_at from recordings
    where uof_id is not null group by uof_id
),
force as (
    select incidents.agency_id, incidents.incident_year as year,
        count(*) as force_incidents,
        count(first_recording.uof_id) as force_recorded,
        count(calls.arrived_at) filter (where first_recording.uof_id is not null) as force_timed,
        count(*) filter (
            where first_recording.started_at > calls.arrived_at + interval 30 second
        ) as force_late
    from read_parquet('fct_use_of_force_incidents/*.parquet') as incidents
    left join first_recording on first_recording.uof_id = incidents.uof_id
    left join read_parquet('fct_calls_for_service/*.parquet') as calls
        on calls.call_id = incidents.call_id
    group by all
),
stops as (
    select agency_id, stop_year as year, count(distinct stop_id) as stops,
        count(distinct stop_id) filter (
            where stop_id in (select stop_id from recordings where stop_id is not null)
        ) as stops_recorded
    from read_parquet('fct_stops/*.parquet')
    group by all
),
published as (
    select coalesce(force.agency_id, stops.agency_id) as agency_id,
        coalesce(force.year, stops.year) as year,
        coalesce(force_incidents, 0) as force_incidents, coalesce(force_recorded, 0) as force_recorded,
        coalesce(force_timed, 0) as force_timed, coalesce(force_late, 0) as force_late,
        coalesce(stops, 0) as stops, coalesce(stops_recorded, 0) as stops_recorded
    from force full join stops on stops.agency_id = force.agency_id and stops.year = force.year
)
select * from published
union all by name
select '(none)' as agency_id where not exists (select 1 from published)
