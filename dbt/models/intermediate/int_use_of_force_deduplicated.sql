{#-
    raw.use_of_force is append-only and an agency corrects a report by sending it again in a
    later file, so one (agency_id, source_record_id, officer_subject_seq) can have several loaded
    versions. The latest load wins; within one load the later file name, then the later row,
    wins, as in int_stops_deduplicated. A view: force reports are thousands a year per agency.
-#}
with

use_of_force as (

    select * from {{ ref('stg_raw__use_of_force') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by agency_id, source_record_id, officer_subject_seq
            order by loaded_at desc, source_file desc, source_row desc
        ) as version_rank,
        count(*) over (
            partition by agency_id, source_record_id, officer_subject_seq
        ) as version_count

    from use_of_force

),

final as (

    select
        *,
        -- The subject and officer of the row as the marts count them: the hashed id, or the row
        -- itself when the agency sent none (each such row is its own subject or officer).
        coalesce(
            subject_id_hash,
            'row:' || source_record_id || '|' || cast(officer_subject_seq as varchar)
        ) as subject_key,
        coalesce(
            officer_id_hash,
            'row:' || source_record_id || '|' || cast(officer_subject_seq as varchar)
        ) as officer_key

    from ranked
    where version_rank = 1

)

select * from final
