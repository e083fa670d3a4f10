-- narratives/agency_documents.parquet: the agency's own policy and strategy texts (or "missing").
-- Dates as text: the browser's DuckDB would show them as timestamps.
select * replace (
    strftime(effective_from, '%Y-%m-%d') as effective_from,
    strftime(effective_to, '%Y-%m-%d') as effective_to
)
from read_parquet('agency_documents.parquet')
