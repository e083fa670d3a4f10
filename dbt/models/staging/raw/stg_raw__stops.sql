{#-
    Casts raw.stops and normalises every code and boolean field through raw.value_maps
    (match on agency, field and lower(trim(value))). Rules for a value the maps do not know,
    documented in _raw__models.yml:
      - code field with a default_code (subject_race, subject_sex, reason_for_stop): 'unknown',
        also when the field is empty;
      - other code fields: 'other' when the domain has it (stop_type, search_basis_detail),
        else null (outcome, which is then derived from the flags);
      - boolean field: null.
    The delivered value stays beside as <field>_raw so int_unmapped_codes can name it.
-#}
{%- set value_fields = stops_value_fields() -%}

with

stops as (

    select * from {{ source('raw', 'stops') }}

),

agencies as (

    select * from {{ ref('stg_raw__agencies') }}

),

value_maps as (

    select * from {{ ref('stg_raw__value_maps') }}
    where dataset = 'stops'

),

mapped as (

    select
        stops.*,
        agencies.time_zone,
        agencies.stops_mapping_hash as mapping_hash,
        {%- for field in value_fields %}
        map_{{ field }}.canonical_value as {{ field }}_mapped{{ ',' if not loop.last }}
        {%- endfor %}

    from stops

    left join agencies
        on stops._agency_id = agencies.agency_id

    {{ value_map_joins('stops', value_fields) }}

),

normalised as (

    select
        *,

        coalesce(stop_type_mapped, case when stop_type is not null then 'other' end)
            as stop_type_normalised,
        coalesce(subject_race_mapped, 'unknown') as subject_race_normalised,
        coalesce(subject_sex_mapped, 'unknown') as subject_sex_normalised,
        coalesce(reason_for_stop_mapped, 'unknown') as reason_for_stop_normalised,
        coalesce(
            search_basis_detail_mapped,
            case when search_basis_detail is not null then 'other' end
        ) as search_basis_detail_normalised,
        outcome_mapped as outcome_normalised,

        cast(search_conducted_mapped as boolean) as search_conducted_normalised,
        cast(contraband_found_mapped as boolean) as contraband_found_normalised,
        cast(frisk_performed_mapped as boolean) as frisk_performed_normalised,
        cast(arrest_made_mapped as boolean) as arrest_made_normalised,
        cast(citation_issued_mapped as boolean) as citation_issued_normalised,
        cast(warning_issued_mapped as boolean) as warning_issued_normalised,

        {{ dbt.safe_cast('stop_date', 'date') }} as stop_date_cast,
        {{ dbt.safe_cast('stop_time', 'time') }} as stop_time_cast,
        {{ dbt.safe_cast('subject_age', 'integer') }} as subject_age_cast

    from mapped

),

final as (

    select
        -- ids
        cast(_agency_id as varchar) as agency_id,
        cast(source_record_id as varchar) as source_record_id,
        coalesce({{ dbt.safe_cast('person_seq', 'integer') }}, 1) as person_seq,
        cast(officer_id_hash as varchar) as officer_id_hash,

        -- dimensions
        stop_date_cast as stop_date,
        stop_time_cast as stop_time,
        stop_type_normalised as stop_type,
        cast(district as varchar) as district,
        cast(beat as varchar) as beat,
        subject_race_normalised as subject_race,
        subject_sex_normalised as subject_sex,
        case
            when subject_age_cast between 10 and 110 then subject_age_cast
        end as subject_age,
        reason_for_stop_normalised as reason_for_stop,

        -- search fields follow the Open Policing predicate: they describe a search, so they are
        -- null when search_conducted is false. A "no" in contraband_found for a stop without a
        -- search is filler many exports write on every row and is nulled; a "yes" or a search
        -- basis there contradicts the record and is kept, for the blocking test
        -- assert_no_search_fields_without_search to stop publication.
        search_conducted_normalised as search_conducted,
        case
            when search_conducted_normalised then
                case
                    when search_basis_detail_normalised in (
                        'k9', 'plain_view', 'consent', 'probable_cause'
                    ) then search_basis_detail_normalised
                    when search_basis_detail_normalised is not null then 'other'
                end
        end as search_basis,
        search_basis_detail_normalised as search_basis_detail,
        -- RIPA Board split (METHODS.md 4): consent is the only higher-discretion basis.
        case
            when search_conducted_normalised then
                case
                    when search_basis_detail_normalised = 'consent' then 'higher'
                    when search_basis_detail_normalised in (
                        'incident_to_arrest', 'inventory', 'warrant'
                    ) then 'lower'
                    else 'other'
                end
        end as search_discretion,
        case
            when search_conducted_normalised = false and contraband_found_normalised = false
                then null
            else contraband_found_normalised
        end as contraband_found,
        frisk_performed_normalised as frisk_performed,

        -- an agency records either outcome flags or one strictest-outcome code; each fills the
        -- other when it is missing
        coalesce(arrest_made_normalised, outcome_normalised = 'arrest') as arrest_made,
        coalesce(citation_issued_normalised, outcome_normalised = 'citation') as citation_issued,
        coalesce(warning_issued_normalised, outcome_normalised = 'warning') as warning_issued,
        coalesce(
            outcome_normalised,
            case
                when arrest_made_normalised then 'arrest'
                when citation_issued_normalised then 'citation'
                when warning_issued_normalised then 'warning'
                when
                    arrest_made_normalised = false
                    and citation_issued_normalised = false
                    and warning_issued_normalised = false
                    then 'no_action'
            end
        ) as outcome,

        -- delivered values of the mapped fields, for int_unmapped_codes
        {%- for field in value_fields %}
        cast({{ field }} as varchar) as {{ field }}_raw,
        {%- endfor %}
        (
            {%- for field in value_fields %}
            ({{ field }} is not null and {{ field }}_mapped is null)
            {{- ' or' if not loop.last }}
            {%- endfor %}
        ) as has_unmapped_value,

        -- timestamps
        -- local clock time in the agency's zone to UTC: one constant-zone branch per agency
        -- zone (utc_from_local), exact in DST gaps, repeated hours and half-hour shifts
        {{ utc_from_local('time_zone', 'stop_date_cast + stop_time_cast') }} as stop_at,

        -- lineage
        cast(_source_file as varchar) as source_file,
        cast(_source_row as bigint) as source_row,
        cast(_file_hash as varchar) as file_hash,
        cast(_loaded_at as timestamp with time zone) as loaded_at,
        cast(_load_id as varchar) as load_id,
        mapping_hash

    from normalised

)

select * from final
