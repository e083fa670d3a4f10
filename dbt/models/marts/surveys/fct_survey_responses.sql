{#-
    One row per completed survey questionnaire (CANONICAL-MODEL b8 survey_response), with no
    respondent identity, and the number of items answered.
-#}
with

responses as (

    select * from {{ ref('int_survey_responses_deduplicated') }}

),

item_responses as (

    select * from {{ ref('int_survey_item_responses_deduplicated') }}

),

item_counts as (

    select
        agency_id,
        response_record_id,
        count(*) as item_count

    from item_responses
    group by agency_id, response_record_id

),

final as (

    select
        md5(responses.agency_id || '|' || responses.source_record_id) as response_id,
        responses.agency_id,
        responses.source_record_id as response_record_id,
        responses.survey_wave,
        responses.survey_type,
        responses.unit,
        responses.rank_group,
        responses.tenure_band,
        responses.completed_date,
        cast(coalesce(item_counts.item_count, 0) as integer) as item_count,
        responses.source_file,
        responses.source_row,
        responses.loaded_at,
        responses.load_id

    from responses

    left join item_counts
        on responses.agency_id = item_counts.agency_id
        and responses.source_record_id = item_counts.response_record_id

)

select * from final
