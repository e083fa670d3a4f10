{#-
    One row per incident (the current version of each), built from its offense lines. The top
    offense is the line an analyst would headline: Group A before Group B, felony before
    misdemeanor before infraction, crime against a person before property before society, then
    the first line. SLMPD's own IncidentTopSRS_UCR ranks by the retired UCR summary hierarchy
    and is kept in raw only (src_incidenttopsrs_ucr).
-#}
with

offenses as (

    select * from {{ ref('int_incidents_deduplicated') }}

),

ranked_offenses as (

    select
        *,
        row_number() over (
            partition by agency_id, source_record_id
            order by
                case offense_group when 'group_a' then 0 when 'group_b' then 1 else 2 end,
                case offense_severity
                    when 'felony' then 0
                    when 'misdemeanor' then 1
                    when 'infraction' then 2
                    else 3
                end,
                case crime_against
                    when 'person' then 0
                    when 'property' then 1
                    when 'society' then 2
                    else 3
                end,
                offense_seq
        ) as offense_rank

    from offenses

),

incidents as (

    select
        agency_id,
        source_record_id,
        min(incident_date) as incident_date,
        -- NIBRS counts an offense code once per incident, however many victims
        count(distinct offense_code) as offense_count,
        count(*) as offense_line_count,
        bool_or(firearm_used) as firearm_used,
        bool_or(is_supplement) as is_supplement,
        max(version_count) as version_count

    from offenses
    group by agency_id, source_record_id

),

top_offenses as (

    select * from ranked_offenses
    where offense_rank = 1

),

final as (

    select
        md5(incidents.agency_id || '|' || incidents.source_record_id) as incident_id,
        incidents.agency_id,
        incidents.source_record_id,
        incidents.incident_date,
        top_offenses.incident_time,
        top_offenses.incident_at,
        cast(extract(year from incidents.incident_date) as integer) as incident_year,
        top_offenses.district,
        top_offenses.neighborhood,
        cast(incidents.offense_count as integer) as offense_count,
        cast(incidents.offense_line_count as integer) as offense_line_count,
        top_offenses.offense_code as top_offense_code,
        top_offenses.offense_description as top_offense_description,
        top_offenses.offense_group as top_offense_group,
        top_offenses.crime_against as top_crime_against,
        incidents.firearm_used,
        incidents.is_supplement,
        cast(incidents.version_count as integer) as version_count,
        top_offenses.source_file,
        top_offenses.file_hash,
        top_offenses.loaded_at,
        top_offenses.load_id

    from incidents

    inner join top_offenses
        on incidents.agency_id = top_offenses.agency_id
        and incidents.source_record_id = top_offenses.source_record_id

)

select * from final
