-- dashboard_table_stats becomes a table the ETL keeps up inside each load's own transaction (see
-- etl.analytics.update_table_stats), in place of the materialized view of 0020 that recounted every table
-- after each run: counting stock_daily's million rows cost about a tenth of a second of every daily run.
-- A table's count moves by the rows each run inserts into it; the small ones (companies, dim_date,
-- pipeline_runs) are counted again; `pipeline etl --full` counts them all. Same name, columns and
-- meaning, so the dashboard's query and the explorer's grant do not change. Carried over: the view's
-- last counts.
ALTER MATERIALIZED VIEW dashboard_table_stats RENAME TO dashboard_table_stats_0020;

CREATE TABLE dashboard_table_stats (
    table_name  text PRIMARY KEY,
    row_count   bigint NOT NULL,
    first_date  date,
    latest_date date
);

INSERT INTO dashboard_table_stats (table_name, row_count, first_date, latest_date)
SELECT table_name, row_count, first_date, latest_date FROM dashboard_table_stats_0020;

DROP MATERIALIZED VIEW dashboard_table_stats_0020;

GRANT SELECT ON dashboard_table_stats TO dashboard_reader, dashboard_explorer;

-- The ledger's date span from its index, as every curated table's is: the ledger grows by an object per
-- symbol and day.
CREATE INDEX raw_objects_data_date ON raw_objects (data_date);
