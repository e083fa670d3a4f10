{#-
    One row per type of force an officer used on a subject in an incident (CANONICAL-MODEL b3
    uof_force_action). Two delivered types that map to one canonical type on the same report
    (Dallas "Take Down - Arm" and "Take Down - Body") make one action, counted in
    n_source_values.
-#}
with

actions as (

    select * from {{ ref('int_use_of_force_actions_unnested') }}

),

aggregated as (

    select
        agency_id,
        incident_record_id,
        officer_key,
        subject_key,
        force_type,
        max(officer_id_hash) as officer_id_hash,
        max(subject_id_hash) as subject_id_hash,
        count(*) as n_source_values,
        min(source_file) as source_file,
        min(source_row) as source_row,
        max(loaded_at) as loaded_at

    from actions
    group by agency_id, incident_record_id, officer_key, subject_key, force_type

),

final as (

    select
        md5(
            agency_id || '|' || incident_record_id || '|' || officer_key || '|' || subject_key
            || '|' || force_type
        ) as uof_action_key,
        md5(agency_id || '|' || incident_record_id) as uof_id,
        md5(agency_id || '|' || incident_record_id || '|' || officer_key) as uof_officer_key,
        md5(agency_id || '|' || incident_record_id || '|' || subject_key) as uof_subject_key,
        agency_id,
        officer_id_hash,
        subject_id_hash,
        force_type,
        n_source_values,
        source_file,
        source_row,
        loaded_at

    from aggregated

)

select * from final
