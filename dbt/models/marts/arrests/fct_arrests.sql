{#-
    Incremental exactly as fct_stops: the current versions loaded at or after the table's
    high-water mark replace their rows by arrest_person_id (">=" re-reads the last load, so two
    loads stamped with the same time cannot lose rows), and every row of an agency whose arrests
    value maps or time zone changed (mapping_hash) is taken again. A change to this project's SQL
    still needs --full-refresh.
-#}
{{
    config(
        materialized='incremental',
        unique_key='arrest_person_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

with

deduplicated_arrests as (

    select * from {{ ref('int_arrests_deduplicated') }}

),

{% if is_incremental() %}

built_mappings as (

    select distinct
        agency_id,
        mapping_hash

    from {{ this }}

),

arrests as (

    select deduplicated_arrests.*

    from deduplicated_arrests

    left join built_mappings
        on deduplicated_arrests.agency_id = built_mappings.agency_id
        and deduplicated_arrests.mapping_hash = built_mappings.mapping_hash

    where built_mappings.agency_id is null
        or deduplicated_arrests.loaded_at >= (
            select
                coalesce(
                    max(loaded_at),
                    cast('1900-01-01 00:00:00+00' as timestamp with time zone)
                )
            from {{ this }}
        )

),

{% else %}

arrests as (

    select * from deduplicated_arrests

),

{% endif %}

final as (

    -- hashes cast to varchar: PostgreSQL types md5() as text, and an incremental run must see
    -- the types the contract created
    select
        cast(md5(agency_id || '|' || source_record_id || '|' || cast(arrestee_seq as varchar)) as varchar)
            as arrest_person_id,
        cast(md5(agency_id || '|' || source_record_id) as varchar) as arrest_id,
        -- the same hash as fct_stops.stop_id, so the arrest joins its stop
        cast(case
            when stop_record_id is not null then md5(agency_id || '|' || stop_record_id)
        end as varchar) as stop_id,
        cast(case
            when incident_record_id is not null then md5(agency_id || '|' || incident_record_id)
        end as varchar) as incident_id,
        agency_id,
        source_record_id,
        arrestee_seq,
        arrest_date,
        arrest_time,
        arrest_at,
        cast(extract(year from arrest_date) as integer) as arrest_year,
        arrest_type,
        offense_code,
        offense_description,
        offense_group,
        offense_severity,
        warrant_flag,
        subject_race,
        subject_sex,
        subject_age,
        district,
        beat,
        unit,
        officer_id_hash,
        search_conducted,
        search_basis_detail,
        contraband_found,
        reason_for_stop,
        source_file,
        source_row,
        file_hash,
        loaded_at,
        load_id,
        cast(mapping_hash as varchar) as mapping_hash

    from arrests

)

select * from final
