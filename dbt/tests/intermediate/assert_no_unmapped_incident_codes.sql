{#-
    Warn (DESIGN.md 3), as assert_no_unmapped_arrest_codes: every code an agency sends in its
    incidents export should be in its value maps. Staging maps an unknown code to unknown / null
    so publication goes on; the rows returned here (agency, field, raw value, count, first file)
    tell the agency which `values:` entries its incidents mapping lacks. Counted on the current
    version of each incident.
-#}
{{ config(severity='warn', tags=['warn']) }}

{{ unmapped_codes('incidents', ref('int_incidents_deduplicated'), incidents_value_fields()) }}
