-- News tone (GDELT's timelinetone) beside the article counts, and the national temperature beside the
-- precipitation in market_daily.
--
-- news_daily.average_tone: the mean tone of the day's matching articles, as GDELT's tone response gives
-- it (finer buckets averaged per UTC day; an empty bucket, which GDELT writes as 0, is no tone: NULL).
-- It merges by rank like the other columns (etl.precedence): the tone and the counts come from two
-- objects, each a fetch of its own, and a missing value never wins.
ALTER TABLE news_daily ADD COLUMN average_tone double precision;

-- market_daily.news_tone: the first topic's tone, NULL on a day its counts say had no matching article;
-- temp_max_c / temp_min_c: the day's mean over the states of each state's maximum / minimum. The ETL
-- recomputes every day of market_daily on its next run (its query changed).
ALTER TABLE market_daily
    ADD COLUMN news_tone double precision,
    ADD COLUMN temp_max_c double precision,
    ADD COLUMN temp_min_c double precision;
