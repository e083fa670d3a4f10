{#-
    Warn (DESIGN.md 3 and 6), as assert_no_unmapped_codes for stops: every code an agency sends
    in its arrests export should be in its value maps. Staging maps an unknown code to
    unknown / other / null so publication goes on; the rows returned here (agency, field, raw
    value, count, first file) tell the agency which `values:` entries its arrests mapping lacks.
    Counted on the current version of each record.
-#}
{{ config(severity='warn', tags=['warn']) }}

{{ unmapped_codes('arrests', ref('int_arrests_deduplicated'), arrests_value_fields()) }}
