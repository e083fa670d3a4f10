{#-
    The rows of the warn tests assert_no_unmapped_<dataset>_codes: every delivered code of a
    dataset's current records that its agency's value maps do not know, by agency, field and raw
    value, with the row count and the first file. `relation` holds the records with a
    <field>_raw column per field in `fields`; `list_relation`, when given, holds one row per
    element of a list field (`list_field`) with force_type_raw-like `<list_raw>` and is_unmapped.
-#}
{% macro unmapped_codes(dataset, relation, fields, list_relation=none, list_field=none, list_raw=none) -%}
with

records as (

    select * from {{ relation }}

),

value_maps as (

    select * from {{ ref('stg_raw__value_maps') }}
    where dataset = '{{ dataset }}'

),

unmapped_values as (

    {%- for field in fields %}

    select
        records.agency_id,
        '{{ field }}' as field_name,
        lower(trim(records.{{ field }}_raw)) as raw_value,
        records.source_file

    from records

    left join value_maps
        on records.agency_id = value_maps.agency_id
        and value_maps.field_name = '{{ field }}'
        and lower(trim(records.{{ field }}_raw)) = value_maps.source_value

    where records.{{ field }}_raw is not null
        and value_maps.source_value is null
    {{ 'union all' if not loop.last or list_relation is not none }}
    {%- endfor %}
    {%- if list_relation is not none %}

    select
        agency_id,
        '{{ list_field }}' as field_name,
        lower({{ list_raw }}) as raw_value,
        source_file

    from {{ list_relation }}
    where is_unmapped
    {%- endif %}

),

final as (

    select
        agency_id,
        field_name,
        raw_value,
        count(*) as row_count,
        min(source_file) as first_source_file

    from unmapped_values
    group by agency_id, field_name, raw_value

)

select * from final
{%- endmacro %}
