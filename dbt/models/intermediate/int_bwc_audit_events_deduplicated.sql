{#-
    raw.bwc_audit_events is append-only and an agency corrects a record by sending it again in a later
    file, so one (agency_id, source_record_id) can have several loaded versions. The latest
    load wins; within one load the later file name, then the later row, wins, as in
    int_complaints_deduplicated.
-#}
with

source_rows as (

    select * from {{ ref('stg_raw__bwc_audit_events') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by agency_id, source_record_id
            order by loaded_at desc, source_file desc, source_row desc
        ) as version_rank

    from source_rows

),

final as (

    select * exclude (version_rank)
    from ranked
    where version_rank = 1

)

select * from final
