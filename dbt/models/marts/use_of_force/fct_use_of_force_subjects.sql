{#-
    One row per subject of a force incident: the incident's report rows sharing one subject
    (the hashed subject id; a row without a subject id is its own subject). Race, sex and age come
    from the subject's first report row; injured and arrested are true when any row says so.
-#}
with

use_of_force as (

    select * from {{ ref('int_use_of_force_deduplicated') }}

),

ordered as (

    select
        *,
        row_number() over (
            partition by agency_id, incident_record_id, subject_key
            order by source_record_id, officer_subject_seq
        ) as row_of_subject

    from use_of_force

),

aggregated as (

    select
        agency_id,
        incident_record_id,
        subject_key,
        count(*) as n_report_rows,
        count(distinct officer_key) as n_officers,
        bool_or(subject_injured) as is_injured,
        bool_or(subject_arrested) as is_arrested

    from ordered
    group by agency_id, incident_record_id, subject_key

),

final as (

    select
        md5(ordered.agency_id || '|' || ordered.incident_record_id || '|' || ordered.subject_key)
            as uof_subject_key,
        md5(ordered.agency_id || '|' || ordered.incident_record_id) as uof_id,
        ordered.agency_id,
        ordered.subject_id_hash,
        ordered.subject_race,
        ordered.subject_sex,
        ordered.subject_age,
        aggregated.is_injured,
        aggregated.is_arrested,
        aggregated.n_officers,
        aggregated.n_report_rows,
        ordered.source_file,
        ordered.source_row,
        ordered.loaded_at

    from ordered

    inner join aggregated
        on ordered.agency_id = aggregated.agency_id
        and ordered.incident_record_id = aggregated.incident_record_id
        and ordered.subject_key = aggregated.subject_key

    where ordered.row_of_subject = 1

)

select * from final
