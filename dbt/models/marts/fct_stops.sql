{#-
    Incremental on the rows int_stops_deduplicated refreshed (select_stops_to_refresh): new
    loads, and every row of an agency whose value maps or time zone changed. A full refresh
    gives the same table.
-#}
{{
    config(
        materialized='incremental',
        unique_key='stop_person_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

with

deduplicated_stops as (

    select * from {{ ref('int_stops_deduplicated') }}

),

stops as (

    {% if is_incremental() -%}
    {{ select_stops_to_refresh('deduplicated_stops', ref('int_stops_deduplicated')) }}
    {%- else -%}
    select * from deduplicated_stops
    {%- endif %}

),

final as (

    -- text columns cast to varchar: PostgreSQL types md5() and CASE of literals as text, and an
    -- incremental run must see the types the contract created
    select
        cast(md5(agency_id || '|' || source_record_id || '|' || cast(person_seq as varchar)) as varchar)
            as stop_person_id,
        cast(md5(agency_id || '|' || source_record_id) as varchar) as stop_id,
        agency_id,
        source_record_id,
        person_seq,
        stop_date,
        stop_time,
        stop_at,
        cast(extract(year from stop_date) as integer) as stop_year,
        stop_type,
        district,
        beat,
        officer_id_hash,
        subject_race,
        subject_sex,
        subject_age,
        reason_for_stop,
        search_conducted,
        search_basis,
        search_basis_detail,
        cast(search_discretion as varchar) as search_discretion,
        contraband_found,
        frisk_performed,
        arrest_made,
        citation_issued,
        warning_issued,
        outcome,
        source_file,
        source_row,
        file_hash,
        loaded_at,
        load_id,
        cast(mapping_hash as varchar) as mapping_hash

    from stops

)

select * from final
