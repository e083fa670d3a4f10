{#-
    Casts raw.fatal_force (a reference dataset: people killed by police, recorded by a third party
    about every agency) and normalises subject_race and subject_sex through raw.value_maps, as the
    agencies' staging models do (a value the maps do not know becomes 'unknown'). The source
    (_agency_id, e.g. wapo) is kept as source_id. The latest load of a record wins.
-#}
{%- set value_fields = ['subject_race', 'subject_sex', 'mental_illness_related', 'body_camera'] -%}

with

fatal_force as (

    select * from {{ source('raw', 'fatal_force') }}

),

value_maps as (

    select * from {{ ref('stg_raw__value_maps') }}
    where dataset = 'fatal_force'

),

mapped as (

    select
        fatal_force.*,
        {%- for field in value_fields %}
        map_{{ field }}.canonical_value as {{ field }}_mapped{{ ',' if not loop.last }}
        {%- endfor %}

    from fatal_force

    {{ value_map_joins('fatal_force', value_fields) }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by _agency_id, source_record_id
            order by _loaded_at desc, _source_file desc, _source_row desc
        ) as version_rank

    from mapped

),

final as (

    select
        -- ids
        cast(_agency_id as varchar) as source_id,
        cast(source_record_id as varchar) as source_record_id,

        -- dimensions
        {{ dbt.safe_cast('incident_date', 'date') }} as incident_date,
        cast(city as varchar) as city,
        cast(county as varchar) as county,
        upper(trim(cast(state as varchar))) as state,
        cast(agency_ids as varchar) as agency_ids,
        case
            when {{ dbt.safe_cast('subject_age', 'integer') }} between 0 and 120
                then {{ dbt.safe_cast('subject_age', 'integer') }}
        end as subject_age,
        coalesce(subject_sex_mapped, 'unknown') as subject_sex,
        coalesce(subject_race_mapped, 'unknown') as subject_race,
        cast(armed_with as varchar) as armed_with,
        cast(threat_type as varchar) as threat_type,
        cast(flee_status as varchar) as flee_status,
        cast(mental_illness_related_mapped as boolean) as mental_illness_related,
        cast(body_camera_mapped as boolean) as body_camera,

        -- delivered values of the mapped codes, for the unmapped-code check
        cast(subject_race as varchar) as subject_race_raw,
        cast(subject_sex as varchar) as subject_sex_raw,

        -- lineage
        cast(_source_file as varchar) as source_file,
        cast(_source_row as bigint) as source_row,
        cast(_loaded_at as timestamp with time zone) as loaded_at,
        cast(_load_id as varchar) as load_id

    from ranked
    where version_rank = 1

)

select * from final
