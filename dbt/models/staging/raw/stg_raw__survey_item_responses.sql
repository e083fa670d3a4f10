{#-
    Casts raw.survey_item_responses: the answer and its scale as integers (scale 1-5 when the
    export does not send it, as ingestion/canonical/survey_item_responses.yml says), construct
    and the reverse-scored flag normalised through raw.value_maps.
-#}
with

source_rows as (

    select * from {{ source('raw', 'survey_item_responses') }}

),

agencies as (

    select * from {{ ref('stg_raw__agencies') }}

),

value_maps as (

    select * from {{ ref('stg_raw__value_maps') }}
    where dataset = 'survey_item_responses'

),

final as (

    select
        -- ids
        cast(source_rows._agency_id as varchar) as agency_id,
        cast(source_rows.response_record_id as varchar) as response_record_id,
        cast(source_rows.item_id as varchar) as item_id,

        -- dimensions
        {{- records_mapped_columns('survey_item_responses') }}

        -- measures
        {{ dbt.safe_cast('source_rows.response_value', 'integer') }} as response_value,
        coalesce({{ dbt.safe_cast('source_rows.scale_min', 'integer') }}, 1) as scale_min,
        coalesce({{ dbt.safe_cast('source_rows.scale_max', 'integer') }}, 5) as scale_max,

        -- lineage
        cast(source_rows._source_file as varchar) as source_file,
        cast(source_rows._source_row as bigint) as source_row,
        cast(source_rows._file_hash as varchar) as file_hash,
        cast(source_rows._loaded_at as timestamp with time zone) as loaded_at,
        cast(source_rows._load_id as varchar) as load_id

    from source_rows

    left join agencies
        on source_rows._agency_id = agencies.agency_id

    {{ value_map_joins('source_rows', records_value_fields('survey_item_responses').keys() | list) }}

)

select * from final
