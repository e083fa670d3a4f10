{#-
    One row per force incident: the officer-subject report rows sharing (agency_id,
    incident_record_id). Date, time and place are the incident's (identical on every row of one
    Seattle incident, checked); where rows disagree, the first report row (by source_record_id,
    officer_subject_seq) speaks for the incident. The highest force level of its rows is the
    incident's, ois above level_3 above level_2 above level_1, unknown lowest.
-#}
with

use_of_force as (

    select * from {{ ref('int_use_of_force_deduplicated') }}

),

ordered as (

    select
        *,
        row_number() over (
            partition by agency_id, incident_record_id
            order by source_record_id, officer_subject_seq
        ) as row_in_incident,
        case force_level
            when 'ois' then 4
            when 'level_3' then 3
            when 'level_2' then 2
            when 'level_1' then 1
            else 0
        end as force_level_rank

    from use_of_force

),

aggregated as (

    select
        agency_id,
        incident_record_id,
        max(force_level_rank) as highest_force_level_rank,
        count(*) as n_report_rows,
        count(distinct officer_key) as n_officers,
        count(distinct subject_key) as n_subjects,
        bool_or(subject_injured) as has_subject_injured,
        bool_or(officer_injured) as has_officer_injured,
        max(loaded_at) as loaded_at

    from ordered
    group by agency_id, incident_record_id

),

first_rows as (

    select * from ordered
    where row_in_incident = 1

),

final as (

    select
        md5(first_rows.agency_id || '|' || first_rows.incident_record_id) as uof_id,
        first_rows.agency_id,
        first_rows.incident_record_id,
        first_rows.incident_date,
        first_rows.incident_time,
        first_rows.incident_at,
        cast(extract(year from first_rows.incident_date) as integer) as incident_year,
        first_rows.district,
        first_rows.beat,
        first_rows.reason_for_contact,
        -- the same hash as fct_calls_for_service.call_id, so the incident joins its call
        case
            when first_rows.call_record_id is not null
                then md5(first_rows.agency_id || '|' || first_rows.call_record_id)
        end as call_id,
        case aggregated.highest_force_level_rank
            when 4 then 'ois'
            when 3 then 'level_3'
            when 2 then 'level_2'
            when 1 then 'level_1'
            else 'unknown'
        end as highest_force_level,
        aggregated.n_report_rows,
        aggregated.n_officers,
        aggregated.n_subjects,
        aggregated.has_subject_injured,
        aggregated.has_officer_injured,
        first_rows.source_file,
        first_rows.source_row,
        first_rows.file_hash,
        aggregated.loaded_at,
        first_rows.load_id

    from first_rows

    inner join aggregated
        on first_rows.agency_id = aggregated.agency_id
        and first_rows.incident_record_id = aggregated.incident_record_id

)

select * from final
