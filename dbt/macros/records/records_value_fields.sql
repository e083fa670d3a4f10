{#-
    The `code` and `boolean` fields of the record types of CANONICAL-MODEL b5-b8
    (ingestion/canonical/<dataset>.yml), by dataset, as name -> type: dlt loads them as delivered,
    the staging models normalise them through raw.value_maps, and assert_no_unmapped_record_codes
    reports what the maps do not know. One list so the two cannot disagree.
-#}
{% macro records_value_fields(dataset) -%}
    {{ return({
        'calls_for_service': {
            'call_source': 'code',
            'disposition': 'code',
            'mental_health_flag': 'boolean',
        },
        'bwc_recordings': {
            'activation_trigger': 'code',
            'category': 'code',
            'redaction_status': 'code',
            'publicly_released': 'boolean',
        },
        'bwc_audit_events': {
            'event_type': 'code',
        },
        'school_incidents': {
            'subject_race': 'code',
            'subject_sex': 'code',
            'subject_age_group': 'code',
            'reason_for_contact': 'code',
            'referral_source': 'code',
            'outcome': 'code',
            'on_school_grounds': 'boolean',
            'disability_504_iep': 'boolean',
            'searched': 'boolean',
            'handcuffed': 'boolean',
            'force_used': 'boolean',
            'detained': 'boolean',
            'school_discipline_matter': 'boolean',
        },
        'survey_responses': {
            'survey_type': 'code',
            'rank_group': 'code',
            'tenure_band': 'code',
        },
        'survey_item_responses': {
            'construct': 'code',
            'reverse_scored': 'boolean',
        },
    }[dataset]) }}
{%- endmacro %}

{#-
    The value-mapped columns of a staging model: `<field>` normalised (a code field becomes
    'unknown' when empty or unmapped, every one has default_code unknown; a boolean becomes null)
    and `<field>_raw` as delivered. Used inside the select of the `mapped` CTE's consumer.
-#}
{% macro records_mapped_columns(dataset) -%}
    {%- for field, kind in records_value_fields(dataset).items() %}
        {%- if kind == 'code' %}
        coalesce(map_{{ field }}.canonical_value, 'unknown') as {{ field }},
        {%- else %}
        cast(map_{{ field }}.canonical_value as boolean) as {{ field }},
        {%- endif %}
        cast(source_rows.{{ field }} as varchar) as {{ field }}_raw,
    {%- endfor %}
{%- endmacro %}

{#-
    A local date and time of the agency's clock as a UTC timestamp (the agency's IANA zone from
    raw.agencies); null when the date or the time is missing (a moment without its clock time
    would make response times and activation delays up).
-#}
{% macro local_timestamp(date_column, time_column, zone_column='agencies.time_zone') -%}
    {{ utc_from_local(
        zone_column,
        dbt.safe_cast(date_column, 'date') ~ ' + ' ~ dbt.safe_cast(time_column, 'time')
    ) }}
{%- endmacro %}
