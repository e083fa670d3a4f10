with

files as (

    select * from {{ source('raw', 'files') }}

),

final as (

    select
        -- ids
        cast(agency_id as varchar) as agency_id,
        cast(load_id as varchar) as load_id,
        cast(file_hash as varchar) as file_hash,

        -- dimensions
        cast(dataset as varchar) as dataset,
        cast(source_file as varchar) as source_file,
        cast(status as varchar) as status,
        cast(reason as varchar) as reason,
        cast(notes as varchar) as notes,

        -- measures
        cast(file_bytes as bigint) as file_bytes,
        cast(rows_raw as bigint) as rows_raw,
        cast(rows_accepted as bigint) as rows_accepted,
        cast(rows_rejected as bigint) as rows_rejected,
        cast(rows_quarantined as bigint) as rows_quarantined,
        cast(records_missing as bigint) as records_missing,

        -- timestamps
        cast(loaded_at as timestamp with time zone) as loaded_at

    from files

)

select * from final
