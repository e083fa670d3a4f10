{#-
    The offense lines of the current version of each incident. Lines are kept as the export
    delivers them: SLMPD repeats a crime against persons once per victim (victim_seq), which is
    also how UCR counts those crimes (one per victim); count distinct offense_code per incident
    for NIBRS offenses (fct_incidents.offense_count).
-#}
with

incidents as (

    select * from {{ ref('int_incidents_deduplicated') }}

),

final as (

    select
        md5(agency_id || '|' || source_record_id || '|' || cast(offense_seq as varchar))
            as incident_offense_id,
        -- the same hash as fct_arrests.incident_id, so an arrest joins its incident
        md5(agency_id || '|' || source_record_id) as incident_id,
        agency_id,
        source_record_id,
        offense_seq,
        victim_seq,
        incident_date,
        offense_code,
        offense_description,
        offense_category,
        offense_group,
        crime_against,
        offense_severity,
        firearm_used,
        source_file,
        source_row,
        file_hash,
        loaded_at,
        load_id

    from incidents

)

select * from final
