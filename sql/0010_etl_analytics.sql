-- The ETL's analytics layer and the indexes behind the dashboard's queries.
--
-- sector_daily and market_daily are tables, not materialized views: the ETL upserts only the days a
-- run changed, in the same transaction as the rows they summarise, so readers never wait and never
-- see a summary that disagrees with the curated tables.

CREATE TABLE sector_daily (
    sector             text NOT NULL,
    trade_date         date NOT NULL,
    tickers            integer NOT NULL,
    mean_return        double precision,
    advancers          integer NOT NULL,
    decliners          integer NOT NULL,
    mean_volatility_7  double precision,
    PRIMARY KEY (sector, trade_date)
);
CREATE INDEX sector_daily_trade_date ON sector_daily (trade_date);

CREATE TABLE market_daily (
    trade_date          date PRIMARY KEY,
    index_symbol        text NOT NULL,
    index_close         double precision NOT NULL,
    index_return        double precision,
    index_volatility_7  double precision,
    precipitation_mm    double precision,
    news_topic          text,
    news_matching       bigint,
    news_total          bigint,
    news_share          double precision,
    vix                 double precision,
    treasury_10y        double precision
);

-- Per-date cross sections of stocks (per-ticker history is the primary key's order).
CREATE INDEX IF NOT EXISTS stock_daily_trade_date ON stock_daily (trade_date);
CREATE INDEX IF NOT EXISTS index_daily_trade_date ON index_daily (trade_date);
CREATE INDEX IF NOT EXISTS weather_daily_obs_date ON weather_daily (obs_date);
CREATE INDEX IF NOT EXISTS companies_sector ON companies (sector);
CREATE INDEX raw_objects_status ON raw_objects (status) WHERE status = 'quarantined';

GRANT SELECT ON sector_daily, market_daily TO dashboard_reader;
