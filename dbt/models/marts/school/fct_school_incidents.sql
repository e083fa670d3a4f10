{#-
    One row per school-based officer's contact with a student (CANONICAL-MODEL b7). The
    outcome flags are derived here so every agency computes them the same way: an arrest, and a
    referral into the justice system (a citation, a juvenile referral or an arrest).
-#}
with

school_incidents as (

    select * from {{ ref('int_school_incidents_deduplicated') }}

),

final as (

    select
        md5(agency_id || '|' || source_record_id) as school_incident_id,
        agency_id,
        source_record_id as school_incident_record_id,
        officer_id_hash,
        school_code,
        incident_date,
        incident_time,
        incident_at,
        cast(extract(year from incident_date) as integer) as incident_year,
        on_school_grounds as is_on_school_grounds,
        subject_race,
        subject_sex,
        subject_age_group,
        disability_504_iep as has_disability_plan,
        reason_for_contact,
        referral_source,
        searched as is_searched,
        handcuffed as is_handcuffed,
        force_used as is_force_used,
        detained as is_detained,
        outcome,
        school_discipline_matter as is_school_discipline_matter,
        outcome = 'arrest' as is_arrest,
        outcome in ('citation', 'juvenile_referral', 'arrest') as is_justice_referral,
        source_file,
        source_row,
        loaded_at,
        load_id

    from school_incidents

)

select * from final
