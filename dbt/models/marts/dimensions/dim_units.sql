{#-
    The organisational and geographic units the records name (districts, precincts, units), per
    agency, with how many records of each type fall in each: the list unit-specific performance
    measures are reported by.
-#}

with

named as (

    select agency_id, 'district' as unit_type, district as unit_name, 'stops' as record_type
    from {{ ref('fct_stops') }}
    where district is not null
    union all
    select agency_id, 'district', district, 'arrests'
    from {{ ref('fct_arrests') }}
    where district is not null
    union all
    select agency_id, 'unit', unit, 'arrests'
    from {{ ref('fct_arrests') }}
    where unit is not null
    union all
    select agency_id, 'district', district, 'incidents'
    from {{ ref('fct_incidents') }}
    where district is not null
    union all
    select agency_id, 'district', district, 'use_of_force'
    from {{ ref('fct_use_of_force_incidents') }}
    where district is not null

),

final as (

    select
        md5(agency_id || '|' || unit_type || '|' || unit_name) as unit_key,
        agency_id,
        unit_type,
        unit_name,
        count(*) filter (where record_type = 'stops') as stops,
        count(*) filter (where record_type = 'arrests') as arrests,
        count(*) filter (where record_type = 'incidents') as incidents,
        count(*) filter (where record_type = 'use_of_force') as use_of_force_incidents

    from named
    group by agency_id, unit_type, unit_name

)

select * from final
