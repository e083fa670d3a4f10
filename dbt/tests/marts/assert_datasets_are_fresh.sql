{{ config(severity='warn', tags=['warn']) }}
-- Freshness (DESIGN.md 6): every agency dataset that has ever sent a file sent one within its
-- expected cadence plus grace. A stale agency is reported, never a reason to hold back the rest.
select agency_id, dataset, expected_cadence, last_received_at, days_since_last_received
from {{ ref('mart_quality_freshness') }}
where freshness_status = 'stale'
