{#- One row per complainant of a complaint (CANONICAL-MODEL b4 complainant). -#}
with

complainants as (

    select * from {{ ref('int_complainants_deduplicated') }}

),

final as (

    select
        md5(
            agency_id || '|' || complaint_record_id || '|' || cast(complainant_seq as varchar)
        ) as complainant_id,
        md5(agency_id || '|' || complaint_record_id) as complaint_id,
        agency_id,
        complainant_seq,
        subject_race,
        subject_sex,
        subject_age,
        source_file,
        source_row,
        loaded_at

    from complainants

)

select * from final
