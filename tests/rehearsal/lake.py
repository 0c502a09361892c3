"""The lake mode (``-c lake=true``) in the rehearsal: what the emulator made of the lake, what the first
boot's ETL writes to it, and what `make destroy` leaves of it.

- After the deploy: the Glue database (its location the lake bucket's warehouse) and the Athena
  workgroup (results location enforced, bytes scanned capped, results expired by the bucket's rule).
- At the first boot: minute bars written into the raw bucket with `pipeline sample --intraday` (the
  stand-in APIs answer daily bars of January 2024, which Yahoo's one-minute horizon excludes), loaded
  with everything else by the ETL units as written; then the ETL unit's ``ExecStartPost`` (``pipeline
  lake compact``) as written; then every curated table is registered in Glue as an Iceberg table with
  its files under the warehouse prefix and, read back from S3 by DuckDB, equals PostgreSQL's row for
  row; and the dashboard's Intraday page shows the minute bars (in the signed-in Chromium page of the
  first boot's dashboard check).
- After the destroy: no Glue database, no workgroup, no lake bucket.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3

from etl.lake import CURATED_LAKE_TABLES
from etl.schema import STOCK_MINUTE
from pipeline.catalog import YAHOO_INTRADAY
from stacks.lake import RESULTS_EXPIRY_DAYS, RESULTS_PREFIX, WAREHOUSE_PREFIX
from tests.rehearsal.deployed import DeployedStack
from tests.rehearsal.report import Report, expect
from tests.rehearsal.units import run_logged, tail, unit_setting

# One ticker's last two sessions of minute bars (and two days of the daily sample beside them).
SAMPLE_ARGUMENTS = ("sample", "--tickers", "1", "--days", "2", "--intraday")


def warehouse(stack: DeployedStack) -> str:
    return f"s3://{stack.outputs['LakeBucketName']}/{WAREHOUSE_PREFIX}"


def check_lake(report: Report, stack: DeployedStack) -> None:
    """The lake's resources as the emulator holds them (after `make deploy`)."""
    bucket = stack.outputs["LakeBucketName"]

    def glue_database() -> str:
        database = boto3.client("glue").get_database(Name=stack.outputs["LakeDatabase"])["Database"]
        expect(database.get("LocationUri") == warehouse(stack), f"location {database.get('LocationUri')}")
        return f"{database['Name']} at {database['LocationUri']}"

    def workgroup() -> str:
        group = boto3.client("athena").get_work_group(WorkGroup=stack.outputs["AthenaWorkgroup"])["WorkGroup"]
        configuration = group["Configuration"]
        results = configuration["ResultConfiguration"]
        expect(group["State"] == "ENABLED", f"state {group['State']}")
        expect(configuration["EnforceWorkGroupConfiguration"] is True, "the configuration is not enforced")
        expect(
            results["OutputLocation"] == f"s3://{bucket}/{RESULTS_PREFIX}",
            f"results at {results['OutputLocation']}",
        )
        expect(results["EncryptionConfiguration"]["EncryptionOption"] == "SSE_S3", f"{results}")
        limit = stack.config.lake_query_limit_mb * 1024 * 1024
        expect(
            configuration["BytesScannedCutoffPerQuery"] == limit,
            f"cutoff {configuration.get('BytesScannedCutoffPerQuery')}, expected {limit}",
        )
        return f"cutoff {limit // (1024 * 1024)} MiB a query"

    def results_expire() -> None:
        rules = boto3.client("s3").get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        expect(
            any(
                rule.get("Filter", {}).get("Prefix") == RESULTS_PREFIX
                and rule.get("Expiration", {}).get("Days") == RESULTS_EXPIRY_DAYS
                for rule in rules
            ),
            f"no rule expiring {RESULTS_PREFIX} after {RESULTS_EXPIRY_DAYS} days: {rules}",
        )

    report.run("lake: the Glue database, located at the lake bucket's warehouse", glue_database)
    report.run(
        "lake: the Athena workgroup enforces its results location and encryption, and caps each query",
        workgroup,
    )
    report.run(
        f"lake: query results expire after {RESULTS_EXPIRY_DAYS} days (lifecycle rule)", results_expire
    )
    report.check(
        "lake: the instance's settings name the warehouse and the database",
        f"LAKE_WAREHOUSE={warehouse(stack)}" in stack.user_data()
        and f"LAKE_DATABASE={stack.outputs['LakeDatabase']}" in stack.user_data(),
        "LAKE_WAREHOUSE or LAKE_DATABASE missing from the user data",
    )


def write_minute_bars(
    report: Report, pipeline_bin: Path, cwd: str, environment: Mapping[str, str], log: Path
) -> bool:
    """`pipeline sample --intraday` with the instance's settings: minute bars into the raw bucket."""
    code = run_logged([str(pipeline_bin), *SAMPLE_ARGUMENTS], cwd, environment, log).returncode
    keys = boto3.client("s3").list_objects_v2(
        Bucket=environment["RAW_BUCKET"], Prefix=f"raw/{YAHOO_INTRADAY}/"
    )
    written = int(keys.get("KeyCount", 0))
    return report.check(
        "lake: minute bars in the raw bucket (`pipeline sample --intraday`: the stand-in APIs' bars are "
        "daily, of January 2024, beyond Yahoo's one-minute horizon)",
        code == 0 and written > 0,
        f"exit {code}, {written} yahoo_intraday object(s): {tail(log)}",
    )


def run_compaction(report: Report, etl_unit: str, environment: Mapping[str, str], log: Path) -> None:
    """The ETL unit's ``ExecStartPost`` (``pipeline lake compact``) as written, after its run."""
    written = unit_setting(etl_unit, "ExecStartPost")
    command = shlex.split(written.removeprefix("-"))
    code = run_logged(command, unit_setting(etl_unit, "WorkingDirectory"), environment, log).returncode
    summary = log.read_text(encoding="utf-8", errors="replace")
    compacted = [name for name in (*CURATED_LAKE_TABLES, STOCK_MINUTE) if f"  {name}: " in summary]
    report.check(
        f"unit pipeline-etl: its ExecStartPost `{' '.join(command[-2:])}` as written compacts every lake table",
        code == 0 and len(compacted) == len(CURATED_LAKE_TABLES) + 1,
        f"exit {code}, tables {compacted}: {tail(log)}",
    )


def check_tables(report: Report, stack: DeployedStack, database_uri: str) -> None:
    """Every lake table is an Iceberg table in Glue with its files under the warehouse, and DuckDB reads
    each curated one back from S3 equal to PostgreSQL's, row for row and bit for bit."""
    from etl.lake import lake_spec
    from etl.lake_duckdb import lake_connection
    from pipeline.settings import load_settings
    from tests.integration.etl.test_lake_parity import comparable, postgres_rows

    database = stack.outputs["LakeDatabase"]
    expected = {*CURATED_LAKE_TABLES, STOCK_MINUTE}

    def registered() -> str:
        tables = boto3.client("glue").get_tables(DatabaseName=database)["TableList"]
        iceberg = {
            table["Name"]
            for table in tables
            if table.get("Parameters", {}).get("table_type", "").upper() == "ICEBERG"
            and table["Parameters"].get("metadata_location", "").startswith(f"{warehouse(stack)}/")
        }
        expect(expected <= iceberg, f"missing {sorted(expected - iceberg)}")
        keys = boto3.client("s3").list_objects_v2(
            Bucket=stack.outputs["LakeBucketName"], Prefix=f"{WAREHOUSE_PREFIX}/"
        )
        files = [item["Key"] for item in keys.get("Contents", []) if item["Key"].endswith(".parquet")]
        expect(bool(files), "no Parquet file under the warehouse prefix")
        return f"{len(iceberg)} tables, {keys['KeyCount']}{'+' if keys['IsTruncated'] else ''} objects"

    def parity() -> str:
        settings = load_settings(lake_warehouse=warehouse(stack), lake_database=database)
        counts = {}
        # One DuckDB over every table: the parity test's comparison (values to the bit), one connection.
        with lake_connection(settings, CURATED_LAKE_TABLES) as connection:
            for name in CURATED_LAKE_TABLES:
                columns = ", ".join(f'"{column}"' for column in lake_spec(name).column_names)
                rows = connection.execute(f'SELECT {columns} FROM "{name}"').fetchall()
                found = sorted(tuple(comparable(value) for value in row) for row in rows)
                expected = postgres_rows(database_uri, name)
                expect(
                    found == expected,
                    f"{name}: {len(found)} lake rows differ from {len(expected)} in PostgreSQL",
                )
                counts[name] = len(found)
        expect(counts["stock_daily"] > 0, f"{counts}")
        return ", ".join(f"{name} {count}" for name, count in counts.items())

    report.run(f"lake: every table registered in Glue ({database}) as Iceberg, files on S3", registered)
    report.run(
        "lake: DuckDB reads each curated table back from S3 equal to PostgreSQL's, row for row", parity
    )


def check_intraday_page(page: Any, base_url: str) -> str:
    """On a signed-in Chromium page, the Intraday page shows a ticker's minute bars read from the lake."""
    from dashboard.vocabulary import label
    from tests.rehearsal.first_boot import RENDER_TIMEOUT_MS

    page.goto(f"{base_url}/intraday")
    page.get_by_text("Minute bars of").first.wait_for(timeout=RENDER_TIMEOUT_MS)
    page.get_by_text(label("vwap")).first.wait_for(timeout=RENDER_TIMEOUT_MS)
    expect(page.get_by_text("No minute bars in the lake yet").count() == 0, "the page found no bars")
    return f"'{label('vwap')}' of the minute bars shown"


def check_lake_destroyed(report: Report, stack: DeployedStack) -> None:
    """After `make destroy`: the Glue database (with its tables), the workgroup and the lake bucket are gone."""
    from botocore.exceptions import ClientError

    databases = [item["Name"] for item in boto3.client("glue").get_databases()["DatabaseList"]]
    report.check(
        "destroy: the lake's Glue database deleted (its tables with it)",
        stack.outputs["LakeDatabase"] not in databases,
        f"databases {databases}",
    )
    groups = [item["Name"] for item in boto3.client("athena").list_work_groups()["WorkGroups"]]
    report.check(
        "destroy: the Athena workgroup deleted",
        stack.outputs["AthenaWorkgroup"] not in groups,
        f"workgroups {groups}",
    )
    try:
        boto3.client("s3").head_bucket(Bucket=stack.outputs["LakeBucketName"])
        gone = False
    except ClientError:
        gone = True
    report.check("destroy: the lake bucket emptied (teardown) and deleted", gone, "the lake bucket remains")
