"""What the ingestion tells CloudWatch: one structured line per shard and one per dispatch.

A shard's line (see `pipeline.telemetry`) names its run, source and shard, what it wrote, skipped and
failed, how long it took, and its HTTP counts: requests sent (every attempt), retries, throttled
answers (429, GDELT's "Please limit requests") and requests that failed for good. `Failures` counts
every failed object of the shard (a request given up, one not attempted before the time limit, a
raw-zone write), per source, so an alarm or a graph sees a source that stops answering.
"""

from __future__ import annotations

from typing import TextIO

from lambda_src.ingestion.httpclient import RequestCounts
from lambda_src.ingestion.shards import Shard, ShardPlan, ShardReport
from pipeline.settings import Settings
from pipeline.telemetry import SECONDS, Metric, TelemetryEvent, emit


def shard_event(shard: Shard, report: ShardReport, counts: RequestCounts) -> TelemetryEvent:
    """The shard's line: counts per source, with the run and shard to find it by."""
    return TelemetryEvent(
        "ingest_shard",
        {
            "Requests": Metric(counts.requests),
            "Retries": Metric(counts.retries),
            "Throttles": Metric(counts.throttles),
            "Failures": Metric(len(report.failed)),
            "ObjectsWritten": Metric(len(report.written)),
            "ShardSeconds": Metric(
                round((report.finished_at - report.started_at).total_seconds(), 3), SECONDS
            ),
        },
        dimensions={"Source": shard.source},
        fields={
            "run_id": shard.run_id,
            "shard": shard.number,
            "shards": shard.count,
            "window": f"{shard.window.start}..{shard.window.end}",
            "status": report.status,
            "skipped": len(report.skipped),
            "requests_given_up": counts.failures,
            "failed": [f"{item.entity}: {item.reason}" for item in report.failed[:20]],
        },
    )


def publish_shard(
    settings: Settings,
    shard: Shard,
    report: ShardReport,
    counts: RequestCounts,
    *,
    stream: TextIO | None = None,
) -> int:
    """Emit the shard's line (nothing without a metrics namespace)."""
    return emit(settings, [shard_event(shard, report, counts)], stream=stream)


def publish_dispatch(settings: Settings, plan: ShardPlan, sent: int, *, stream: TextIO | None = None) -> int:
    """Emit the dispatcher's line: shards queued, requests planned, sources that could not be planned."""
    event = TelemetryEvent(
        "ingest_dispatch",
        {"ShardsQueued": Metric(sent), "PlanningFailures": Metric(len(plan.failed))},
        fields={
            "run_id": plan.run_id,
            "window": f"{plan.window.start}..{plan.window.end}",
            "requests": plan.request_count,
            "failed": [f"{item.source}: {item.reason}" for item in plan.failed[:20]],
        },
    )
    return emit(settings, [event], stream=stream)
