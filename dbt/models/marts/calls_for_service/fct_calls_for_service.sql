{#-
    One row per call for service (CANONICAL-MODEL b5): the current version of each call with its
    UTC moments and the intervals the response-time measures need (seconds; null when a moment is
    missing, e.g. a call cancelled before dispatch has no dispatch or arrival).
-#}
with

calls as (

    select * from {{ ref('int_calls_for_service_deduplicated') }}

),

final as (

    select
        md5(agency_id || '|' || source_record_id) as call_id,
        agency_id,
        source_record_id as call_record_id,
        received_date,
        cast(extract(year from received_date) as integer) as received_year,
        received_at,
        dispatched_at,
        arrived_at,
        cleared_at,
        cast({{ seconds_between('received_at', 'dispatched_at') }} as integer) as dispatch_delay_seconds,
        cast({{ seconds_between('received_at', 'arrived_at') }} as integer) as response_seconds,
        cast({{ seconds_between('received_at', 'cleared_at') }} as integer) as handling_seconds,
        call_type_initial,
        call_type_final,
        priority,
        call_source,
        disposition,
        district,
        beat,
        mental_health_flag as is_mental_health_call,
        officer_id_hash,
        source_file,
        source_row,
        loaded_at,
        load_id

    from calls

)

select * from final
