-- Which fetch a fact came from (etl.precedence): the newest fetch wins whatever order objects load in,
-- and a null in a newer response never erases a stored value. `fetch_rank` is the best rank among the
-- fetches that had the row (precedence * 2^53 + fetched_at in microseconds since 1970); `value_ranks`
-- holds {column: rank} for the values that came from a fetch of another rank (NULL when none did).
-- Rows loaded before this migration get rank 0: any fetch loaded from now on outranks them.
ALTER TABLE stock_daily ADD COLUMN fetch_rank bigint NOT NULL DEFAULT 0, ADD COLUMN value_ranks jsonb;
ALTER TABLE index_daily ADD COLUMN fetch_rank bigint NOT NULL DEFAULT 0, ADD COLUMN value_ranks jsonb;
ALTER TABLE weather_daily ADD COLUMN fetch_rank bigint NOT NULL DEFAULT 0, ADD COLUMN value_ranks jsonb;
ALTER TABLE news_daily ADD COLUMN fetch_rank bigint NOT NULL DEFAULT 0, ADD COLUMN value_ranks jsonb;
ALTER TABLE macro_daily ADD COLUMN fetch_rank bigint NOT NULL DEFAULT 0, ADD COLUMN value_ranks jsonb;
