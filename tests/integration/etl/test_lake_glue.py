"""The lake on AWS's services, emulated: moto in server mode (S3 and Glue on 127.0.0.1) as the Glue
catalog and the S3 warehouse. The ETL writes the curated tables and minute bars through pyiceberg's
Glue catalog, and DuckDB (its httpfs and Iceberg extensions, from their wheels) reads them back from
S3: the same rows as PostgreSQL, to the bit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

from etl import run_etl
from etl.lake_duckdb import lake_connection
from etl.lake_maintenance import compact
from pipeline.rawzone import open_raw_store
from pipeline.settings import Settings, get_settings
from sample_data.generator import write_sample
from sample_data.intraday import write_intraday_sample
from tests.conftest import reset_settings_caches
from tests.integration.etl.test_lake_parity import assert_parity

BUCKET = "pipeline-lake-test"
DATABASE = "pipeline_test_lake"
END = dt.date(2024, 6, 28)


@pytest.fixture
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def glue_settings(
    migrated_database_url: str, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    # The stack's part: the bucket and the Glue database.
    boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1").create_bucket(Bucket=BUCKET)
    glue = boto3.client("glue", endpoint_url=moto_endpoint, region_name="us-east-1")
    glue.create_database(DatabaseInput={"Name": DATABASE})
    for name, value in {
        "LAKE_WAREHOUSE": f"s3://{BUCKET}/warehouse",
        "LAKE_DATABASE": DATABASE,
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    reset_settings_caches()
    return get_settings()


def test_the_etl_writes_through_glue_and_duckdb_reads_it_back_from_s3(
    glue_settings, migrated_database_url, moto_endpoint
):
    store = open_raw_store(glue_settings)
    write_sample(glue_settings, store, tickers=3, days=15, seed=6, end=END, progress=False)
    write_intraday_sample(glue_settings, store, tickers=3, days=15, seed=6, end=END)
    result = run_etl(glue_settings)
    assert result.exit_code == 0, result.summary()
    # Registered in Glue as Iceberg tables, their files on S3
    glue = boto3.client("glue", endpoint_url=moto_endpoint, region_name="us-east-1")
    tables = {table["Name"]: table for table in glue.get_tables(DatabaseName=DATABASE)["TableList"]}
    assert {"stock_daily", "companies", "market_daily", "stock_minute"} <= set(tables)
    assert tables["stock_daily"]["Parameters"]["table_type"].upper() == "ICEBERG"
    assert tables["stock_daily"]["Parameters"]["metadata_location"].startswith(f"s3://{BUCKET}/warehouse/")
    keys = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1").list_objects_v2(
        Bucket=BUCKET, Prefix="warehouse/"
    )
    assert any(item["Key"].endswith(".parquet") for item in keys.get("Contents", []))
    # DuckDB over S3: every curated table equals PostgreSQL's, and the minute bars are there
    assert assert_parity(migrated_database_url, glue_settings)["stock_daily"] == 3 * 15
    with lake_connection(glue_settings, ["stock_minute"]) as connection:
        [(bars, tickers)] = connection.execute(
            "SELECT count(*), count(DISTINCT ticker) FROM stock_minute"
        ).fetchall()
    assert tickers == 3 and bars == result.lake_rows["stock_minute"] > 0

    # Maintenance on S3: a stray object under a table's data is deleted once a day old, nothing else
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    data_prefix = next(
        item["Key"].rsplit("/", 1)[0]
        for item in s3.list_objects_v2(Bucket=BUCKET, Prefix="warehouse/")["Contents"]
        if "stock_daily" in item["Key"] and item["Key"].endswith(".parquet")
    )
    s3.put_object(Bucket=BUCKET, Key=f"{data_prefix}/stray-write.parquet", Body=b"PAR1 never committed")
    compaction = compact(glue_settings, now=dt.datetime.now(dt.UTC) + dt.timedelta(hours=25))
    assert compaction.orphans_removed["stock_daily"] == 1
    remaining = {item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET, Prefix="warehouse/")["Contents"]}
    assert f"{data_prefix}/stray-write.parquet" not in remaining
    assert assert_parity(migrated_database_url, glue_settings)["stock_daily"] == 3 * 15
