{#-
    One row per answered survey item (CANONICAL-MODEL b8 survey_item_response). scored_value
    flips a reverse-scored item (scale_min + scale_max - response_value), so a higher score always
    means more of the construct and construct means can average items.
-#}
with

item_responses as (

    select * from {{ ref('int_survey_item_responses_deduplicated') }}

),

final as (

    select
        md5(agency_id || '|' || response_record_id || '|' || item_id) as item_response_id,
        md5(agency_id || '|' || response_record_id) as response_id,
        agency_id,
        item_id,
        construct,
        response_value,
        scale_min,
        scale_max,
        coalesce(reverse_scored, false) as is_reverse_scored,
        case
            when coalesce(reverse_scored, false) then scale_min + scale_max - response_value
            else response_value
        end as scored_value,
        source_file,
        source_row,
        loaded_at,
        load_id

    from item_responses

)

select * from final
