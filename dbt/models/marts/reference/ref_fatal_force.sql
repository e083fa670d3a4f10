{#-
    Public reference mart: one row per person killed by police in the third-party record (the
    Washington Post's Fatal Force file). No name, address or coordinates (dropped at ingestion):
    the date, the city, county and state, the demographics and the circumstances as recorded.
-#}
with

fatal_force as (

    select * from {{ ref('stg_raw__fatal_force') }}

),

final as (

    select
        md5(source_id || '|' || source_record_id) as fatal_force_id,
        source_id,
        source_record_id,
        incident_date,
        cast(extract(year from incident_date) as integer) as incident_year,
        city,
        county,
        state,
        agency_ids,
        subject_age,
        subject_sex,
        subject_race,
        armed_with,
        threat_type,
        flee_status,
        mental_illness_related,
        body_camera,
        source_file,
        source_row,
        loaded_at

    from fatal_force

)

select * from final
