{#-
    Warn (DESIGN.md 3 and 6): every code an agency sends should be in its value maps. Staging
    already maps an unknown code to unknown / other / null so publication goes on, but the rows
    returned here (agency, field, raw value, count) tell the agency which `values:` entries its
    mapping file lacks.
-#}
{{ config(severity='warn', tags=['warn']) }}

select * from {{ ref('int_unmapped_codes') }}
