{#-
    raw.stops is append-only and an agency corrects a record by sending it again in a later
    file, so one (agency_id, source_record_id, person_seq) can have several loaded versions.
    The latest load wins; within one load the later file name, then the later row, wins (a file
    that repeats a record means its last line). Incremental (see select_stops_to_refresh), so a
    night costs in proportion to what it loaded: as a view, normalising and ranking all history
    ran on every read (~25 s per 10 M rows, for fct_stops and again for int_unmapped_codes).
-#}
{{
    config(
        materialized='incremental',
        unique_key=['agency_id', 'source_record_id', 'person_seq'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

-- depends_on: {{ ref('stg_raw__agencies') }}

{#- The rows to deduplicate, given to latest_version as a subquery: it reads them twice, and a
    CTE read twice is materialised whole first. -#}
{%- set stops_to_refresh -%}
    {%- if is_incremental() -%}
    {{ select_stops_to_refresh(ref('stg_raw__stops'), ref('stg_raw__agencies'), 'stops_mapping_hash') }}
    {%- else -%}
    select * from {{ ref('stg_raw__stops') }}
    {%- endif -%}
{%- endset %}

with

latest as (

    {{ latest_version(
        '(' ~ stops_to_refresh ~ ')',
        'agency_id, source_record_id, person_seq',
        'loaded_at desc, source_file desc, source_row desc',
    ) }}

),

final as (

    -- version_rank stays (always 1): the column set of an incremental model is its contract
    select
        *,
        cast(1 as bigint) as version_rank

    from latest

)

select * from final
