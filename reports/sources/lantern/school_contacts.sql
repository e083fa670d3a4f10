-- data/fct_school_incidents/*.parquet, counted by agency, year and reason for contact.
-- An empty table gets one placeholder row (agency_id '(none)'): Evidence cannot write an
-- empty result to Parquet, and pages filter by agency, so the row never shows.
with published as (
    select agency_id, incident_year, coalesce(reason_for_contact, 'not recorded') as reason,
        case when bool_or(is_school_discipline_matter) then 'yes' else 'no' end
            as school_discipline,
        count(*) as contacts,
        count(*) filter (where is_school_discipline_matter) as discipline_contacts,
        count(*) filter (where is_arrest) as arrests,
        count(*) filter (where is_justice_referral) as referrals
    from read_parquet('fct_school_incidents/*.parquet')
    group by all
)
select * from published
union all by name
select '(none)' as agency_id where not exists (select 1 from published)
