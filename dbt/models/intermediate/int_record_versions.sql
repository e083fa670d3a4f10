{#-
    Every delivered version of the records that arrived more than once: raw is append-only, so
    a corrected record's earlier versions are all still there. Numbered in the order the
    deduplication ranks them (int_stops_deduplicated, int_arrests_deduplicated: later load, then
    later file name, then later row), so the last version is the one the facts use.
-#}
{#- Read by one mart only, untested: a view costs nothing extra. It reads the raw tables, not
    the staging views: it needs only lineage columns, cast as staging casts them, and the
    staging views' value-map joins cost every row (10 million stops: 9 s through
    stg_raw__stops, 1.8 s from raw). -#}
{{ config(materialized='view') }}

with

{#- (dataset, its record sequence column): the record types whose versions are kept -#}
{%- set datasets = [('stops', 'person_seq'), ('arrests', 'arrestee_seq')] %}

-- the lineage columns, cast as the staging views cast them
versions as (

    {%- for dataset, seq in datasets %}

    select
        cast(_agency_id as varchar) as agency_id,
        '{{ dataset }}' as dataset,
        cast(source_record_id as varchar) as source_record_id,
        coalesce({{ dbt.safe_cast(seq, 'integer') }}, 1) as record_seq,
        cast(_source_file as varchar) as source_file,
        cast(_source_row as bigint) as source_row,
        cast(_loaded_at as timestamp with time zone) as loaded_at

    from {{ source('raw', dataset) }}
    {%- if not loop.last %}

    union all
    {%- endif %}
    {%- endfor %}

),

-- the records delivered more than once, found by aggregation (which spills to disk under
-- DuckDB's memory limit), so the window below numbers only their versions, not 10 million
-- single-version stops (a window over every row ran out of memory at 2 GB)
repeated as (

    select
        agency_id,
        dataset,
        source_record_id,
        record_seq

    from versions
    group by agency_id, dataset, source_record_id, record_seq
    having count(*) > 1

),

repeated_versions as (

    select versions.*

    from versions

    inner join repeated
        on versions.agency_id = repeated.agency_id
        and versions.dataset = repeated.dataset
        and versions.source_record_id = repeated.source_record_id
        and versions.record_seq = repeated.record_seq

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

    from repeated_versions

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
