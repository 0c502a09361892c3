-- The SQL explorer's memory and log bounds, on the role (see dashboard/statement_bounds.py for the other
-- half: the statement check lets through only constructs whose values cannot grow).
-- Sorts, hashes and materialised rows keep at most work_mem each before spilling to temporary files
-- (which temp_file_limit bounds); hash tables get no more than that either.
ALTER ROLE dashboard_explorer SET work_mem = '4MB';
ALTER ROLE dashboard_explorer SET hash_mem_multiplier = 1.0;

-- A visitor's failing statement is the visitor's business: the page shows the error, the database's log
-- keeps none of it (a statement failing in a loop would otherwise write its text and message each time).
-- These may only be set by a superuser (or a role granted SET on them); a managed database's owner may
-- lack that right, and the statement check's bounds on values still cap what each error can hold.
DO $$
BEGIN
    ALTER ROLE dashboard_explorer SET log_min_messages = 'fatal';
    ALTER ROLE dashboard_explorer SET log_min_error_statement = 'panic';
EXCEPTION WHEN insufficient_privilege THEN
    RAISE WARNING 'log settings not set on dashboard_explorer: %', SQLERRM;
END
$$;

-- The lines of an EXPLAIN (the explorer's checked text) until `max_rows` lines or `max_bytes` bytes, like
-- explorer_fetch for rows: a plan's text is kept to the same byte budget in the server. The last row says
-- why the plan was cut off ('rows' or 'bytes'), if it was.
CREATE FUNCTION explorer_explain(statement text, max_rows integer, max_bytes bigint)
RETURNS TABLE (line text, cut_off text)
LANGUAGE plpgsql
AS $$
DECLARE
    plan_line text;
    used bigint := 0;
    returned integer := 0;
BEGIN
    FOR plan_line IN EXECUTE statement LOOP
        IF returned >= max_rows THEN
            RETURN QUERY SELECT NULL::text, 'rows'::text;
            RETURN;
        END IF;
        used := used + octet_length(plan_line);
        IF used > max_bytes THEN
            RETURN QUERY SELECT NULL::text, 'bytes'::text;
            RETURN;
        END IF;
        returned := returned + 1;
        RETURN QUERY SELECT plan_line, NULL::text;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION explorer_explain(text, integer, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION explorer_explain(text, integer, bigint) TO dashboard_explorer;

-- One backend per statement: parallel workers would each keep their own work_mem per step (and take
-- the cores the pages need), and JIT compilation keeps tens of megabytes of its own.
ALTER ROLE dashboard_explorer SET max_parallel_workers_per_gather = 0;
ALTER ROLE dashboard_explorer SET jit = off;
