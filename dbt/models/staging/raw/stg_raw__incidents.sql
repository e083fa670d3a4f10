{#-
    Casts raw.incidents and normalises every code and boolean field through raw.value_maps
    (match on agency, field and lower(trim(value))), with the rules of stg_raw__stops. A value
    the maps do not know becomes 'unknown' for the code fields (crime_against,
    offense_severity; also when empty) and null for the booleans; the delivered value stays
    beside as <field>_raw for assert_no_unmapped_incident_codes. offense_group is derived from
    the NIBRS offense code (nibrs_offense_group), not mapped.
-#}
{%- set value_fields = incidents_value_fields() -%}

with

incidents as (

    select * from {{ source('raw', 'incidents') }}

),

agencies as (

    select * from {{ ref('stg_raw__agencies') }}

),

value_maps as (

    select * from {{ ref('stg_raw__value_maps') }}
    where dataset = 'incidents'

),

mapped as (

    select
        incidents.*,
        agencies.time_zone,
        {%- for field in value_fields %}
        map_{{ field }}.canonical_value as {{ field }}_mapped{{ ',' if not loop.last }}
        {%- endfor %}

    from incidents

    left join agencies
        on incidents._agency_id = agencies.agency_id

    {{ value_map_joins('incidents', value_fields) }}

),

normalised as (

    select
        *,

        coalesce(crime_against_mapped, 'unknown') as crime_against_normalised,
        coalesce(offense_severity_mapped, 'unknown') as offense_severity_normalised,
        cast(firearm_used_mapped as boolean) as firearm_used_normalised,
        cast(is_supplement_mapped as boolean) as is_supplement_normalised,

        {{ dbt.safe_cast('incident_date', 'date') }} as incident_date_cast,
        {{ dbt.safe_cast('incident_time', 'time') }} as incident_time_cast,
        -- Exports rarely number offense lines (SLMPD does not): the lines of one delivered
        -- version (one file) are numbered in file order, which int_incidents_deduplicated keeps
        -- whole, so the number is stable for the version that wins.
        coalesce(
            {{ dbt.safe_cast('offense_seq', 'integer') }},
            row_number() over (
                partition by _agency_id, source_record_id, _source_file, _loaded_at
                order by _source_row
            )
        ) as offense_seq_numbered

    from mapped

),

final as (

    select
        -- ids
        cast(_agency_id as varchar) as agency_id,
        cast(source_record_id as varchar) as source_record_id,
        cast(offense_seq_numbered as integer) as offense_seq,
        {{ dbt.safe_cast('victim_seq', 'bigint') }} as victim_seq,

        -- dimensions
        incident_date_cast as incident_date,
        incident_time_cast as incident_time,
        cast(offense_code as varchar) as offense_code,
        cast(offense_description as varchar) as offense_description,
        cast(offense_category as varchar) as offense_category,
        {{ nibrs_offense_group('offense_code') }} as offense_group,
        crime_against_normalised as crime_against,
        offense_severity_normalised as offense_severity,
        firearm_used_normalised as firearm_used,
        is_supplement_normalised as is_supplement,
        cast(district as varchar) as district,
        cast(neighborhood as varchar) as neighborhood,

        -- delivered values of the mapped fields, for the unmapped-code check
        {%- for field in value_fields %}
        cast({{ field }} as varchar) as {{ field }}_raw,
        {%- endfor %}

        -- timestamps
        -- Incidents are thousands a month per agency, so the per-row zone conversion that
        -- stg_raw__stops avoids for ten million stops costs well under a second here.
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
