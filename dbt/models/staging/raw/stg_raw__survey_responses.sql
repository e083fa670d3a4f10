{#-
    Casts raw.survey_responses (one completed questionnaire, no respondent identity) and
    normalises survey type, rank group and tenure band through raw.value_maps.
-#}
with

source_rows as (

    select * from {{ source('raw', 'survey_responses') }}

),

agencies as (

    select * from {{ ref('stg_raw__agencies') }}

),

value_maps as (

    select * from {{ ref('stg_raw__value_maps') }}
    where dataset = 'survey_responses'

),

final as (

    select
        -- ids
        cast(source_rows._agency_id as varchar) as agency_id,
        cast(source_rows.source_record_id as varchar) as source_record_id,

        -- dimensions
        cast(source_rows.survey_wave as varchar) as survey_wave,
        cast(source_rows.unit as varchar) as unit,
        {{- records_mapped_columns('survey_responses') }}

        -- timestamps
        {{ dbt.safe_cast('source_rows.completed_date', 'date') }} as completed_date,

        -- lineage
        cast(source_rows._source_file as varchar) as source_file,
        cast(source_rows._source_row as bigint) as source_row,
        cast(source_rows._file_hash as varchar) as file_hash,
        cast(source_rows._loaded_at as timestamp with time zone) as loaded_at,
        cast(source_rows._load_id as varchar) as load_id

    from source_rows

    left join agencies
        on source_rows._agency_id = agencies.agency_id

    {{ value_map_joins('source_rows', records_value_fields('survey_responses').keys() | list) }}

)

select * from final
