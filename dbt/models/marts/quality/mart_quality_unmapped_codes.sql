{#-
    Codes an agency sent that its value maps do not know, by field: they were loaded as
    `unknown` (or `other`) and are published so the agency and readers can see them.
-#}

with

unmapped as (

    select * from {{ ref('int_unmapped_codes') }}

),

final as (

    select
        agency_id,
        field_name,
        raw_value,
        row_count,
        first_loaded_at,
        last_loaded_at

    from unmapped

)

select * from final
