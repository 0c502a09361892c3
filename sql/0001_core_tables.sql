-- Core tables (docs/etl.md defines their columns). Later migrations add columns, tables, views and indexes.

CREATE TABLE companies (
    ticker      text PRIMARY KEY,
    name        text NOT NULL,
    sector      text NOT NULL,
    industry    text NOT NULL
);

CREATE TABLE stock_daily (
    ticker        text NOT NULL,
    trade_date    date NOT NULL,
    open          double precision,
    high          double precision,
    low           double precision,
    close         double precision NOT NULL,
    adj_close     double precision,
    volume        bigint,
    daily_return  double precision,
    volatility_7  double precision,
    PRIMARY KEY (ticker, trade_date)
);

CREATE TABLE index_daily (
    symbol        text NOT NULL,
    trade_date    date NOT NULL,
    open          double precision,
    high          double precision,
    low           double precision,
    close         double precision NOT NULL,
    adj_close     double precision,
    volume        bigint,
    daily_return  double precision,
    volatility_7  double precision,
    PRIMARY KEY (symbol, trade_date)
);

CREATE TABLE weather_daily (
    state             char(2) NOT NULL,
    obs_date          date NOT NULL,
    precipitation_mm  double precision,
    temp_max_c        double precision,
    temp_min_c        double precision,
    PRIMARY KEY (state, obs_date)
);

CREATE TABLE news_daily (
    topic              text NOT NULL,
    news_date          date NOT NULL,
    matching_articles  bigint,
    total_articles     bigint,
    PRIMARY KEY (topic, news_date)
);

CREATE TABLE macro_daily (
    series_id  text NOT NULL,
    obs_date   date NOT NULL,
    value      double precision,
    PRIMARY KEY (series_id, obs_date)
);

CREATE TABLE dim_date (
    date_id   date PRIMARY KEY,
    year      smallint NOT NULL,
    quarter   smallint NOT NULL,
    month     smallint NOT NULL,
    day       smallint NOT NULL,
    dow       smallint NOT NULL,   -- ISO day of week: 1 = Monday ... 7 = Sunday
    iso_week  smallint NOT NULL
);

CREATE TABLE pipeline_runs (
    run_id       text PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('ingest', 'etl')),
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz,
    status       text NOT NULL CHECK (status IN ('success', 'partial', 'failed')),
    details      jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX pipeline_runs_started_at ON pipeline_runs (started_at DESC);

CREATE TABLE raw_objects (
    key        text PRIMARY KEY,
    source     text NOT NULL,
    sha256     text NOT NULL,
    status     text NOT NULL CHECK (status IN ('loaded', 'quarantined')),
    rows       integer NOT NULL DEFAULT 0,
    loaded_at  timestamptz NOT NULL DEFAULT now(),
    error      text,
    data_date  date,
    synthetic  boolean NOT NULL DEFAULT false
);
CREATE INDEX raw_objects_source_status ON raw_objects (source, status);

-- The dashboard's read-only role. Roles are cluster-wide, so several databases on one server (tests)
-- may race to create it: a duplicate is fine.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'dashboard_reader') THEN
        CREATE ROLE dashboard_reader LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

DO $$
BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO dashboard_reader', current_database());
END
$$;
GRANT USAGE ON SCHEMA public TO dashboard_reader;
GRANT SELECT ON companies, stock_daily, index_daily, weather_daily, news_daily, macro_daily, dim_date,
    pipeline_runs, raw_objects TO dashboard_reader;
