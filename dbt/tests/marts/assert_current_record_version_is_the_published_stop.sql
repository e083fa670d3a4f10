{{ config(tags=['blocking']) }}
-- The version mart_quality_record_versions calls current is the one fct_stops holds (the two
-- rank versions the same way).
select versions.*
from {{ ref('mart_quality_record_versions') }} as versions
inner join {{ ref('fct_stops') }} as stops
    on versions.agency_id = stops.agency_id
    and versions.source_record_id = stops.source_record_id
    and versions.record_seq = stops.person_seq
where versions.dataset = 'stops'
    and versions.is_current
    and (versions.source_file <> stops.source_file or versions.source_row <> stops.source_row)
