{#-
    One row per officer of a force incident: the incident's report rows sharing one officer (the
    hashed officer id; a row without an officer id is its own officer). Injured is true when any
    of the officer's rows says so; years of service is the largest the rows give.
-#}
with

use_of_force as (

    select * from {{ ref('int_use_of_force_deduplicated') }}

),

aggregated as (

    select
        agency_id,
        incident_record_id,
        officer_key,
        max(officer_id_hash) as officer_id_hash,
        bool_or(officer_injured) as is_injured,
        max(officer_years_of_service) as years_of_service,
        count(distinct subject_key) as n_subjects,
        count(*) as n_report_rows,
        min(source_file) as source_file,
        min(source_row) as source_row,
        max(loaded_at) as loaded_at

    from use_of_force
    group by agency_id, incident_record_id, officer_key

),

final as (

    select
        md5(agency_id || '|' || incident_record_id || '|' || officer_key) as uof_officer_key,
        md5(agency_id || '|' || incident_record_id) as uof_id,
        agency_id,
        officer_id_hash,
        is_injured,
        years_of_service,
        n_subjects,
        n_report_rows,
        source_file,
        source_row,
        loaded_at

    from aggregated

)

select * from final
