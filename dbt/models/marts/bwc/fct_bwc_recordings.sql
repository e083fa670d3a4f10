{#-
    One row per body-worn camera recording (CANONICAL-MODEL b6): the current version of each
    recording, its links turned into the keys of the facts it documents (the same md5 hashes as
    fct_calls_for_service.call_id, fct_stops.stop_id, fct_use_of_force_incidents.uof_id and
    fct_complaints.complaint_id, so relationships tests prove each link resolves), and the count
    of its audit events.
-#}
with

recordings as (

    select * from {{ ref('int_bwc_recordings_deduplicated') }}

),

audit_events as (

    select * from {{ ref('int_bwc_audit_events_deduplicated') }}

),

audit_counts as (

    select
        agency_id,
        recording_record_id,
        count(*) as audit_event_count,
        count(*) filter (where event_type in ('viewed', 'streamed')) as view_count

    from audit_events
    group by agency_id, recording_record_id

),

final as (

    select
        md5(recordings.agency_id || '|' || recordings.source_record_id) as recording_id,
        recordings.agency_id,
        recordings.source_record_id as recording_record_id,
        recordings.officer_id_hash,
        recordings.device_id,
        recordings.started_date,
        recordings.started_at,
        recordings.ended_at,
        cast({{ seconds_between('recordings.started_at', 'recordings.ended_at') }} as integer)
            as duration_seconds,
        recordings.activation_trigger,
        case
            when recordings.call_record_id is not null
                then md5(recordings.agency_id || '|' || recordings.call_record_id)
        end as call_id,
        case
            when recordings.stop_record_id is not null
                then md5(recordings.agency_id || '|' || recordings.stop_record_id)
        end as stop_id,
        case
            when recordings.use_of_force_record_id is not null
                then md5(recordings.agency_id || '|' || recordings.use_of_force_record_id)
        end as uof_id,
        case
            when recordings.complaint_record_id is not null
                then md5(recordings.agency_id || '|' || recordings.complaint_record_id)
        end as complaint_id,
        recordings.category,
        recordings.retention_days,
        recordings.scheduled_deletion_date,
        recordings.deleted_date,
        recordings.deleted_date is not null as is_deleted,
        recordings.redaction_status,
        coalesce(recordings.publicly_released, false) as is_publicly_released,
        recordings.released_date,
        cast(coalesce(audit_counts.audit_event_count, 0) as integer) as audit_event_count,
        cast(coalesce(audit_counts.view_count, 0) as integer) as view_count,
        recordings.source_file,
        recordings.source_row,
        recordings.loaded_at,
        recordings.load_id

    from recordings

    left join audit_counts
        on recordings.agency_id = audit_counts.agency_id
        and recordings.source_record_id = audit_counts.recording_record_id

)

select * from final
