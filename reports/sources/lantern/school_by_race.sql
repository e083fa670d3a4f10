-- data/fct_school_incidents/*.parquet: student contacts, arrests and justice referrals by
-- perceived race. Counts about students from 1 to 9 are not shipped (null, shown as "<10").
-- An empty table gets one placeholder row (agency_id '(none)'): Evidence cannot write an
-- empty result to Parquet, and pages filter by agency, so the row never shows.
with counted as (
    select agency_id, incident_year, coalesce(subject_race, 'not recorded') as subject_race,
        count(*) as contacts,
        count(*) filter (where is_arrest) as arrests,
        count(*) filter (where is_justice_referral) as referrals
    from read_parquet('fct_school_incidents/*.parquet')
    group by all
),
published as (
    select agency_id, incident_year, subject_race,
        case when contacts between 1 and 9 then null else contacts end as contacts,
        case when arrests between 1 and 9 then null else arrests end as arrests,
        case when referrals between 1 and 9 then null else referrals end as referrals
    from counted
)
select *,
    -- Column totals as the page shows them: cells that are null (suppressed) are left out and
    -- the total says so ("≥ n") rather than pretend to be exact.
    case when count(contacts) over w = 0 then '—'
        else case when count(*) over w > count(contacts) over w then '≥ ' else '' end
            || format('{:,}', sum(contacts) over w) end as contacts_total,
    case when count(arrests) over w = 0 then '—'
        else case when count(*) over w > count(arrests) over w then '≥ ' else '' end
            || format('{:,}', sum(arrests) over w) end as arrests_total,
    case when count(referrals) over w = 0 then '—'
        else case when count(*) over w > count(referrals) over w then '≥ ' else '' end
            || format('{:,}', sum(referrals) over w) end as referrals_total
from published
window w as (partition by agency_id, incident_year)
union all by name
select '(none)' as agency_id where not exists (select 1 from published)
