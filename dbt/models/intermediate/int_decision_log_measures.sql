{#-
    The decision-log rows (analysis, agency_id, period, rule, rows_before, rows_after, reason) of
    the body-worn camera, school, survey and response-time marts, unioned into
    mart_decision_log: one row per agency, year and filter the mart applies, rules that keep every
    record included. Their `suppression` rows come from mart_decision_log itself.
-#}
{#- Read by one mart only, untested: a view costs nothing extra. -#}
{{ config(materialized='view') }}
{%- set late_seconds = var('bwc_late_activation_seconds') | int -%}

with

recordings as (

    select * from {{ ref('fct_bwc_recordings') }}

),

audit_events as (

    select * from {{ ref('fct_bwc_audit_events') }}

),

force_incidents as (

    select * from {{ ref('fct_use_of_force_incidents') }}

),

calls as (

    select * from {{ ref('fct_calls_for_service') }}

),

contacts as (

    select * from {{ ref('fct_school_incidents') }}

),

responses as (

    select * from {{ ref('fct_survey_responses') }}

),

item_responses as (

    select * from {{ ref('fct_survey_item_responses') }}

),

as_of as (

    select agency_id, max(as_of_date) as as_of_date
    from (
        select agency_id, max(started_date) as as_of_date from recordings group by agency_id
        union all
        select agency_id, max(deleted_date) from recordings group by agency_id
        union all
        select agency_id, max(event_date) from audit_events group by agency_id
    ) as dates
    group by agency_id

),

recording_facts as (

    select
        recordings.agency_id,
        cast(extract(year from recordings.started_date) as integer) as period,
        recordings.category,
        recordings.retention_days,
        cast({{ dbt.dateadd('day', 'recordings.retention_days', 'recordings.started_date') }} as date)
            <= as_of.as_of_date as is_retention_over,
        recordings.started_at is not null and calls.arrived_at is not null as has_arrival,
        calls.district as call_district

    from recordings

    left join force_incidents
        on recordings.uof_id = force_incidents.uof_id

    left join calls
        on coalesce(recordings.call_id, force_incidents.call_id) = calls.call_id

    left join as_of
        on recordings.agency_id = as_of.agency_id

),

recording_agencies as (

    select distinct agency_id from recordings

),

stop_events as (

    select * from {{ ref('int_stop_events') }}

),

coverage_records as (

    select agency_id, incident_year as period, district, 'force incidents' as record_type
    from force_incidents
    union all
    select agency_id, period, district, 'stops'
    from stop_events

),

bwc_rules as (

    select
        'mart_bwc_compliance' as analysis, coverage_records.agency_id, coverage_records.period,
        coverage_records.record_type || ': agency sends body-worn camera recordings' as rule,
        count(*) as rows_before, count(recording_agencies.agency_id) as rows_after,
        'Coverage (bwc_force_incidents_recorded, bwc_stops_recorded) is measured only for an'
        || ' agency that sends recordings: without the dataset every incident would count as'
        || ' unrecorded.' as reason
    from coverage_records
    left join recording_agencies
        on coverage_records.agency_id = recording_agencies.agency_id
    group by coverage_records.agency_id, coverage_records.period, coverage_records.record_type
    union all
    select
        'mart_bwc_compliance', coverage_records.agency_id, coverage_records.period,
        coverage_records.record_type || ': district recorded (district rows)',
        count(*), count(coverage_records.district),
        'District rows of the coverage measures need the incident''s or the stop''s district; the'
        || ' agency rows keep every record (a stop is a distinct stop id, not a person).'
    from coverage_records
    inner join recording_agencies
        on coverage_records.agency_id = recording_agencies.agency_id
    group by coverage_records.agency_id, coverage_records.period, coverage_records.record_type
    union all
    select
        'mart_bwc_compliance', agency_id, period,
        'recording of a call with a recorded arrival (late activation)',
        count(*), count(*) filter (where has_arrival),
        'Lateness is measured from the first unit''s arrival at the call the recording documents'
        || ' (its own call, else its force incident''s call); recordings without such a call, an'
        || ' arrival time or a start time are left out of bwc_late_activation.'
    from recording_facts
    group by agency_id, period
    union all
    select
        'mart_bwc_compliance', agency_id, period,
        'call district recorded (late activation district rows)',
        count(*) filter (where has_arrival), count(*) filter (where has_arrival and call_district is not null),
        'District rows of bwc_late_activation need the call''s district.'
    from recording_facts
    group by agency_id, period
    union all
    select
        'mart_bwc_compliance', agency_id, period,
        'evidence category known (retention)',
        count(*), count(*) filter (where category != 'unknown'),
        'A recording whose category is unknown has no known retention period; it is left out of'
        || ' bwc_deleted_before_retention and bwc_kept_past_retention.'
    from recording_facts
    group by agency_id, period
    union all
    select
        'mart_bwc_compliance', agency_id, period,
        'finite retention ended by the as-of date (kept past retention)',
        count(*) filter (where category != 'unknown'),
        count(*) filter (where category != 'unknown' and retention_days is not null and is_retention_over),
        'Only a recording whose finite retention period (started_date + retention_days) ended by'
        || ' the agency''s as-of date (its latest recording start, deletion or audit event) can'
        || ' be kept past it; indefinite retention never ends.'
    from recording_facts
    group by agency_id, period

),

school_rules as (

    select
        'mart_school_contacts' as analysis, agency_id, incident_year as period,
        'discipline matter recorded (school_discipline_share)' as rule,
        count(*) as rows_before, count(is_school_discipline_matter) as rows_after,
        'A contact whose matter (school discipline or not) is not recorded is left out of the'
        || ' share, never counted as either.' as reason
    from contacts
    group by agency_id, incident_year
    union all
    select
        'mart_school_contacts', agency_id, incident_year,
        'student race recorded (race rows)',
        count(*), count(subject_race),
        'Rows by race need the student''s race; unknown is a group of its own.'
    from contacts
    group by agency_id, incident_year

),

scored_responses as (

    select
        responses.agency_id,
        cast(extract(year from responses.completed_date) as integer) as period,
        responses.unit,
        exists (
            select 1 from item_responses
            where item_responses.response_id = responses.response_id
                and item_responses.scored_value is not null
                and item_responses.construct is not null
        ) as has_score

    from responses

),

survey_rules as (

    select
        'mart_survey_scores' as analysis, agency_id, period,
        'questionnaire with a scored item' as rule,
        count(*) as rows_before, count(*) filter (where has_score) as rows_after,
        'A questionnaire without an answered item of a construct has no construct score; a'
        || ' respondent counts in a construct''s cells when they answered at least one of its'
        || ' items.' as reason
    from scored_responses
    group by agency_id, period
    union all
    select
        'mart_survey_scores', agency_id, period,
        'unit recorded (unit rows)',
        count(*) filter (where has_score), count(*) filter (where has_score and unit is not null),
        'Unit rows need the respondent''s unit (officer) or district (resident).'
    from scored_responses
    group by agency_id, period

),

call_rules as (

    select
        'mart_response_times' as analysis, agency_id, received_year as period,
        'response time recorded' as rule,
        count(*) as rows_before, count(response_seconds) as rows_after,
        'A call without both a received and an arrival time (cancelled, or no unit arrived) has'
        || ' no response time and is left out of every response-time measure.' as reason
    from calls
    group by agency_id, received_year
    union all
    select
        'mart_response_times', agency_id, received_year,
        'priority recorded (priority rows)',
        count(response_seconds), count(response_seconds) filter (where priority is not null),
        'Rows by priority need the call''s dispatch priority; the all rows keep every call.'
    from calls
    group by agency_id, received_year
    union all
    select
        'mart_response_times', agency_id, received_year,
        'beat recorded (beat rows)',
        count(response_seconds), count(response_seconds) filter (where beat is not null),
        'Beat rows need the call''s beat; the agency rows keep every call.'
    from calls
    group by agency_id, received_year

),

final as (

    select * from bwc_rules
    union all
    select * from school_rules
    union all
    select * from survey_rules
    union all
    select * from call_rules

)

select * from final
