"""The S3 raw-zone benchmark: metadata look-ups (HEAD requests) and seconds of ETL runs on S3.

S3 is moto, in this process: a HEAD costs well under a millisecond here against tens of milliseconds
over the network, so the request counts say more than the seconds. A daily raw zone of 500 tickers over
20 days is copied into a bucket, then loaded, then loaded again with nothing new; the second run should
send no HEAD request at all (the ledger's ETags match the listing).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path
from unittest import mock

import boto3
from moto import mock_aws

from etl import run_etl
from pipeline.db import stop_embedded
from pipeline.migrations import migrate
from pipeline.rawzone import LocalRawStore, S3RawStore
from pipeline.settings import load_settings
from sample_data.generator import write_sample

TICKERS = 500
DAYS = 20
BUCKET = "pipeline-bench-raw"
LAST_DAY = dt.date(2025, 12, 18)


def main(home: Path) -> None:
    """Run in `home` (an empty folder of its own) and print the figures."""
    print(f"== S3 raw zone (moto, in process): {TICKERS} tickers x {DAYS} days, PIPELINE_HOME={home}")
    local_settings = load_settings(pipeline_home=home)
    local = LocalRawStore(home)
    write_sample(local_settings, local, tickers=TICKERS, days=DAYS, seed=7, end=LAST_DAY, progress=False)
    settings = load_settings(pipeline_home=home, raw_bucket=BUCKET)
    credentials = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
    try:
        with mock.patch.dict(os.environ, credentials), mock_aws():
            boto3.setup_default_session(region_name="us-east-1")
            heads: list[str] = []
            boto3.DEFAULT_SESSION.events.register("before-call.s3.HeadObject", lambda **_: heads.append(""))
            client = boto3.client("s3")
            client.create_bucket(Bucket=BUCKET)
            bucket = S3RawStore(BUCKET, client)
            keys = list(local.list())
            for key in keys:
                stored = local.get(key)
                bucket.put(key, stored.body, stored.metadata)
            migrate(settings)
            for label in ("first load", "nothing new"):
                heads.clear()
                started = time.perf_counter()
                result = run_etl(settings)
                seconds = time.perf_counter() - started
                if result.exit_code != 0:
                    raise SystemExit(f"S3 {label} failed: {result.summary()}")
                print(
                    f"S3 ETL, {label + ':':13} {len(keys):,} objects listed, {result.loaded:,} loaded, "
                    f"{len(heads):,} HEAD requests, {seconds:.2f} s"
                )
            boto3.setup_default_session()
    finally:
        stop_embedded(settings)
