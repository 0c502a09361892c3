-- The SQL explorer's role: every setting in one table, and one statement at a time.
--
-- 0021 and 0023 each set some of these; from here on this table is where they are read and changed
-- (a later migration changes a row here, never a third ALTER ROLE block). Values equal to today's are
-- set again, which changes nothing.
--
-- The dashboard runs one explorer statement at a time (dashboard.explorer.EXPLORER_MAX_CONCURRENT): on
-- a 2-core instance, four statements each holding a core for seconds left the pages a third of the CPU
-- (page p95 10 s under four explorer visitors). The connection limit keeps the margin of 0021 (twice the
-- statements) for a restart whose old connections the server has not yet noticed are gone.
ALTER ROLE dashboard_explorer CONNECTION LIMIT 2;

DO $$
DECLARE
    setting record;
BEGIN
    FOR setting IN
        SELECT name, value, needs_superuser FROM (VALUES
            ('default_transaction_read_only', 'on', false),
            ('statement_timeout', '5s', false),
            ('lock_timeout', '1s', false),
            ('idle_in_transaction_session_timeout', '10s', false),
            -- Sorts, hashes and stored rows keep at most this each before they spill.
            ('work_mem', '4MB', false),
            ('hash_mem_multiplier', '1.0', false),
            -- One backend per statement, no JIT: parallel workers take the cores the pages need.
            ('max_parallel_workers_per_gather', '0', false),
            ('jit', 'off', false),
            -- Only a superuser (or a role granted SET on them) may set these; a managed database's
            -- owner may lack that right, and the statement check still bounds each value and error.
            ('temp_file_limit', '64MB', true),
            ('log_min_messages', 'fatal', true),
            ('log_min_error_statement', 'panic', true)
        ) AS settings (name, value, needs_superuser)
    LOOP
        BEGIN
            EXECUTE format('ALTER ROLE dashboard_explorer SET %I = %L', setting.name, setting.value);
        EXCEPTION WHEN insufficient_privilege THEN
            IF NOT setting.needs_superuser THEN
                RAISE;
            END IF;
            RAISE WARNING '% not set on dashboard_explorer: %', setting.name, SQLERRM;
        END;
    END LOOP;
END
$$;
