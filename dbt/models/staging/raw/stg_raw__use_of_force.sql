{#-
    Casts raw.use_of_force and normalises every code and boolean field through raw.value_maps
    (match on agency, field and lower(trim(value))), with the rules of stg_raw__stops. A value
    the maps do not know becomes 'unknown' for the code fields (all three have a default_code
    in ingestion/canonical/use_of_force.yml; also when empty) and null for booleans. The list
    field force_types stays as delivered ('|'-separated) and is mapped per element in
    int_use_of_force_actions_unnested. Delivered values stay beside as <field>_raw.
-#}
{%- set value_fields = use_of_force_value_fields() -%}

with

use_of_force as (

    select * from {{ source('raw', 'use_of_force') }}

),

agencies as (

    select * from {{ ref('stg_raw__agencies') }}

),

value_maps as (

    select * from {{ ref('stg_raw__value_maps') }}
    where dataset = 'use_of_force'

),

mapped as (

    select
        use_of_force.*,
        agencies.time_zone,
        {%- for field in value_fields %}
        map_{{ field }}.canonical_value as {{ field }}_mapped{{ ',' if not loop.last }}
        {%- endfor %}

    from use_of_force

    left join agencies
        on use_of_force._agency_id = agencies.agency_id

    {{ value_map_joins('use_of_force', value_fields) }}

),

normalised as (

    select
        *,

        coalesce(force_level_mapped, 'unknown') as force_level_normalised,
        coalesce(subject_race_mapped, 'unknown') as subject_race_normalised,
        coalesce(subject_sex_mapped, 'unknown') as subject_sex_normalised,

        cast(officer_injured_mapped as boolean) as officer_injured_normalised,
        cast(subject_injured_mapped as boolean) as subject_injured_normalised,
        cast(subject_arrested_mapped as boolean) as subject_arrested_normalised,

        {{ dbt.safe_cast('incident_date', 'date') }} as incident_date_cast,
        {{ dbt.safe_cast('incident_time', 'time') }} as incident_time_cast,
        {{ dbt.safe_cast('subject_age', 'integer') }} as subject_age_cast

    from mapped

),

final as (

    select
        -- ids
        cast(_agency_id as varchar) as agency_id,
        cast(source_record_id as varchar) as source_record_id,
        coalesce({{ dbt.safe_cast('officer_subject_seq', 'integer') }}, 1) as officer_subject_seq,
        cast(incident_record_id as varchar) as incident_record_id,
        cast(officer_id_hash as varchar) as officer_id_hash,
        cast(subject_id_hash as varchar) as subject_id_hash,
        cast(call_record_id as varchar) as call_record_id,

        -- dimensions
        incident_date_cast as incident_date,
        incident_time_cast as incident_time,
        force_level_normalised as force_level,
        cast(district as varchar) as district,
        cast(beat as varchar) as beat,
        cast(reason_for_contact as varchar) as reason_for_contact,
        cast(reason_for_force as varchar) as reason_for_force,
        subject_race_normalised as subject_race,
        subject_sex_normalised as subject_sex,
        case
            when subject_age_cast between 10 and 110 then subject_age_cast
        end as subject_age,
        subject_injured_normalised as subject_injured,
        subject_arrested_normalised as subject_arrested,
        officer_injured_normalised as officer_injured,
        {{ dbt.safe_cast('officer_years_of_service', 'integer') }} as officer_years_of_service,
        cast(force_types as varchar) as force_types_raw,

        -- delivered values of the mapped fields, for the unmapped-code check
        {%- for field in value_fields %}
        cast({{ field }} as varchar) as {{ field }}_raw,
        {%- endfor %}

        -- timestamps
        -- Force reports are a few thousand a year per agency: the per-row zone conversion that
        -- stg_raw__stops avoids for ten million stops costs nothing here.
        timezone(time_zone, incident_date_cast + incident_time_cast) as incident_at,

        -- lineage
        cast(_source_file as varchar) as source_file,
        cast(_source_row as bigint) as source_row,
        cast(_file_hash as varchar) as file_hash,
        cast(_loaded_at as timestamp with time zone) as loaded_at,
        cast(_load_id as varchar) as load_id

    from normalised

)

select * from final
