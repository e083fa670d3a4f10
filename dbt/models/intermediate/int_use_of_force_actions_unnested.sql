{#-
    One row per element of force_types (the officer-subject row's list of force types, '|'-
    separated in raw), mapped through raw.value_maps per element. A type the maps do not know
    becomes 'other' (the domain has it) and keeps its delivered text in force_type_raw for
    assert_no_unmapped_use_of_force_codes. Rows without force types produce no action.
-#}
with

use_of_force as (

    select * from {{ ref('int_use_of_force_deduplicated') }}
    where force_types_raw is not null

),

value_maps as (

    select * from {{ ref('stg_raw__value_maps') }}
    where dataset = 'use_of_force'
        and field_name = 'force_types'

),

elements as (

    select
        agency_id,
        source_record_id,
        officer_subject_seq,
        incident_record_id,
        officer_key,
        subject_key,
        officer_id_hash,
        subject_id_hash,
        trim(unnest(string_to_array(force_types_raw, '|'))) as force_type_raw,
        source_file,
        source_row,
        loaded_at,
        load_id

    from use_of_force

),

final as (

    select
        elements.*,
        coalesce(value_maps.canonical_value, 'other') as force_type,
        value_maps.canonical_value is null as is_unmapped

    from elements

    left join value_maps
        on elements.agency_id = value_maps.agency_id
        and lower(elements.force_type_raw) = value_maps.source_value

    where elements.force_type_raw <> ''

)

select * from final
