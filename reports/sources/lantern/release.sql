-- release.json: the release the site shows, and every table it holds with its row count.
select
    release_id,
    cast(created_at as varchar) as created_at,
    unnest(map_keys(row_counts)) as table_name,
    unnest(map_values(row_counts)) as row_count
from read_json('release.json', columns = {
    release_id: 'varchar', created_at: 'varchar', row_counts: 'map(varchar, bigint)'
})
