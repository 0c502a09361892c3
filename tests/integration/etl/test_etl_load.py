"""The ETL against a real PostgreSQL: idempotence, incremental equals full, quarantine, failures, locking."""

from __future__ import annotations

import concurrent.futures
import json
import subprocess
import sys
import threading
from concurrent.futures import ProcessPoolExecutor
from types import SimpleNamespace

import boto3
import psycopg
import pytest
from moto import mock_aws

import etl.postgres_sink
import etl.run
import etl.stage
import etl.staging
import etl.workers
from cli.status import status_report
from etl import run_etl
from etl.analytics import TABLE_STATS_DATES
from pipeline.rawzone import LocalRawStore, RawMetadata
from pipeline.settings import get_settings
from tests.conftest import create_database, drop_database, reset_settings_caches
from tests.integration.etl.conftest import FIRST_DAY, chart_body, table_checksums, trading_days, walk

DAYS = trading_days(FIRST_DAY, 30)
pytestmark = pytest.mark.usefixtures("universe")


def count(url: str, query: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchone()[0]


def test_first_run_loads_every_source_with_derived_values(migrated_database_url, raw_zone):
    raw_zone.everything(DAYS)
    result = run_etl(get_settings())
    assert result.exit_code == 0, result.summary()
    assert result.loaded == 9 and not result.quarantined
    url = migrated_database_url
    assert count(url, "SELECT count(*) FROM stock_daily") == 3 * 30  # the live bars are not loaded
    assert count(url, "SELECT count(*) FROM stock_daily WHERE daily_return IS NULL") == 3
    assert count(url, "SELECT count(*) FROM index_daily WHERE volatility_7 IS NOT NULL") == 30 - 7
    assert count(url, "SELECT count(*) FROM weather_daily WHERE temp_min_c IS NULL") == 3
    assert count(url, "SELECT count(*) FROM macro_daily WHERE value IS NULL") == 2
    assert count(url, "SELECT count(*) FROM market_daily WHERE vix IS NOT NULL") == 30
    assert count(url, "SELECT count(*) FROM sector_daily WHERE sector = 'Information Technology'") == 30
    assert count(url, "SELECT count(*) FROM pipeline_runs WHERE kind = 'ingest'") == 1
    assert count(url, "SELECT count(*) FROM raw_objects WHERE synthetic AND status = 'loaded'") == 9
    assert count(url, "SELECT count(*) FROM dim_date") == (DAYS[-1] - DAYS[0]).days + 1


def test_market_daily_follows_the_configured_fred_series(migrated_database_url, raw_zone, monkeypatch):
    # Given PIPELINE_FRED_SERIES without VIXCLS, and a series the old code did not know
    monkeypatch.setenv("PIPELINE_FRED_SERIES", "DGS10,UNRATE")
    reset_settings_caches()
    raw_zone.everything(DAYS)
    raw_zone.fred("UNRATE", DAYS)
    # When the ETL runs
    assert run_etl(get_settings()).exit_code == 0
    url = migrated_database_url
    # Then every trading day carries each configured series' last value on or before it, and only those
    assert count(url, "SELECT count(*) FROM market_daily WHERE macro ?& array['DGS10', 'UNRATE']") == 30
    assert count(url, "SELECT count(*) FROM market_daily WHERE macro ? 'VIXCLS' OR vix IS NOT NULL") == 0
    # the second observation is missing ('.'): that day keeps the first day's value
    second = DAYS[1].isoformat()
    assert (
        count(
            url,
            "SELECT count(*) FROM market_daily WHERE (macro->>'UNRATE')::float8 = 15 "
            f"AND treasury_10y = 15 AND trade_date = '{second}'",
        )
        == 1
    )
    assert (
        count(url, "SELECT count(*) FROM market_daily WHERE treasury_10y = (macro->>'DGS10')::float8") == 30
    )


def test_market_daily_is_recomputed_only_when_its_rows_or_settings_change(
    migrated_database_url, raw_zone, monkeypatch
):
    # Given a loaded raw zone with a FRED series the settings do not name yet
    raw_zone.everything(DAYS)
    raw_zone.fred("UNRATE", DAYS)
    url = migrated_database_url
    first = run_etl(get_settings())
    assert first.market_daily_refreshed and first.rows_written["market_daily"] == 30
    assert count(url, "SELECT count(*) FROM market_daily WHERE macro ? 'UNRATE'") == 0
    # When a run finds nothing new, then market_daily is not recomputed, and the run says so
    again = run_etl(get_settings())
    assert again.exit_code == 0 and not again.market_daily_refreshed
    assert again.rows_written["market_daily"] == again.rows_written["sector_daily"] == 0
    recorded = "SELECT count(*) FROM pipeline_runs WHERE kind = 'etl' AND details ? 'market_daily_inputs'"
    assert count(url, recorded) == 2
    # When PIPELINE_FRED_SERIES changes, with no new row anywhere, then the next run recomputes it
    monkeypatch.setenv("PIPELINE_FRED_SERIES", "VIXCLS,DGS10,UNRATE")
    reset_settings_caches()
    changed = run_etl(get_settings())
    assert changed.loaded == 0 and changed.market_daily_refreshed
    assert changed.rows_written["market_daily"] == 30
    assert count(url, "SELECT count(*) FROM market_daily WHERE macro ? 'UNRATE'") == 30
    assert not run_etl(get_settings()).market_daily_refreshed
    # and so does a change of the news topic, and --full
    monkeypatch.setenv("PIPELINE_NEWS_TOPICS", "recession")
    reset_settings_caches()
    assert run_etl(get_settings()).market_daily_refreshed
    assert count(url, "SELECT count(*) FROM market_daily WHERE news_topic = 'recession'") == 30
    assert run_etl(get_settings(), full=True).market_daily_refreshed


def test_companies_are_reloaded_only_when_the_universe_file_changes(
    migrated_database_url, raw_zone, universe, monkeypatch
):
    raw_zone.everything(DAYS)
    loads = []
    original = etl.run.load_companies

    def counted(cursor, companies):
        loads.append(len(companies))
        return original(cursor, companies)

    monkeypatch.setattr(etl.run, "load_companies", counted)
    # Given a first run, which loads the universe
    assert run_etl(get_settings()).companies_loaded and len(loads) == 1
    # When nothing changed, then the universe is neither read nor loaded again
    again = run_etl(get_settings())
    assert not again.companies_loaded and again.rows_written["companies"] == 0 and len(loads) == 1
    # When the universe file gains a company, then the next run loads it (and only then)
    universe.write_text(universe.read_text() + "NEWCO,New Company,Energy,Oil & Gas\n")
    changed = run_etl(get_settings())
    assert changed.companies_loaded and changed.rows_written["companies"] == 1 and len(loads) == 2
    assert count(migrated_database_url, "SELECT count(*) FROM companies WHERE ticker = 'NEWCO'") == 1
    assert not run_etl(get_settings()).companies_loaded
    assert run_etl(get_settings(), full=True).companies_loaded


def test_freshness_is_the_last_day_of_data_each_object_covers(migrated_database_url, raw_zone):
    # Given windows over 30 days: their keys carry the first day, the manifest its own day.
    raw_zone.everything(DAYS)
    assert run_etl(get_settings()).exit_code == 0
    with psycopg.connect(migrated_database_url) as conn:
        dates = dict(
            conn.execute("SELECT source, max(data_date) FROM raw_objects GROUP BY source").fetchall()
        )
    assert dates == {source: DAYS[-1] for source in ("yahoo", "open_meteo", "gdelt", "fred", "manifest")}
    freshness = status_report(get_settings()).split("last runs:")[0]
    assert f"yahoo        {DAYS[-1]}" in freshness and str(DAYS[0]) not in freshness


def test_materialized_views_are_refreshed_and_the_dashboard_can_read(migrated_database_url, raw_zone):
    # Given a view of the dashboard's kind (unique index: refreshed concurrently) and one without.
    url = migrated_database_url
    with psycopg.connect(url) as conn:
        conn.execute(
            "CREATE MATERIALIZED VIEW test_ticker_days AS SELECT ticker, count(*) AS days FROM stock_daily GROUP BY ticker"
        )
        conn.execute("CREATE UNIQUE INDEX ON test_ticker_days (ticker)")
        conn.execute(
            "CREATE MATERIALIZED VIEW test_total AS SELECT count(*) AS total FROM stock_daily WITH NO DATA"
        )
    raw_zone.everything(DAYS)
    result = run_etl(get_settings())
    assert {"test_ticker_days", "test_total"} <= set(result.views_refreshed)
    assert count(url, "SELECT sum(days) FROM test_ticker_days") == 90
    assert count(url, "SELECT total FROM test_total") == 90
    with psycopg.connect(url) as conn:
        conn.execute("SET ROLE dashboard_reader")
        for table in ("sector_daily", "market_daily"):
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 30 * (
                2 if table == "sector_daily" else 1
            )


def exact_table_stats(url: str) -> dict[str, tuple]:
    """What `dashboard_table_stats` must hold: every table counted now, with its date span."""
    with psycopg.connect(url) as conn:
        return {
            table: conn.execute(
                f"SELECT count(*), min({column})::date, max({column})::date FROM {table}"
                if column
                else f"SELECT count(*), NULL::date, NULL::date FROM {table}"
            ).fetchone()
            for table, column in TABLE_STATS_DATES.items()
        }


def kept_table_stats(url: str) -> dict[str, tuple]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT table_name, row_count, first_date, latest_date FROM dashboard_table_stats"
        )
        return {name: tuple(values) for name, *values in rows}


def test_table_stats_are_kept_exact_by_each_load(migrated_database_url, raw_zone):
    url = migrated_database_url
    # Given the counts of an empty database, as the migration left them
    assert kept_table_stats(url) == exact_table_stats(url)
    assert kept_table_stats(url)["stock_daily"] == (0, None, None)
    # When a first load runs, then the counts are exact
    raw_zone.everything(DAYS[:20])
    assert run_etl(get_settings()).exit_code == 0
    assert kept_table_stats(url) == exact_table_stats(url)
    assert kept_table_stats(url)["stock_daily"][0] == 3 * 20
    # and after a load that both inserts rows and changes stored ones (AAPL's first window fetched
    # again with other prices), the instrument tables' counts moved by the rows inserted only
    raw_zone.everything(DAYS[20:])
    bars = [bar for bar in walk("AAPL", trading_days(FIRST_DAY, 400)) if bar["day"] in set(DAYS[:20])]
    changed = [
        {**bar, **{name: bar[name] * 1.01 for name in ("open", "high", "low", "close")}} for bar in bars
    ]
    raw_zone.yahoo("AAPL", DAYS[:20], body=chart_body("AAPL", changed))
    later = run_etl(get_settings())
    assert later.rows_written["stock_daily"] == 3 * 10 + 20
    assert kept_table_stats(url) == exact_table_stats(url)
    assert kept_table_stats(url)["stock_daily"] == (3 * 30, DAYS[0], DAYS[-1])
    # and a count gone wrong behind the ETL's back is put right by --full
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE dashboard_table_stats SET row_count = 7 WHERE table_name = 'stock_daily'")
    assert run_etl(get_settings(), full=True).exit_code == 0
    assert kept_table_stats(url) == exact_table_stats(url)


def test_running_twice_changes_nothing(migrated_database_url, raw_zone):
    raw_zone.everything(DAYS)
    run_etl(get_settings())
    before = table_checksums(migrated_database_url)
    again = run_etl(get_settings())
    full = run_etl(get_settings(), full=True)
    assert again.loaded == 0 and again.curated_rows == 0
    assert full.loaded == 9 and full.curated_rows == 0
    assert table_checksums(migrated_database_url) == before


def test_incremental_load_equals_full_reload(migrated_database_url, raw_zone, pg_server, monkeypatch):
    # Given a first load of 20 days, then new objects for the next 10 (and a re-fetched first window).
    raw_zone.everything(DAYS[:20])
    assert run_etl(get_settings()).exit_code == 0
    raw_zone.everything(DAYS[20:])
    raw_zone.yahoo("AAPL", DAYS[:20])
    assert run_etl(get_settings()).exit_code == 0
    incremental = table_checksums(migrated_database_url)
    # When everything loads at once into an empty database, then the tables are identical.
    fresh_url = create_database(pg_server)
    try:
        monkeypatch.setenv("DATABASE_URL", fresh_url)
        reset_settings_caches()
        from pipeline.migrations import migrate

        migrate()
        assert run_etl(get_settings()).exit_code == 0
        assert table_checksums(fresh_url) == incremental
    finally:
        drop_database(pg_server, fresh_url)


def test_market_daily_is_recomputed_from_the_first_day_a_run_staged(migrated_database_url, raw_zone):
    # Given 20 loaded days, and a row of the first day changed behind the ETL's back
    raw_zone.everything(DAYS[:20])
    assert run_etl(get_settings()).exit_code == 0
    url = migrated_database_url
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE market_daily SET index_close = -1 WHERE trade_date = %s", (DAYS[0],))
    # When the next 10 days load, then their rows are written, and the days before them are not read
    # again (the changed row stays as it was)
    raw_zone.everything(DAYS[20:])
    later = run_etl(get_settings())
    assert later.market_daily_refreshed and later.rows_written["market_daily"] == 10
    assert count(url, "SELECT count(*) FROM market_daily WHERE index_close = -1") == 1
    # and --full recomputes every day
    assert run_etl(get_settings(), full=True).exit_code == 0
    assert count(url, "SELECT count(*) FROM market_daily WHERE index_close = -1") == 0


def index_definitions(url: str) -> list[tuple[str, str, str]]:
    """Every index and key constraint of schema public: table, name, definition."""
    with psycopg.connect(url) as conn:
        indexes = conn.execute(
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
        ).fetchall()
        constraints = conn.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE connamespace = 'public'::regnamespace"
        ).fetchall()
    return sorted(indexes + constraints)


def test_worker_processes_in_small_bounded_batches_load_what_one_pass_loads(
    migrated_database_url, raw_zone, pg_server, monkeypatch
):
    # Given the same raw zone loaded in process (one batch per table) ...
    raw_zone.everything(DAYS, tickers=("AAPL", "MSFT", "XOM", "JNJ", "PG"))
    assert run_etl(get_settings()).exit_code == 0
    in_process = table_checksums(migrated_database_url)
    # ... and by worker processes, two objects read at a time, a batch per symbol, bounded in flight
    monkeypatch.setattr(etl.workers, "PARALLEL_THRESHOLD_WINDOW_DAYS", 1)
    monkeypatch.setattr(etl.stage, "READ_CHUNK_OBJECTS", 2)
    monkeypatch.setattr(etl.stage, "WORKER_BATCH_BYTES", 1)
    monkeypatch.setattr(etl.stage, "IN_FLIGHT_PER_WORKER", 1)
    monkeypatch.setattr(etl.postgres_sink, "DEFER_INDEXES_MIN_ROWS", 1)
    pools = []

    class RecordedPool(ProcessPoolExecutor):
        def submit(self, fn, /, *args, **kwargs):
            pools.append(fn.__name__)
            return super().submit(fn, *args, **kwargs)

    # etl.workers imports it when it starts workers (a run without them never imports it).
    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", RecordedPool)
    fresh_url = create_database(pg_server)
    try:
        monkeypatch.setenv("DATABASE_URL", fresh_url)
        reset_settings_caches()
        from pipeline.migrations import migrate

        migrate()
        result = run_etl(get_settings())
        assert result.exit_code == 0, result.summary()
        # Then the tables are identical, bit for bit, with the same keys and indexes (a backfill into
        # empty tables drops and rebuilds them), and the six instruments went one batch each
        assert table_checksums(fresh_url) == in_process
        assert index_definitions(fresh_url) == index_definitions(migrated_database_url)
        assert pools.count("transform_instruments") == 6
    finally:
        drop_database(pg_server, fresh_url)


def etl_in_a_process_of_its_own(modules: set[str]) -> tuple[SimpleNamespace, set[str]]:
    """Run the ETL in a new Python process: its exit code, objects loaded and rows written, and which
    of `modules` it imported."""
    probe = (
        "import json, sys; from etl import run_etl; from pipeline.settings import get_settings;"
        "result = run_etl(get_settings());"
        "print(json.dumps([result.exit_code, result.loaded, result.curated_rows, sorted(set(sys.argv[1:]) & set(sys.modules))]))"
    )
    command = [sys.executable, "-c", probe, *sorted(modules)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    exit_code, loaded, curated_rows, imported = json.loads(output)
    return SimpleNamespace(exit_code=exit_code, loaded=loaded, curated_rows=curated_rows), set(imported)


def test_a_run_with_nothing_new_records_itself_without_importing_the_transform(
    migrated_database_url, raw_zone
):
    raw_zone.everything(DAYS)
    assert run_etl(get_settings()).exit_code == 0
    # When a second run, in a process of its own, finds nothing new
    result, imported = etl_in_a_process_of_its_own({"pandas", "numpy", "etl.transform"})
    # Then it succeeds, writes nothing, and never loaded pandas, numpy or the transform
    assert (result.exit_code, result.curated_rows, imported) == (0, 0, set())
    assert count(migrated_database_url, "SELECT count(*) FROM pipeline_runs WHERE kind = 'etl'") == 2


def test_a_run_that_loads_every_source_never_imports_pandas(migrated_database_url, raw_zone):
    # Given a loaded month, then a new day of every source (prices, an index, weather, news, macro,
    # a manifest)
    raw_zone.everything(DAYS[:20])
    assert run_etl(get_settings()).exit_code == 0
    raw_zone.everything(DAYS[20:21])
    # When the run that loads them runs in a process of its own
    result, imported = etl_in_a_process_of_its_own({"pandas", "pyarrow"})
    # Then it loads all of them without pandas (or pyarrow) ever imported: 0.2-0.3 s of every run
    assert (result.exit_code, result.loaded, imported) == (0, 9, set())
    assert (
        count(migrated_database_url, f"SELECT count(*) FROM stock_daily WHERE trade_date = '{DAYS[20]}'") == 3
    )


def test_a_corrupt_object_is_quarantined_and_the_rest_loads(migrated_database_url, raw_zone):
    raw_zone.everything(DAYS)
    bad = raw_zone.yahoo("MSFT", DAYS[:5], body=b'{"chart":{"result":[{"meta":')
    result = run_etl(get_settings())
    assert result.exit_code == 3
    assert [key for key, _ in result.quarantined] == [bad]
    url = migrated_database_url
    assert count(url, f"SELECT count(*) FROM raw_objects WHERE status = 'quarantined' AND key = '{bad}'") == 1
    assert count(url, "SELECT count(*) FROM raw_objects WHERE status = 'loaded'") == 9
    assert count(url, "SELECT count(*) FROM stock_daily") == 90
    assert count(url, "SELECT count(*) FROM pipeline_runs WHERE kind = 'etl' AND status = 'partial'") == 1
    # An unchanged quarantined object is not retried.
    assert run_etl(get_settings()).exit_code == 0


def test_a_universe_with_a_duplicate_ticker_fails_the_run_and_writes_nothing(
    migrated_database_url, raw_zone, universe
):
    # Given the universe the ingestion rejects (the ETL reads it with the same rules)
    universe.write_text(universe.read_text() + "MSFT,Microsoft again,Information Technology,Software\n")
    raw_zone.everything(DAYS)
    # When the ETL runs, then it fails with the file, line and ticker named, and loads nothing
    result = run_etl(get_settings())
    assert result.exit_code == 1
    assert "universe.csv:5: invalid or duplicate ticker 'MSFT'" in (result.error or "")
    assert count(migrated_database_url, "SELECT count(*) FROM stock_daily") == 0
    assert count(migrated_database_url, "SELECT count(*) FROM raw_objects") == 0


def test_a_killed_connection_leaves_nothing_and_the_next_run_loads_once(
    migrated_database_url, raw_zone, monkeypatch
):
    raw_zone.everything(DAYS)
    original = etl.staging.upsert_from_staging

    def killed_mid_load(cursor, spec, **options):
        with psycopg.connect(migrated_database_url, autocommit=True) as other:
            other.execute("SELECT pg_terminate_backend(%s)", (cursor.connection.info.backend_pid,))
        return original(cursor, spec, **options)

    monkeypatch.setattr(etl.staging, "upsert_from_staging", killed_mid_load)
    failed = run_etl(get_settings())
    assert failed.exit_code == 1 and failed.error
    url = migrated_database_url
    for table in ("stock_daily", "index_daily", "weather_daily", "raw_objects", "companies"):
        assert count(url, f"SELECT count(*) FROM {table}") == 0
    assert count(url, "SELECT count(*) FROM pipeline_runs WHERE kind = 'etl' AND status = 'failed'") == 1

    monkeypatch.setattr(etl.staging, "upsert_from_staging", original)
    assert run_etl(get_settings()).exit_code == 0
    assert count(url, "SELECT count(*) FROM stock_daily") == 90
    assert count(url, "SELECT count(*) FROM raw_objects") == 9


def test_two_concurrent_runs_load_once(migrated_database_url, raw_zone):
    raw_zone.everything(DAYS)
    results = []
    runs = [threading.Thread(target=lambda: results.append(run_etl(get_settings()))) for _ in range(2)]
    for thread in runs:
        thread.start()
    for thread in runs:
        thread.join()
    assert sorted(result.loaded for result in results) == [0, 9]
    assert all(result.exit_code == 0 for result in results)
    assert count(migrated_database_url, "SELECT count(*) FROM stock_daily") == 90
    assert count(migrated_database_url, "SELECT count(*) FROM pipeline_runs WHERE kind = 'etl'") == 2


def etl_heads(heads: list[str]) -> tuple[int, int]:
    """Run the ETL; return the objects it loaded and the metadata look-ups it made (each one counted
    into `heads`, emptied first), checking that the run reports those look-ups."""
    heads.clear()
    result = run_etl(get_settings())
    assert result.exit_code == 0, result.summary()
    assert result.metadata_lookups == len(heads)
    return result.loaded, len(heads)


def test_loads_from_an_s3_raw_zone_and_reads_metadata_only_of_new_or_changed_objects(
    migrated_database_url, raw_zone, monkeypatch
):
    keys = raw_zone.everything(DAYS[:10])
    url = migrated_database_url
    with mock_aws():
        # Every HEAD request the ETL's S3 client sends (it is made from boto3's default session).
        boto3.setup_default_session()
        heads = []
        boto3.DEFAULT_SESSION.events.register(
            "before-call.s3.HeadObject", lambda params, **_: heads.append(params["url_path"])
        )
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="raw-zone-test")
        from pipeline.rawzone import S3RawStore

        bucket = S3RawStore("raw-zone-test", client)

        def upload(key: str) -> None:
            stored = raw_zone.store.get(key)
            bucket.put(key, stored.body, stored.metadata)

        for key in keys:
            upload(key)
        monkeypatch.setenv("RAW_BUCKET", "raw-zone-test")
        reset_settings_caches()

        # The first run reads the metadata of every object and records each one's ETag ...
        assert etl_heads(heads) == (9, 9)
        assert count(url, "SELECT count(*) FROM stock_daily") == 30
        assert count(url, "SELECT count(*) FROM raw_objects WHERE etag LIKE '\"%\"'") == 9
        # ... so a run with nothing new sends no HEAD request at all,
        assert etl_heads(heads) == (0, 0)
        # nor does an object re-fetched with the same bytes (same ETag).
        upload(keys[0])
        assert etl_heads(heads) == (0, 0)

        # An object re-fetched with other bytes is looked up and loaded, and only that one.
        raw_zone.replace_body(
            keys[1], raw_zone.store.get(keys[1]).body.replace(b'"error": null', b'"error":null')
        )
        upload(keys[1])
        assert etl_heads(heads) == (1, 1)

        # Ledger rows without an ETag (recorded before ETags were) are looked up once, then remembered
        # without reloading anything or touching loaded_at.
        with psycopg.connect(url) as conn:
            conn.execute("UPDATE raw_objects SET etag = NULL WHERE key = ANY(%s)", (keys[2:5],))
            loaded_at = conn.execute("SELECT max(loaded_at) FROM raw_objects").fetchone()[0]
        assert etl_heads(heads) == (0, 3)
        assert etl_heads(heads) == (0, 0)
        assert count(url, "SELECT count(*) FROM raw_objects WHERE etag IS NULL") == 0
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT max(loaded_at) FROM raw_objects").fetchone()[0] == loaded_at

        # --full still reads every object.
        result = run_etl(get_settings(), full=True)
    assert result.exit_code == 0 and result.loaded == 9 and result.metadata_lookups == 9
    assert count(url, "SELECT count(*) FROM stock_daily") == 30


def test_a_local_raw_zone_reads_the_sidecars_only_of_new_or_rewritten_objects(
    migrated_database_url, raw_zone, monkeypatch
):
    keys = raw_zone.everything(DAYS[:10])
    url = migrated_database_url
    # Every sidecar read (a `head`) the ETL makes on the local folder.
    heads: list[str] = []
    original_head = LocalRawStore.head

    def counted_head(store: LocalRawStore, key: str) -> RawMetadata:
        heads.append(key)
        return original_head(store, key)

    monkeypatch.setattr(LocalRawStore, "head", counted_head)

    # The first run reads every sidecar and records each body file's stat token, like an ETag ...
    assert etl_heads(heads) == (9, 9)
    assert count(url, "SELECT count(*) FROM raw_objects WHERE etag ~ '^[0-9a-f]+-[0-9a-f]+-[0-9a-f]+$'") == 9
    # ... so a run with nothing new reads none.
    assert etl_heads(heads) == (0, 0)
    # An object rewritten with the same bytes has a new token: its sidecar is read once, nothing is
    # loaded and `loaded_at` stays; the new token is recorded, so the next run reads nothing again.
    with psycopg.connect(url) as conn:
        loaded_at = conn.execute("SELECT max(loaded_at) FROM raw_objects").fetchone()[0]
    raw_zone.replace_body(keys[0], raw_zone.store.get(keys[0]).body)
    assert etl_heads(heads) == (0, 1)
    assert etl_heads(heads) == (0, 0)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT max(loaded_at) FROM raw_objects").fetchone()[0] == loaded_at
    # An object rewritten with other bytes is read and loaded, and only that one.
    raw_zone.replace_body(
        keys[1], raw_zone.store.get(keys[1]).body.replace(b'"error": null', b'"error":null')
    )
    assert etl_heads(heads) == (1, 1)
    assert etl_heads(heads) == (0, 0)
    # --full still reads every object.
    result = run_etl(get_settings(), full=True)
    assert result.exit_code == 0 and result.loaded == 9 and result.metadata_lookups == 9
