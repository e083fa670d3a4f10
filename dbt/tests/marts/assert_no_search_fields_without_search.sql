{#-
    Blocking logic rule (DESIGN.md 6; OPP predicate and RIPA): a stop recorded without a search
    cannot have found contraband or have a search basis. Staging already drops the "no
    contraband" filler on such stops, so what remains here contradicts itself and must be fixed
    at the source before publication. One row per offending person-stop, with its file and row.
-#}
{{ config(tags=['blocking']) }}

with

stops as (

    select * from {{ ref('fct_stops') }}

),

final as (

    select
        agency_id,
        source_record_id,
        person_seq,
        source_file,
        source_row,
        contraband_found,
        search_basis_detail,
        search_basis,
        search_discretion

    from stops

    where search_conducted = false
        and (
            contraband_found is not null
            or search_basis_detail is not null
            or search_basis is not null
            or search_discretion is not null
        )

)

select * from final
