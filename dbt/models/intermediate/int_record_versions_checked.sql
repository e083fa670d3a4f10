{#-
    The newest raw load time of each dataset whose record versions int_record_versions has
    numbered: its incremental watermark. Built after it (depends_on below), and read there by
    name before it runs, so a night that fails in int_record_versions keeps the earlier time and
    the next night numbers those records again.
-#}
-- depends_on: {{ ref('int_record_versions') }}

{%- set datasets = ['stops', 'arrests'] %}

with

checked as (

    {%- for dataset in datasets %}

    select
        '{{ dataset }}' as dataset,
        max(cast(_loaded_at as timestamp with time zone)) as checked_through

    from {{ source('raw', dataset) }}
    {%- if not loop.last %}

    union all
    {%- endif %}
    {%- endfor %}

)

select * from checked
