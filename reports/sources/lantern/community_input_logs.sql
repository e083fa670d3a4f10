-- narratives/community_input_logs.parquet: whether each agency keeps a community-input log.
select * from read_parquet('community_input_logs.parquet')
