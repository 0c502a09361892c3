-- Every series of PIPELINE_FRED_SERIES on each trading day, as {"<series id>": last value on or before
-- the day}: the macro series are configurable, so market_daily cannot have one column per series.
-- `vix` and `treasury_10y` stay, filled when VIXCLS and DGS10 are among the configured series.
ALTER TABLE market_daily ADD COLUMN macro jsonb NOT NULL DEFAULT '{}'::jsonb;
