{#-
    One left join of the dataset's value maps per code or boolean field: every staging model
    normalises delivered codes the same way (agency, field, lower(trim(value))), so the rule lives
    here once. `relation` is the alias of the raw rows; `value_maps` must be a CTE of the model.
-#}
{% macro value_map_joins(relation, fields) -%}
    {%- for field in fields %}

    left join value_maps as map_{{ field }}
        on {{ relation }}._agency_id = map_{{ field }}.agency_id
        and map_{{ field }}.field_name = '{{ field }}'
        and lower(trim({{ relation }}.{{ field }})) = map_{{ field }}.source_value
    {%- endfor %}
{%- endmacro %}
