{#-
    Casts raw.arrests and normalises every code and boolean field through raw.value_maps (match
    on agency, field and lower(trim(value))), with the rules of stg_raw__stops. A value the maps
    do not know becomes:
      - code field with a default_code (arrest_type, offense_group, offense_severity,
        subject_race, subject_sex): 'unknown', also when the field is empty;
      - search_basis_detail: 'other';
      - reason_for_stop: 'unknown', but null when empty (an arrest not made at a stop has no
        reason for a stop);
      - boolean field: null.
    The delivered value stays beside as <field>_raw for the unmapped-code check.
-#}
{%- set value_fields = arrests_value_fields() -%}

with

arrests as (

    select * from {{ source('raw', 'arrests') }}

),

agencies as (

    select * from {{ ref('stg_raw__agencies') }}

),

value_maps as (

    select * from {{ ref('stg_raw__value_maps') }}
    where dataset = 'arrests'

),

-- Fingerprint of everything outside raw.arrests that shapes an agency's rows (its arrests value
-- maps and time zone), so that incremental fct_arrests rebuilds an agency's rows when a map is
-- added, as fct_stops does.
mapping_hashes as (

    select
        agencies.agency_id,
        md5(
            coalesce(agencies.time_zone, '')
            || '|'
            || coalesce(
                string_agg(
                    value_maps.field_name
                    || '=' || value_maps.source_value
                    || '>' || value_maps.canonical_value,
                    ';'
                    order by
                        value_maps.field_name,
                        value_maps.source_value,
                        value_maps.canonical_value
                ),
                ''
            )
        ) as mapping_hash

    from agencies

    left join value_maps
        on agencies.agency_id = value_maps.agency_id

    group by agencies.agency_id, agencies.time_zone

),

mapped as (

    select
        arrests.*,
        agencies.time_zone,
        mapping_hashes.mapping_hash,
        {%- for field in value_fields %}
        map_{{ field }}.canonical_value as {{ field }}_mapped{{ ',' if not loop.last }}
        {%- endfor %}

    from arrests

    left join agencies
        on arrests._agency_id = agencies.agency_id

    left join mapping_hashes
        on arrests._agency_id = mapping_hashes.agency_id

    {{ value_map_joins('arrests', value_fields) }}

),

normalised as (

    select
        *,

        coalesce(arrest_type_mapped, 'unknown') as arrest_type_normalised,
        coalesce(offense_group_mapped, 'unknown') as offense_group_normalised,
        coalesce(offense_severity_mapped, 'unknown') as offense_severity_normalised,
        coalesce(subject_race_mapped, 'unknown') as subject_race_normalised,
        coalesce(subject_sex_mapped, 'unknown') as subject_sex_normalised,
        coalesce(
            search_basis_detail_mapped,
            case when search_basis_detail is not null then 'other' end
        ) as search_basis_detail_normalised,
        coalesce(
            reason_for_stop_mapped,
            case when reason_for_stop is not null then 'unknown' end
        ) as reason_for_stop_normalised,

        cast(warrant_flag_mapped as boolean) as warrant_flag_normalised,
        cast(search_conducted_mapped as boolean) as search_conducted_normalised,
        cast(contraband_found_mapped as boolean) as contraband_found_normalised,

        {{ dbt.safe_cast('arrest_date', 'date') }} as arrest_date_cast,
        {{ dbt.safe_cast('arrest_time', 'time') }} as arrest_time_cast,
        {{ dbt.safe_cast('subject_age', 'integer') }} as subject_age_cast

    from mapped

),

final as (

    select
        -- ids
        cast(_agency_id as varchar) as agency_id,
        cast(source_record_id as varchar) as source_record_id,
        coalesce({{ dbt.safe_cast('arrestee_seq', 'integer') }}, 1) as arrestee_seq,
        cast(stop_record_id as varchar) as stop_record_id,
        cast(incident_record_id as varchar) as incident_record_id,
        cast(officer_id_hash as varchar) as officer_id_hash,

        -- dimensions
        arrest_date_cast as arrest_date,
        arrest_time_cast as arrest_time,
        arrest_type_normalised as arrest_type,
        cast(offense_code as varchar) as offense_code,
        cast(offense_description as varchar) as offense_description,
        offense_group_normalised as offense_group,
        offense_severity_normalised as offense_severity,
        warrant_flag_normalised as warrant_flag,
        subject_race_normalised as subject_race,
        subject_sex_normalised as subject_sex,
        case
            when subject_age_cast between 10 and 110 then subject_age_cast
        end as subject_age,
        cast(district as varchar) as district,
        cast(beat as varchar) as beat,
        cast(unit as varchar) as unit,
        reason_for_stop_normalised as reason_for_stop,

        -- search fields as for stops (Open Policing predicate): a "no" in contraband_found
        -- without a search is filler and is nulled; anything else is kept as delivered.
        search_conducted_normalised as search_conducted,
        search_basis_detail_normalised as search_basis_detail,
        case
            when search_conducted_normalised = false and contraband_found_normalised = false
                then null
            else contraband_found_normalised
        end as contraband_found,

        -- delivered values of the mapped fields, for the unmapped-code check
        {%- for field in value_fields %}
        cast({{ field }} as varchar) as {{ field }}_raw,
        {%- endfor %}

        -- timestamps
        -- Arrests are a few percent of stops, so the per-row zone conversion that
        -- stg_raw__stops avoids for ten million stops costs well under a second here.
        timezone(time_zone, arrest_date_cast + arrest_time_cast) as arrest_at,

        -- lineage
        cast(_source_file as varchar) as source_file,
        cast(_source_row as bigint) as source_row,
        cast(_file_hash as varchar) as file_hash,
        cast(_loaded_at as timestamp with time zone) as loaded_at,
        cast(_load_id as varchar) as load_id,
        mapping_hash

    from normalised

)

select * from final
