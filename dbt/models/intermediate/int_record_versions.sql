{#-
    Every delivered version of the records that arrived more than once: raw is append-only, so
    a corrected record's earlier versions are all still there. Numbered in the order the
    deduplication ranks them (int_stops_deduplicated, int_arrests_deduplicated: later load, then
    later file name, then later row), so the last version is the one the facts use.

    Incremental: a night numbers again only the records with a raw row loaded after the load
    time it last checked (int_record_versions_checked, written after this model: a dataset's
    newest raw loaded_at), every version of each (an earlier version can be years old), and
    replaces their rows (delete+insert on the record's key). Numbering every record again cost
    4.3 s of a narrow night at 10 million stops. Without a checked time (a first build, a
    dataset never checked) every record of the dataset is numbered. A full refresh gives the
    same table. It reads the raw tables, not the staging views: it needs only lineage columns,
    cast as staging casts them, and the staging views' value-map joins cost every row.
-#}
{{
    config(
        materialized='incremental',
        unique_key=['agency_id', 'dataset', 'source_record_id', 'record_seq'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

{#- (dataset, its record sequence column): the record types whose versions are kept -#}
{%- set datasets = [('stops', 'person_seq'), ('arrests', 'arrestee_seq')] %}

{#- dataset -> the newest raw loaded_at checked, read before this model runs -#}
{%- set checked_through = {} -%}
{%- if is_incremental() and execute -%}
    {%- set checked = adapter.get_relation(
        database=this.database, schema=this.schema, identifier='int_record_versions_checked'
    ) -%}
    {%- if checked is not none -%}
        {%- set checked_query -%}
            select dataset, cast(checked_through as varchar) from {{ checked }}
            where checked_through is not null
        {%- endset -%}
        {%- for row in run_query(checked_query).rows -%}
            {%- do checked_through.update({row[0]: row[1]}) -%}
        {%- endfor -%}
    {%- endif -%}
{%- endif %}

with

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

{% if is_incremental() -%}
-- the records with a row loaded since the dataset was last checked: their versions are
-- numbered again (a literal time, so the scan of raw skips older row groups)
touched as (

    {%- for dataset, seq in datasets %}

    select distinct
        cast(_agency_id as varchar) as agency_id,
        '{{ dataset }}' as dataset,
        cast(source_record_id as varchar) as source_record_id,
        coalesce({{ dbt.safe_cast(seq, 'integer') }}, 1) as record_seq

    from {{ source('raw', dataset) }}
    {%- if dataset in checked_through %}
    where _loaded_at > cast('{{ checked_through[dataset] }}' as timestamp with time zone)
    {%- endif %}
    {%- if not loop.last %}

    union all
    {%- endif %}
    {%- endfor %}

),

versions_to_number as (

    select versions.*

    from versions

    inner join touched
        on versions.agency_id = touched.agency_id
        and versions.dataset = touched.dataset
        and versions.source_record_id = touched.source_record_id
        and versions.record_seq = touched.record_seq

),
{%- else -%}
versions_to_number as (

    select * from versions

),
{%- endif %}

-- the records delivered more than once, found by aggregation (which spills to disk under
-- DuckDB's memory limit), so the window below numbers only their versions, not 10 million
-- single-version stops (a window over every row ran out of memory at 2 GB)
repeated as (

    select
        agency_id,
        dataset,
        source_record_id,
        record_seq

    from versions_to_number
    group by agency_id, dataset, source_record_id, record_seq
    having count(*) > 1

),

repeated_versions as (

    select versions_to_number.*

    from versions_to_number

    inner join repeated
        on versions_to_number.agency_id = repeated.agency_id
        and versions_to_number.dataset = repeated.dataset
        and versions_to_number.source_record_id = repeated.source_record_id
        and versions_to_number.record_seq = repeated.record_seq

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
