{#-
    One row per completed survey questionnaire (CANONICAL-MODEL b8 survey_response), with no
    respondent identity, and the number of items answered. A unit's rank group and tenure band
    together can name a person (the one commander of a small unit), so both read 'suppressed'
    where fewer than small_numbers_threshold (k = 10, METHODS.md 9) questionnaires of the wave
    share the unit, rank group and tenure band (CANONICAL-MODEL b8 privacy).
-#}
with

responses as (

    select * from {{ ref('int_survey_responses_deduplicated') }}

),

item_responses as (

    select * from {{ ref('int_survey_item_responses_deduplicated') }}

),

cells as (

    select
        *,
        count(*) over (
            partition by agency_id, survey_wave, unit, rank_group, tenure_band
        ) as cell_size

    from responses

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
        md5(cells.agency_id || '|' || cells.source_record_id) as response_id,
        cells.agency_id,
        cells.source_record_id as response_record_id,
        cells.survey_wave,
        cells.survey_type,
        cells.unit,
        case
            when cells.cell_size >= {{ var('small_numbers_threshold') }} then cells.rank_group
            else 'suppressed'
        end as rank_group,
        case
            when cells.cell_size >= {{ var('small_numbers_threshold') }} then cells.tenure_band
            else 'suppressed'
        end as tenure_band,
        cells.completed_date,
        cast(coalesce(item_counts.item_count, 0) as integer) as item_count,
        cells.source_file,
        cells.source_row,
        cells.loaded_at,
        cells.load_id

    from cells

    left join item_counts
        on cells.agency_id = item_counts.agency_id
        and cells.source_record_id = item_counts.response_record_id

)

select * from final
