{#-
    raw.incidents is append-only and an agency updates an incident by sending it again in a
    later file: St. Louis MPD's monthly files each re-send hundreds of older incidents (Mar 2024
    re-sends 421 of Feb's). NIBRS replaces a resubmitted incident whole, and its offense lines
    carry no number of their own, so the unit of a version is the incident: every line of the
    incident's latest version is kept and the lines of older versions are dropped (an offense
    removed on review disappears with them).

    Which version is latest: the later load; within one load (a backfill of several files) the
    file whose newest incident_date is later, then the later file name. File names alone do not
    order real deliveries: SLMPD's Crime_02_2024.csv sorts after Crime-04-2024.csv.
-#}
with

incidents as (

    select * from {{ ref('stg_raw__incidents') }}

),

delivered_files as (

    select
        agency_id,
        source_file,
        loaded_at,
        max(incident_date) as newest_incident_date

    from incidents
    group by agency_id, source_file, loaded_at

),

versions as (

    select distinct
        agency_id,
        source_record_id,
        source_file,
        loaded_at

    from incidents

),

ranked_versions as (

    select
        versions.*,
        row_number() over (
            partition by versions.agency_id, versions.source_record_id
            order by
                versions.loaded_at desc,
                delivered_files.newest_incident_date desc nulls last,
                versions.source_file desc
        ) as version_rank,
        count(*) over (
            partition by versions.agency_id, versions.source_record_id
        ) as version_count

    from versions

    inner join delivered_files
        on versions.agency_id = delivered_files.agency_id
        and versions.source_file = delivered_files.source_file
        and versions.loaded_at = delivered_files.loaded_at

),

final as (

    select
        incidents.*,
        ranked_versions.version_count

    from incidents

    inner join ranked_versions
        on incidents.agency_id = ranked_versions.agency_id
        and incidents.source_record_id = ranked_versions.source_record_id
        and incidents.source_file = ranked_versions.source_file
        and incidents.loaded_at = ranked_versions.loaded_at

    where ranked_versions.version_rank = 1

)

select * from final
