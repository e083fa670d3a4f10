{#-
    Body-worn camera compliance (DESIGN.md 5; issue 5 item 7), by agency and year, in the shape
    of the other analytics marts (measure_comparisons), every measure a share with a 95% Wilson
    interval and no comparison group:

      bwc_force_incidents_recorded   force incidents (fct_use_of_force_incidents) with at least one
                                     linked recording (fct_bwc_recordings.uof_id) / force
                                     incidents; year and district of the incident;
      bwc_stops_recorded             stops (distinct fct_stops.stop_id) with at least one linked
                                     recording (fct_bwc_recordings.stop_id) / stops; year and
                                     district of the stop;
      bwc_late_activation            recordings that started more than var
                                     bwc_late_activation_seconds (default 30) after the first unit
                                     arrived at the call they document / recordings documenting a
                                     call with a recorded arrival (the recording's call, else its
                                     force incident's call); year the recording started, district
                                     of the call; all, and by evidence category;
      bwc_deleted_before_retention   recordings deleted before their category's retention period
                                     ended (started_date + retention_days; any deletion when the
                                     retention is indefinite) / recordings of a known category;
                                     year the recording started; all, and by category;
      bwc_kept_past_retention        recordings not deleted by the end of their finite retention
                                     period (deleted later, or still kept) / recordings whose
                                     period ended by the agency's as-of date, the latest date its
                                     recordings and audit trail carry (start, deletion or audit
                                     event), so the figure does not move with the day the job
                                     runs; year the recording started; all, and by category.

    Coverage is measured only for agencies that send body-worn camera recordings (an agency
    without the dataset would otherwise show 0% coverage). The filters are logged in
    mart_decision_log.
-#}
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

agencies as (

    select * from {{ ref('dim_agencies') }}

),

recording_agencies as (

    select distinct agency_id from recordings

),

recorded_incidents as (

    select distinct uof_id from recordings where uof_id is not null

),

recorded_stops as (

    select distinct stop_id from recordings where stop_id is not null

),

stop_events as (

    select * from {{ ref('int_stop_events') }}

),

coverage as (

    select
        force_incidents.agency_id,
        force_incidents.incident_year as period,
        force_incidents.district,
        'bwc_force_incidents_recorded' as measure,
        recorded_incidents.uof_id is not null as is_event

    from force_incidents

    inner join recording_agencies
        on force_incidents.agency_id = recording_agencies.agency_id

    left join recorded_incidents
        on force_incidents.uof_id = recorded_incidents.uof_id

    union all

    select
        stop_events.agency_id,
        stop_events.period,
        stop_events.district,
        'bwc_stops_recorded',
        recorded_stops.stop_id is not null

    from stop_events

    inner join recording_agencies
        on stop_events.agency_id = recording_agencies.agency_id

    left join recorded_stops
        on stop_events.stop_id = recorded_stops.stop_id

),

activations as (

    select
        recordings.agency_id,
        cast(extract(year from recordings.started_date) as integer) as period,
        calls.district,
        recordings.category,
        recordings.started_at > {{ dbt.dateadd('second', late_seconds, 'calls.arrived_at') }} as is_late

    from recordings

    left join force_incidents
        on recordings.uof_id = force_incidents.uof_id

    inner join calls
        on coalesce(recordings.call_id, force_incidents.call_id) = calls.call_id

    where calls.arrived_at is not null
        and recordings.started_at is not null

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

retention as (

    select
        recordings.agency_id,
        cast(extract(year from recordings.started_date) as integer) as period,
        recordings.category,
        recordings.retention_days,
        recordings.is_deleted,
        recordings.deleted_date,
        cast({{ dbt.dateadd('day', 'recordings.retention_days', 'recordings.started_date') }} as date) as retention_end,
        as_of.as_of_date

    from recordings

    inner join as_of
        on recordings.agency_id = as_of.agency_id

    where recordings.category != 'unknown'

),

retention_events as (

    select
        agency_id,
        period,
        category,
        'bwc_deleted_before_retention' as measure,
        is_deleted and (retention_days is null or deleted_date < retention_end) as is_event
    from retention
    union all
    select
        agency_id,
        period,
        category,
        'bwc_kept_past_retention',
        not is_deleted or deleted_date > retention_end
    from retention
    where retention_days is not null
        and retention_end <= as_of_date

),

-- each kind of record counted once at its finest grain (millions of stops become a few
-- thousand rows), then summed into the agency, district and category cells: counting every
-- record once per cell it falls in read 24 million rows at 10 million stops
coverage_counts as (

    select
        agency_id,
        period,
        district,
        measure,
        count(*) filter (where is_event) as events,
        count(*) as records

    from coverage
    where period is not null
    group by agency_id, period, district, measure

),

activation_counts as (

    select
        agency_id,
        period,
        district,
        category,
        count(*) filter (where is_late) as events,
        count(*) as records

    from activations
    where period is not null
    group by agency_id, period, district, category

),

retention_counts as (

    select
        agency_id,
        period,
        measure,
        category,
        count(*) filter (where is_event) as events,
        count(*) as records

    from retention_events
    where period is not null
    group by agency_id, period, measure, category

),

records as (

    select
        agency_id, period, 'agency' as unit_type, 'all' as unit, measure,
        'all' as group_type, 'all' as group_name, events, records
    from coverage_counts
    union all
    select agency_id, period, 'district', district, measure, 'all', 'all', events, records
    from coverage_counts
    where district is not null
    union all
    select
        agency_id, period, 'agency', 'all', 'bwc_late_activation', 'all', 'all', events, records
    from activation_counts
    union all
    select
        agency_id, period, 'agency', 'all', 'bwc_late_activation', 'category', category,
        events, records
    from activation_counts
    union all
    select
        agency_id, period, 'district', district, 'bwc_late_activation', 'all', 'all', events,
        records
    from activation_counts
    where district is not null
    union all
    select agency_id, period, 'agency', 'all', measure, 'all', 'all', events, records
    from retention_counts
    union all
    select agency_id, period, 'agency', 'all', measure, 'category', category, events, records
    from retention_counts

),

counts as (

    select
        agency_id,
        period,
        unit_type,
        unit,
        measure,
        group_type,
        group_name,
        cast(sum(events) as bigint) as events,
        cast(sum(records) as bigint) as records

    from records
    group by agency_id, period, unit_type, unit, measure, group_type, group_name

),

cells as (

    select
        counts.agency_id,
        counts.period,
        counts.unit_type,
        counts.unit,
        counts.measure,
        counts.group_type,
        counts.group_name,
        cast(null as varchar) as comparison_group,
        counts.events as numerator,
        counts.records as denominator,
        true as denominator_is_count,
        'binomial' as interval_kind,
        1.0 as scale,
        case counts.measure
            when 'bwc_force_incidents_recorded' then
                'estimate = force incidents with at least one linked body-worn camera recording /'
                || ' force incidents, by the year and district of the incident'
            when 'bwc_stops_recorded' then
                'estimate = stops (distinct stop ids) with at least one linked body-worn camera'
                || ' recording / stops, by the year and district of the stop'
            when 'bwc_late_activation' then
                'estimate = recordings started more than {{ late_seconds }} s (var'
                || ' bwc_late_activation_seconds) after the first unit arrived at the call they'
                || ' document / recordings of a call with a recorded arrival (the recording''s'
                || ' call, else its force incident''s), by the year the recording started and'
                || ' the call''s district'
            when 'bwc_deleted_before_retention' then
                'estimate = recordings deleted before started_date + retention_days (any'
                || ' deletion when retention is indefinite) / recordings of a known category, by'
                || ' the year the recording started'
            else
                'estimate = recordings not deleted by started_date + retention_days (deleted'
                || ' later or still kept) / recordings whose finite retention ended by the'
                || ' agency''s as-of date (the latest recording start, deletion or audit event),'
                || ' by the year the recording started'
        end || '; 95% Wilson interval. Lantern METHODS.md 8, 9.' as method

    from counts

    inner join agencies
        on counts.agency_id = agencies.agency_id

),

{{ measure_comparisons('cells', 'measures') }},

final as (

    select
        *,
        {{ measure_flags() }}

    from measures

)

select * from final
