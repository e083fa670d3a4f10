{#-
    Every delivered version of the records that arrived more than once: raw is append-only, so
    a corrected record's earlier versions are all still there. Numbered in the order the
    deduplication ranks them (int_stops_deduplicated, int_arrests_deduplicated: later load, then
    later file name, then later row), so the last version is the one the facts use.
-#}
{#- Read by one mart only, untested: a view costs nothing extra. -#}
{{ config(materialized='view') }}

with

stops as (

    select * from {{ ref('stg_raw__stops') }}

),

arrests as (

    select * from {{ ref('stg_raw__arrests') }}

),

versions as (

    select
        agency_id,
        'stops' as dataset,
        source_record_id,
        person_seq as record_seq,
        source_file,
        source_row,
        loaded_at

    from stops

    union all

    select
        agency_id,
        'arrests' as dataset,
        source_record_id,
        arrestee_seq as record_seq,
        source_file,
        source_row,
        loaded_at

    from arrests

),

numbered as (

    select
        *,
        row_number() over (
            partition by agency_id, dataset, source_record_id, record_seq
            order by loaded_at, source_file, source_row
        ) as version_number,
        count(*) over (
            partition by agency_id, dataset, source_record_id, record_seq
        ) as version_count

    from versions

),

final as (

    select
        agency_id,
        dataset,
        source_record_id,
        cast(record_seq as integer) as record_seq,
        version_number,
        version_count,
        version_number = version_count as is_current,
        source_file,
        source_row,
        loaded_at

    from numbered
    where version_count > 1

)

select * from final
