{#-
    One row per accused officer x allegation (CANONICAL-MODEL b4 allegation). final_outcome_class
    groups the final finding: sustained; open when the finding is open or not recorded
    (unknown); not_sustained for every other closing finding. is_disciplined is true when the
    discipline is a reprimand, suspension or termination.
-#}
with

allegations as (

    select * from {{ ref('int_allegations_deduplicated') }}

),

final as (

    select
        md5(
            agency_id || '|' || source_record_id || '|' || cast(allegation_seq as varchar)
        ) as allegation_id,
        md5(agency_id || '|' || complaint_record_id) as complaint_id,
        agency_id,
        officer_id_hash,
        category,
        category_detail,
        recommended_finding,
        final_finding,
        case
            when final_finding = 'sustained' then 'sustained'
            when final_finding in ('open', 'unknown') then 'open'
            else 'not_sustained'
        end as final_outcome_class,
        discipline in ('reprimand', 'suspension', 'termination') as is_disciplined,
        discipline,
        source_file,
        source_row,
        loaded_at

    from allegations

)

select * from final
