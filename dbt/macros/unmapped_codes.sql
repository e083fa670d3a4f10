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

    select
        delivered.agency_id,
        delivered.field_name,
        delivered.raw_value,
        delivered.source_file

    from ({{ delivered_codes('records', fields) }}) as delivered

    left join value_maps
        on delivered.agency_id = value_maps.agency_id
        and delivered.field_name = value_maps.field_name
        and delivered.raw_value = value_maps.source_value

    where value_maps.source_value is null
    {%- if list_relation is not none %}

    union all

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


{#-
    The delivered values of `fields` (each read from its `<field>_raw` column) of `relation`, one
    row per record and field whose value is not null: agency_id, field_name, raw_value (trimmed,
    lower case, as value maps hold them) and source_file. The relation is scanned once for all
    its fields (a union per field scanned a deduplicating view once per field: ~20 s of a build
    at a million stops).
-#}
{% macro delivered_codes(relation, fields) -%}
    select *
    from (
        select
            records.agency_id,
            fields.field_name,
            lower(trim(case fields.field_name
            {%- for field in fields %}
                when '{{ field }}' then cast(records.{{ field }}_raw as {{ dbt.type_string() }})
            {%- endfor %}
            end)) as raw_value,
            records.source_file

        from {{ relation }} as records

        cross join (
            values
            {%- for field in fields %}
                ('{{ field }}'){{ ',' if not loop.last }}
            {%- endfor %}
        ) as fields (field_name)
    ) as unpivoted
    where raw_value is not null
{%- endmacro %}
