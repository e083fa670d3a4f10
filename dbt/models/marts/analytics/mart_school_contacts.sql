{#-
    School-based officers' contacts with students (fct_school_incidents; DESIGN.md 5, issue 5
    item 7), by agency and the year of the contact, in the shape of the other analytics marts
    (measure_comparisons), each a share of contacts with a 95% Wilson interval:

      school_discipline_share        contacts about a school-discipline (non-criminal) matter /
                                     contacts whose matter is recorded (the "limited role"
                                     measure); all contacts, no comparison group;
      school_arrest_rate             contacts ending in the student's arrest / contacts;
      school_justice_referral_rate   contacts sending the student into the justice system (a
                                     citation, a juvenile referral or an arrest) / contacts;
    the last two for all students and by the student's race, compared with the agency's
    reference group (ratio with a 95% Katz log-scale interval). The base is contacts, not
    enrolled students: the records carry no enrolment.
-#}

with

contacts as (

    select * from {{ ref('fct_school_incidents') }}

),

agencies as (

    select * from {{ ref('dim_agencies') }}

),

records as (

    select
        agency_id, incident_year as period, 'school_discipline_share' as measure,
        'all' as group_type, 'all' as group_name, is_school_discipline_matter as is_event
    from contacts
    where is_school_discipline_matter is not null
    union all
    select agency_id, incident_year, 'school_arrest_rate', 'all', 'all', is_arrest
    from contacts
    union all
    select agency_id, incident_year, 'school_arrest_rate', 'race', subject_race, is_arrest
    from contacts
    union all
    select agency_id, incident_year, 'school_justice_referral_rate', 'all', 'all', is_justice_referral
    from contacts
    union all
    select agency_id, incident_year, 'school_justice_referral_rate', 'race', subject_race, is_justice_referral
    from contacts

),

counts as (

    select
        agency_id,
        period,
        measure,
        group_type,
        group_name,
        count(*) filter (where is_event) as events,
        count(*) as contacts

    from records
    where period is not null and group_name is not null
    group by agency_id, period, measure, group_type, group_name

),

cells as (

    select
        counts.agency_id,
        counts.period,
        'agency' as unit_type,
        'all' as unit,
        counts.measure,
        counts.group_type,
        counts.group_name,
        case when counts.group_type = 'race' then agencies.reference_group end as comparison_group,
        counts.events as numerator,
        counts.contacts as denominator,
        true as denominator_is_count,
        'binomial' as interval_kind,
        1.0 as scale,
        case counts.measure
            when 'school_discipline_share' then
                'estimate = school-based officer contacts about a school-discipline (non-criminal)'
                || ' matter / contacts whose matter is recorded'
            when 'school_arrest_rate' then
                'estimate = contacts ending in the student''s arrest / contacts (of the group)'
            else
                'estimate = contacts ending in a citation, juvenile referral or arrest / contacts'
                || ' (of the group)'
        end
        || ', by the year of the contact; 95% Wilson interval; for race, ratio = estimate / that'
        || ' of the comparison group, 95% interval exp(ln(ratio) -/+ 1.96 * sqrt(1/a - 1/n1 + 1/b'
        || ' - 1/n2)) (Katz). Lantern METHODS.md 8, 9.' as method

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
