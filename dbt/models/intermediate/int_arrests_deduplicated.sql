{#-
    raw.arrests is append-only and an agency corrects a record by sending it again in a later
    file, so one (agency_id, source_record_id, arrestee_seq) can have several loaded versions.
    The latest load wins; within one load the later file name, then the later row, wins (a file
    that repeats a record means its last line), as in int_stops_deduplicated.
-#}
{#- A view: the incremental fct_arrests reads it, so a run of the incremental facts alone
    (tests/test_incremental.py) sees the latest raw rows. -#}
{{ config(materialized='view') }}
with

arrests as (

    select * from {{ ref('stg_raw__arrests') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by agency_id, source_record_id, arrestee_seq
            order by loaded_at desc, source_file desc, source_row desc
        ) as version_rank,
        count(*) over (
            partition by agency_id, source_record_id, arrestee_seq
        ) as version_count

    from arrests

),

final as (

    select * from ranked
    where version_rank = 1

)

select * from final
