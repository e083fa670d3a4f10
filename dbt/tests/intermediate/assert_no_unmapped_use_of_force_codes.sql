{#-
    Warn (DESIGN.md 3 and 6), as assert_no_unmapped_codes for stops: every code an agency sends
    in its use-of-force export should be in its value maps, force types element by element.
    Staging maps an unknown code to unknown / other / null so publication goes on; the rows
    returned here (agency, field, raw value, count, first file) tell the agency which `values:`
    entries its use_of_force mapping lacks. Counted on the current version of each report row.
-#}
{{ config(severity='warn', tags=['warn']) }}

{{
    unmapped_codes(
        'use_of_force',
        ref('int_use_of_force_deduplicated'),
        use_of_force_value_fields(),
        list_relation=ref('int_use_of_force_actions_unnested'),
        list_field='force_types',
        list_raw='force_type_raw',
    )
}}
