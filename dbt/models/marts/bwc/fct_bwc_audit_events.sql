{#-
    One row per audit-trail event of a body-worn camera recording (CANONICAL-MODEL b6
    bwc_audit_event); recording_id is fct_bwc_recordings' key. The actor only as a salted hash.
-#}
with

audit_events as (

    select * from {{ ref('int_bwc_audit_events_deduplicated') }}

),

final as (

    select
        md5(agency_id || '|' || source_record_id) as audit_event_id,
        md5(agency_id || '|' || recording_record_id) as recording_id,
        agency_id,
        source_record_id as audit_event_record_id,
        event_type,
        event_date,
        event_at,
        actor_id_hash,
        source_file,
        source_row,
        loaded_at,
        load_id

    from audit_events

)

select * from final
