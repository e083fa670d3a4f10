{#-
    Rejected rows counted by file, column and kind of problem. The rejected rows themselves
    (raw text) stay in the warehouse: a malformed row can hold anything, names included.
-#}

with

rejects as (

    select * from {{ ref('stg_raw__rejects') }}

),

classified as (

    select
        agency_id,
        dataset,
        source_file,
        column_name,
        coalesce(
            nullif(
                lower(regexp_replace({{ regexp_first(
                    'reason',
                    "'MISSING COLUMNS|TOO MANY COLUMNS|INVALID UNICODE|UNQUOTED VALUE|unparseable [a-z]+|not a whole number|required value is empty|undecodable bytes|invalid JSON|too many cells|a JSON line must hold one object|truncated'"
                ) }}, '\s+', '_', 'g')),
                ''
            ),
            'other'
        ) as problem

    from rejects

),

final as (

    select
        agency_id,
        dataset,
        source_file,
        column_name,
        problem,
        count(*) as rejected_rows

    from classified
    group by agency_id, dataset, source_file, column_name, problem

)

select * from final
