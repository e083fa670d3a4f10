{#-
    The file ledger as published: every delivered file's latest outcome (loaded, quarantined,
    duplicate) and its row reconciliation, so readers see what was received and what was not;
    for a file re-sent under the same name, how many records of its previous version it lacks
    (records_missing: reported, never applied as deletions).
-#}

with

files as (

    select * from {{ ref('stg_raw__files') }}

),

latest as (

    {{ latest_version('files', 'agency_id, dataset, source_file, file_hash', 'loaded_at desc') }}

),

final as (

    select
        agency_id,
        dataset,
        source_file,
        file_hash,
        status,
        reason,
        notes,
        rows_raw,
        rows_accepted,
        rows_rejected,
        rows_quarantined,
        records_missing,
        loaded_at

    from latest

)

select * from final
