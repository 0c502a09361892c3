"""`make bench`: the ETL benchmark on 60, 500 and 2,000 tickers x 10 years, the JSON decoders on its
objects, then the dashboard's timings on the 500-ticker data, its pages through the sign-in gate while four
visitors run the explorer's heaviest statements, 20 visitors opening every page in turn, the explorer's
memory per statement, then the ETL's requests against an S3 raw
zone (moto), then the ETL against ten years of daily objects in S3 by each way of finding what is new,
and the event path's latency; last the lake (benchmarks/lake_bench.py).

Runs in its own PIPELINE_HOME (``.pipeline-bench`` unless BENCH_HOME is set), which it empties first.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from benchmarks import (
    dashboard_bench,
    decoders,
    etl_bench,
    explorer_memory,
    gate_concurrency,
    history_bench,
    lake_bench,
    s3_bench,
    visitor_load,
)


def main() -> None:
    home = Path(os.environ.get("BENCH_HOME", ".pipeline-bench")).resolve()
    if home.exists():
        from pipeline.db import stop_embedded
        from pipeline.settings import load_settings

        stop_embedded(load_settings(pipeline_home=home))
        shutil.rmtree(home)
    try:
        home.mkdir(parents=True)
    except OSError as error:
        raise SystemExit(f"bench: cannot create BENCH_HOME {home}: {error.strerror}") from None
    os.environ["PIPELINE_HOME"] = str(home)
    for name in ("DATABASE_URL", "DB_SECRET_ARN", "RAW_BUCKET"):
        os.environ.pop(name, None)
    etl_bench.main(home)
    decoders.main(home)
    dashboard_bench.main(home)
    gate_concurrency.main(home)
    visitor_load.main(home)
    explorer_memory.main(home)
    s3_bench.main(home / "s3")
    history_bench.main(home / "history")
    lake_bench.main(home / "lake")


if __name__ == "__main__":
    main()
