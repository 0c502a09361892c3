-- What the dashboard reads besides the curated and analytics tables: exact row counts and date spans per
-- table (too slow to count on every page view at 500 tickers x 10 years, so a materialized view that the
-- ETL refreshes at the end of each run), and the grants. The date indexes the dashboard's filters use
-- (weather_daily, sector_daily, stock_daily by date) come with the ETL's 0010.

CREATE MATERIALIZED VIEW dashboard_table_stats AS
SELECT 'companies'::text AS table_name, count(*)::bigint AS row_count,
       NULL::date AS first_date, NULL::date AS latest_date
FROM companies
UNION ALL
SELECT 'stock_daily', count(*), min(trade_date), max(trade_date) FROM stock_daily
UNION ALL
SELECT 'index_daily', count(*), min(trade_date), max(trade_date) FROM index_daily
UNION ALL
SELECT 'weather_daily', count(*), min(obs_date), max(obs_date) FROM weather_daily
UNION ALL
SELECT 'news_daily', count(*), min(news_date), max(news_date) FROM news_daily
UNION ALL
SELECT 'macro_daily', count(*), min(obs_date), max(obs_date) FROM macro_daily
UNION ALL
SELECT 'dim_date', count(*), min(date_id), max(date_id) FROM dim_date
UNION ALL
SELECT 'pipeline_runs', count(*), min(started_at)::date, max(started_at)::date FROM pipeline_runs
UNION ALL
SELECT 'raw_objects', count(*), min(data_date), max(data_date) FROM raw_objects;

-- A unique index lets the ETL refresh it CONCURRENTLY, so readers never wait on the refresh.
CREATE UNIQUE INDEX dashboard_table_stats_table_name ON dashboard_table_stats (table_name);

GRANT SELECT ON dashboard_table_stats TO dashboard_reader;

-- The ETL's analytics tables are readable by the dashboard (docs/internals.md); grant again here in
-- case they already exist, so the dashboard never depends on the order the two areas were deployed in.
DO $$
DECLARE
    analytics_table text;
BEGIN
    FOREACH analytics_table IN ARRAY ARRAY['sector_daily', 'market_daily'] LOOP
        IF to_regclass('public.' || analytics_table) IS NOT NULL THEN
            EXECUTE format('GRANT SELECT ON %I TO dashboard_reader', analytics_table);
        END IF;
    END LOOP;
END
$$;
