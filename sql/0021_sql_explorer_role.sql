-- The SQL explorer's own role, apart from the pages' dashboard_reader: whatever a visitor's statement
-- does to its own sessions (cancel them, hold connections, sort gigabytes), the pages keep theirs.
-- The limits sit on the role, so they hold whichever client connects as it; the dashboard sets none of
-- them itself. Roles are cluster-wide, so several databases on one server (tests) may race to create it.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'dashboard_explorer') THEN
        CREATE ROLE dashboard_explorer LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

-- The dashboard runs at most 4 explorer statements at once; the margin covers a restart whose old
-- connections the server has not yet noticed are gone.
ALTER ROLE dashboard_explorer CONNECTION LIMIT 8;
ALTER ROLE dashboard_explorer SET default_transaction_read_only = on;
ALTER ROLE dashboard_explorer SET statement_timeout = '5s';
ALTER ROLE dashboard_explorer SET lock_timeout = '1s';
ALTER ROLE dashboard_explorer SET idle_in_transaction_session_timeout = '10s';
ALTER ROLE dashboard_explorer SET work_mem = '8MB';
-- temp_file_limit may only be set by a superuser (or a role granted SET on it); a managed database's
-- owner may lack that right, and the explorer is still bounded by its statement timeout there.
DO $$
BEGIN
    ALTER ROLE dashboard_explorer SET temp_file_limit = '64MB';
EXCEPTION WHEN insufficient_privilege THEN
    RAISE WARNING 'temp_file_limit not set on dashboard_explorer: %', SQLERRM;
END
$$;

DO $$
BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO dashboard_explorer', current_database());
END
$$;
GRANT USAGE ON SCHEMA public TO dashboard_explorer;
-- The analytics data only: not the pipeline's own ledgers (pipeline_runs, raw_objects), whose details
-- and errors name URLs and internals a visitor has no use for.
GRANT SELECT ON companies, stock_daily, index_daily, weather_daily, news_daily, macro_daily, dim_date,
    sector_daily, market_daily, dashboard_table_stats TO dashboard_explorer;

-- Rows of the explorer's open cursor, each as JSON, until `max_rows` rows or `max_bytes` bytes: the
-- byte budget is kept here, in the server, so that a row of hundreds of megabytes never reaches the
-- dashboard's process at all. The last row says why the result was cut off ('rows' or 'bytes'), if it was.
CREATE FUNCTION explorer_fetch(portal refcursor, max_rows integer, max_bytes bigint)
RETURNS TABLE (row_json json, cut_off text)
LANGUAGE plpgsql
AS $$
DECLARE
    fetched record;
    encoded json;
    used bigint := 0;
    returned integer := 0;
BEGIN
    LOOP
        FETCH portal INTO fetched;
        EXIT WHEN NOT FOUND;
        IF returned >= max_rows THEN
            RETURN QUERY SELECT NULL::json, 'rows'::text;
            RETURN;
        END IF;
        -- The stored size first: cheap, and it keeps an enormous row from being encoded at all.
        IF used + pg_column_size(fetched) > max_bytes THEN
            RETURN QUERY SELECT NULL::json, 'bytes'::text;
            RETURN;
        END IF;
        encoded := row_to_json(fetched);
        used := used + octet_length(encoded::text);
        IF used > max_bytes THEN
            RETURN QUERY SELECT NULL::json, 'bytes'::text;
            RETURN;
        END IF;
        returned := returned + 1;
        RETURN QUERY SELECT encoded, NULL::text;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION explorer_fetch(refcursor, integer, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION explorer_fetch(refcursor, integer, bigint) TO dashboard_explorer;
