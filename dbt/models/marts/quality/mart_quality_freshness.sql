{#-
    Is every agency still sending? One row per agency and dataset it is onboarded for: when its
    last file arrived and whether that is within its expected cadence. A dataset is stale when
    nothing arrived for one cadence period plus half a period of grace (a monthly export due on
    the 1st may come on the 15th): like the North Carolina agencies whose data stopped in 2019
    on Open Data Policing, a stale agency keeps its history published but its numbers age.

    A delivery is a file's first arrival: a quarantined file counts (the agency did send), a
    file refused unread (a link out of the landing zone) does not. LANTERN_FRESHNESS_AS_OF moves
    "now" (tests; a re-run of an old night).
-#}

with

cadences as (

    select * from {{ ref('stg_raw__cadences') }}

),

files as (

    select * from {{ ref('stg_raw__files') }}

),

deliveries as (

    select
        agency_id,
        dataset,
        source_file,
        file_hash,
        min(loaded_at) as received_at

    from files
    where file_hash <> 'refused'
    group by agency_id, dataset, source_file, file_hash

),

last_deliveries as (

    select
        agency_id,
        dataset,
        max(received_at) as last_received_at,
        count(*) as files_received

    from deliveries
    group by agency_id, dataset

),

checked as (

    select
        coalesce(
            cast(
                nullif('{{ env_var("LANTERN_FRESHNESS_AS_OF", "") | replace("'", "''") }}', '')
                as timestamp with time zone
            ),
            current_timestamp
        ) as checked_at

),

measured as (

    select
        cadences.agency_id,
        cadences.dataset,
        cadences.expected_cadence,
        cadences.cadence_days,
        last_deliveries.last_received_at,
        coalesce(last_deliveries.files_received, 0) as files_received,
        checked.checked_at,
        {{ dbt.datediff('last_deliveries.last_received_at', 'checked.checked_at', 'day') }}
            as days_since_last_received

    from cadences

    cross join checked

    left join last_deliveries
        on cadences.agency_id = last_deliveries.agency_id
        and cadences.dataset = last_deliveries.dataset

),

final as (

    select
        agency_id,
        dataset,
        expected_cadence,
        cadence_days,
        last_received_at,
        files_received,
        cast(days_since_last_received as bigint) as days_since_last_received,
        case
            when last_received_at is null then 'never_received'
            when days_since_last_received > cadence_days * 1.5 then 'stale'
            else 'fresh'
        end as freshness_status,
        checked_at

    from measured

)

select * from final
