{#-
    raw.survey_responses is append-only and an agency corrects a record by sending it again in a later
    file, so one (agency_id, source_record_id) can have several loaded versions. The latest
    load wins; within one load the later file name, then the later row, wins, as in
    int_complaints_deduplicated.
-#}
with

final as (

    {{ latest_version(ref('stg_raw__survey_responses'), 'agency_id, source_record_id', 'loaded_at desc, source_file desc, source_row desc') }}

)

select * from final
