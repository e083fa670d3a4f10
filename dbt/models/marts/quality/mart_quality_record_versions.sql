{#-
    The history of corrections, published: every version of a record delivered more than once.
-#}

with

record_versions as (

    select * from {{ ref('int_record_versions') }}

),

final as (

    select
        agency_id,
        dataset,
        source_record_id,
        record_seq,
        version_number,
        version_count,
        is_current,
        source_file,
        source_row,
        loaded_at

    from record_versions

)

select * from final
