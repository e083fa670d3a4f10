{#-
    Eligibility and decision log (DESIGN.md 5; issue 5 item 9): one row per analysis, agency,
    year and rule that the SQL analytics marts apply, with the records before and after the rule
    and why, so every published figure can be traced to what it left out. The Python fits write
    the same columns to mart_decision_log_fits. Rules that keep every record are logged too
    (rows_before = rows_after): the absence of an exclusion is also a finding.

    The `suppression` rule of each mart counts its published rows (cells), not records: rows
    before = rows of the mart, rows after = rows with no count suppressed.
-#}
{%- set k = var('small_numbers_threshold') | int -%}

with

-- the stops counted once by every value the rules read (`stops` weighs each combination by
-- its people), from int_stop_cells (fct_stops counted by agency-year, incremental): the CTE is
-- read four times, and DuckDB materialises such a CTE whole first (every column of 10 million
-- stops: 27 s of the build; the seven columns: 9 s; the cells: a few thousand rows)
stops as (

    select
        agency_id,
        stop_year,
        district,
        subject_race,
        search_conducted,
        search_basis_detail is not null as search_basis_recorded,
        contraband_found,
        {{ weighted_count('stops') }} as stops

    from ({{ stop_cells() }}) as cells
    group by
        agency_id,
        stop_year,
        district,
        subject_race,
        search_conducted,
        search_basis_detail is not null,
        contraband_found

),

arrests as (

    select * from {{ ref('fct_arrests') }}

),

force_subjects as (

    select * from {{ ref('fct_use_of_force_subjects') }}

),

force_incidents as (

    select * from {{ ref('fct_use_of_force_incidents') }}

),

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

population as (

    select * from {{ ref('dim_population') }}

),

force_records as (

    select
        force_subjects.agency_id,
        force_incidents.incident_year as period,
        force_incidents.district,
        force_subjects.subject_race

    from force_subjects

    inner join force_incidents
        on force_subjects.uof_id = force_incidents.uof_id

),

-- records counted by agency, year, group and kind
event_records as (

    select agency_id, stop_year as period, subject_race, 'stops' as event, stops as records
    from stops
    union all
    select agency_id, arrest_year, subject_race, 'arrests', 1 from arrests
    union all
    select agency_id, period, subject_race, 'use_of_force_subjects', 1 from force_records

),

benchmarks as (

    {{ benchmark_population('event_records', 'population') }}

),

benchmark_rule as (

    select
        'mart_benchmark_rates' as analysis,
        event_records.agency_id,
        event_records.period,
        event_records.event || ': group has a population benchmark' as rule,
        cast(sum(event_records.records) as bigint) as rows_before,
        cast(
            coalesce(sum(event_records.records) filter (where benchmarks.subject_race is not null), 0)
            as bigint
        ) as rows_after,
        'Records of a group without residents in the agency''s population benchmark (unknown,'
        || ' or a group the census table does not give) have no rate; they stay in the counts.'
            as reason

    from event_records

    left join benchmarks
        on event_records.agency_id = benchmarks.agency_id
        and event_records.period = benchmarks.period
        and event_records.subject_race = benchmarks.subject_race

    group by event_records.agency_id, event_records.period, event_records.event

),

stop_rules as (

    select
        agency_id,
        stop_year as period,
        {{ weighted_count('stops') }} as stops,
        {{ weighted_count('stops', 'search_conducted is not null') }} as stops_search_recorded,
        {{ weighted_count('stops', 'search_conducted is not null and district is not null') }}
            as stops_search_recorded_with_district,
        {{ weighted_count('stops', 'search_conducted') }} as searches,
        {{ weighted_count('stops', 'search_conducted and search_basis_recorded') }}
            as searches_basis_recorded,
        {{ weighted_count('stops', 'search_conducted and contraband_found is not null') }}
            as searches_outcome_recorded,
        {{ weighted_count('stops', 'search_conducted and contraband_found is not null and district is not null') }}
            as searches_outcome_with_district

    from stops
    group by agency_id, stop_year

),

reference_districts as (

    select distinct stops.agency_id, stops.stop_year as period, stops.district
    from stops
    inner join agencies
        on stops.agency_id = agencies.agency_id
        and stops.subject_race = agencies.reference_group
    where stops.search_conducted
        and stops.contraband_found is not null
        and stops.district is not null

),

shared_district_searches as (

    select
        stops.agency_id,
        stops.stop_year as period,
        {{ weighted_count('stops.stops') }} as searches

    from stops

    inner join reference_districts
        on stops.agency_id = reference_districts.agency_id
        and stops.stop_year = reference_districts.period
        and stops.district = reference_districts.district

    where stops.search_conducted and stops.contraband_found is not null
    group by stops.agency_id, stops.stop_year

),

stop_based_rules as (

    select
        'mart_search_rates' as analysis, agency_id, period,
        'search status recorded' as rule,
        stops as rows_before, stops_search_recorded as rows_after,
        'A person whose search status the agency does not record is left out of every search'
        || ' rate (denominator and numerator), never counted as not searched.' as reason
    from stop_rules
    union all
    select
        'mart_search_rates', agency_id, period,
        'district recorded (district rows)',
        stops_search_recorded, stops_search_recorded_with_district,
        'District rows need the stop''s district; the agency rows keep every recorded stop.'
    from stop_rules
    union all
    select
        'mart_search_rates', agency_id, period,
        'search basis recorded (discretion split)',
        searches, searches_basis_recorded,
        'A search without a recorded legal basis counts in search_rate but in neither the higher'
        || ' (consent) nor the lower (incident to arrest, inventory, warrant) discretion rate.'
    from stop_rules
    union all
    select
        'mart_hit_rates', agency_id, period,
        'search outcome recorded',
        searches, searches_outcome_recorded,
        'A search whose contraband outcome is not recorded cannot be a hit or a miss; contraband'
        || ' found without a search is no hit (RIPA Board).'
    from stop_rules
    union all
    select
        'mart_hit_rates', agency_id, period,
        'district recorded (district rates and district average)',
        searches_outcome_recorded, searches_outcome_with_district,
        'Within-district hit rates and their average need the stop''s district.'
    from stop_rules
    union all
    select
        'mart_hit_rates', stop_rules.agency_id, stop_rules.period,
        'district where the reference group was searched (district average)',
        stop_rules.searches_outcome_with_district, coalesce(shared_district_searches.searches, 0),
        'A group''s district average is compared with the reference group''s over the districts'
        || ' where both have a search with the outcome recorded; searches in districts without'
        || ' a reference-group search are left out of every comparison.'
    from stop_rules
    left join shared_district_searches
        on stop_rules.agency_id = shared_district_searches.agency_id
        and stop_rules.period = shared_district_searches.period

),

dataset_years as (

    select
        agency_id,
        period,
        {{ weighted_count('records', "event = 'stops'") }} as stops,
        {{ weighted_count('records', "event = 'arrests'") }} as arrests,
        {{ weighted_count('records', "event = 'use_of_force_subjects'") }} as force_subjects

    from event_records
    group by agency_id, period

),

chain_rules as (

    select
        'mart_relative_rate_index' as analysis, agency_id, period,
        'decision points with both datasets' as rule,
        4 as rows_before,
        (case when stops > 0 then 1 else 0 end)
        + (case when stops > 0 then 1 else 0 end)
        + (case when arrests > 0 and stops > 0 then 1 else 0 end)
        + (case when force_subjects > 0 and arrests > 0 then 1 else 0 end) as rows_after,
        'Rows are decision points (stop, search, arrest, use of force), not records: a decision'
        || ' point needs its events and its base from datasets the agency sent that year.'
            as reason
    from dataset_years
    union all
    select
        'mart_use_of_force_rates', agency_id, period,
        'force subjects in a year with arrests (per 1,000 arrests)',
        force_subjects, case when arrests > 0 then force_subjects else 0 end,
        'A rate per arrest needs the agency''s arrests of the same year.'
    from dataset_years
    where force_subjects > 0
    union all
    select
        'mart_use_of_force_rates', agency_id, period,
        'force subjects in a year with stops (per 10,000 stops)',
        force_subjects, case when stops > 0 then force_subjects else 0 end,
        'A rate per stop needs the agency''s stops of the same year.'
    from dataset_years
    where force_subjects > 0

),

force_district_rule as (

    select
        'mart_use_of_force_rates' as analysis,
        agency_id,
        period,
        'incident district recorded (district rows)' as rule,
        count(*) as rows_before,
        count(district) as rows_after,
        'District rows need the force incident''s district.' as reason

    from force_records
    group by agency_id, period

),

allegation_records as (

    select
        allegations.agency_id,
        cast(extract(year from complaints.received_date) as integer) as period,
        allegations.final_outcome_class,
        exists (
            select 1 from complainants
            where complainants.complaint_id = allegations.complaint_id
        ) as has_complainant

    from allegations

    inner join complaints
        on allegations.complaint_id = complaints.complaint_id

),

complaint_rules as (

    select
        'mart_complaint_outcomes' as analysis,
        agency_id,
        period,
        'allegation closed' as rule,
        count(*) as rows_before,
        count(*) filter (where final_outcome_class != 'open') as rows_after,
        'The sustained rate is over closed allegations; open or unrecorded findings are left out.'
            as reason
    from allegation_records
    group by agency_id, period
    union all
    select
        'mart_complaint_outcomes',
        agency_id,
        period,
        'closed allegation with a complainant (complainant_race rows)',
        count(*) filter (where final_outcome_class != 'open'),
        count(*) filter (where final_outcome_class != 'open' and has_complainant),
        'Rows by complainant race need a complainant on the complaint.'
    from allegation_records
    group by agency_id, period

),

{%- set marts = [
    'mart_benchmark_rates', 'mart_relative_rate_index', 'mart_search_rates', 'mart_hit_rates',
    'mart_use_of_force_rates', 'mart_complaint_outcomes', 'mart_bwc_compliance',
    'mart_school_contacts', 'mart_survey_scores', 'mart_response_times',
] %}

suppression_rules as (

    {%- for mart in marts %}
    select
        '{{ mart }}' as analysis,
        agency_id,
        period,
        'small numbers suppressed (rows)' as rule,
        count(*) as rows_before,
        count(*) filter (where not is_suppressed) as rows_after,
        'Counts from 1 to {{ k - 1 }} are suppressed (var small_numbers_threshold = {{ k }}), and'
        || ' the next-smallest count of a set holding exactly one suppressed count, so that'
        || ' totals cannot give it back; estimates, intervals and ratios from a suppressed count'
        || ' are null. Rows, not records.' as reason
    from {{ ref(mart) }}
    group by agency_id, period
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

unioned as (

    select * from benchmark_rule
    union all
    select * from stop_based_rules
    union all
    select * from chain_rules
    union all
    select * from force_district_rule
    union all
    select * from complaint_rules
    union all
    select * from {{ ref('int_decision_log_measures') }}
    union all
    select * from suppression_rules

),

final as (

    select
        analysis,
        agency_id,
        cast(period as integer) as period,
        rule,
        cast(rows_before as bigint) as rows_before,
        cast(rows_after as bigint) as rows_after,
        reason

    from unioned
    where period is not null

)

select * from final
