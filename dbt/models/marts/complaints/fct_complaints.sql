{#-
    One row per complaint (CANONICAL-MODEL b4 complaint): the current version of each complaint
    with its dates, days to close and the counts of its current allegations.
-#}
with

complaints as (

    select * from {{ ref('int_complaints_deduplicated') }}

),

allegations as (

    select * from {{ ref('int_allegations_deduplicated') }}

),

allegation_counts as (

    select
        agency_id,
        complaint_record_id,
        count(*) as allegation_count,
        count(*) filter (where final_finding = 'sustained') as sustained_allegation_count

    from allegations
    group by agency_id, complaint_record_id

),

final as (

    select
        md5(complaints.agency_id || '|' || complaints.source_record_id) as complaint_id,
        complaints.agency_id,
        complaints.source_record_id as complaint_record_id,
        complaints.received_date,
        complaints.incident_date,
        complaints.closed_date,
        cast(complaints.closed_date - complaints.received_date as integer) as days_to_close,
        case when complaints.closed_date is null then 'open' else 'closed' end as status,
        complaints.complaint_source,
        complaints.beat,
        -- the same hash as fct_bwc_recordings.recording_id: the footage the investigation reviewed
        case
            when complaints.bwc_recording_record_id is not null
                then md5(complaints.agency_id || '|' || complaints.bwc_recording_record_id)
        end as bwc_recording_id,
        cast(coalesce(allegation_counts.allegation_count, 0) as integer) as allegation_count,
        cast(
            coalesce(allegation_counts.sustained_allegation_count, 0) as integer
        ) as sustained_allegation_count,
        complaints.source_file,
        complaints.source_row,
        complaints.loaded_at

    from complaints

    left join allegation_counts
        on complaints.agency_id = allegation_counts.agency_id
        and complaints.source_record_id = allegation_counts.complaint_record_id

)

select * from final
