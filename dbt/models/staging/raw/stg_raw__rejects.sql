with

rejects as (

    select * from {{ source('raw', 'rejects') }}

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
        cast(source_row as bigint) as source_row,
        cast(column_name as varchar) as column_name,
        cast(raw_text as varchar) as raw_text,
        cast(reason as varchar) as reason,

        -- timestamps
        cast(loaded_at as timestamp with time zone) as loaded_at

    from rejects

)

select * from final
