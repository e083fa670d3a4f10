-- data/dim_agencies.parquet: one row per configured agency.
select agency_id, agency_name, ori, state, first_year, reference_group
from read_parquet('dim_agencies.parquet')
