{{ config(tags=['blocking']) }}
-- Every file: raw rows = accepted + rejected + quarantined (duplicates load nothing).
select *
from {{ ref('mart_quality_files') }}
where status <> 'duplicate'
  and rows_raw <> rows_accepted + rows_rejected + rows_quarantined
