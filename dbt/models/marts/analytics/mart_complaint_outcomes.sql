{#-
    Sustained rate of complaint allegations (METHODS.md 8): sustained allegations / closed
    allegations (final finding other than open or unknown, fct_allegations.final_outcome_class),
    by agency and the year the complaint was received, three ways (group_type):
      all                    every allegation;
      allegation_category    by category (force, bias_profiling, ...), no comparison group;
      complainant_race       by the race of the complainants, compared with the agency's
                             reference group: an allegation counts once for each race among its
                             complaint's complainants (a complaint of a black and a white
                             complainant counts in both), and not at all without a complainant.
-#}

with

allegations as (

    select * from {{ ref('fct_allegations') }}

),

complaints as (

    select * from {{ ref('fct_complaints') }}

),

complainants as (

    select * from {{ ref('fct_complainants') }}

),

agencies as (

    select * from {{ ref('dim_agencies') }}

),

closed_allegations as (

    select
        allegations.allegation_id,
        allegations.complaint_id,
        allegations.agency_id,
        cast(extract(year from complaints.received_date) as integer) as period,
        allegations.category,
        allegations.final_outcome_class = 'sustained' as is_sustained

    from allegations

    inner join complaints
        on allegations.complaint_id = complaints.complaint_id

    where complaints.received_date is not null
        and allegations.final_outcome_class != 'open'

),

complainant_races as (

    select distinct complaint_id, subject_race
    from complainants

),

grouped as (

    select agency_id, period, 'all' as group_type, 'all' as group_name, is_sustained
    from closed_allegations
    union all
    select agency_id, period, 'allegation_category', category, is_sustained
    from closed_allegations
    union all
    select
        closed_allegations.agency_id,
        closed_allegations.period,
        'complainant_race',
        complainant_races.subject_race,
        closed_allegations.is_sustained
    from closed_allegations
    inner join complainant_races
        on closed_allegations.complaint_id = complainant_races.complaint_id

),

counts as (

    select
        agency_id,
        period,
        group_type,
        group_name,
        count(*) as closed_allegations,
        count(*) filter (where is_sustained) as sustained_allegations

    from grouped
    group by agency_id, period, group_type, group_name

),

cells as (

    select
        counts.agency_id,
        counts.period,
        'agency' as unit_type,
        'all' as unit,
        'sustained_rate' as measure,
        counts.group_type,
        counts.group_name,
        case when counts.group_type = 'complainant_race' then agencies.reference_group end
            as comparison_group,
        counts.sustained_allegations as numerator,
        counts.closed_allegations as denominator,
        true as denominator_is_count,
        'binomial' as interval_kind,
        1.0 as scale,
        'estimate = sustained allegations / closed allegations (final finding not open), by the'
        || ' year the complaint was received; 95% Wilson interval; for complainant_race an'
        || ' allegation counts once for each race among its complaint''s complainants, and ratio ='
        || ' estimate / that of the comparison group, 95% interval exp(ln(ratio) -/+ 1.96 *'
        || ' sqrt(1/a - 1/n1 + 1/b - 1/n2)) (Katz). Lantern METHODS.md 8, 9.' as method

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
