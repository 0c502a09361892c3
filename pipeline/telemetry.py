"""Structured log lines that are also CloudWatch metrics: the embedded metric format (EMF).

Each event is one JSON object on one line, with its fields (run id, source, counts, duration) at the
top level, so CloudWatch Logs Insights can query it, and an ``_aws`` block naming which of those
fields are metrics and which are dimensions, so CloudWatch Logs turns them into metrics as the line
arrives. Nothing here calls AWS: the Lambda's stdout goes to its log group, and the instance's units
write stdout to files that the CloudWatch agent ships. No permission beyond writing logs is needed.

Lines are written only when ``PIPELINE_METRICS_NAMESPACE`` is set (the stack sets it); a local run's
terminal stays free of them. Tests pass their own stream.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TextIO

from pipeline.settings import Settings

COUNT = "Count"
SECONDS = "Seconds"
#: CloudWatch has no hour or day unit: ages in hours go out unit-less.
NO_UNIT = "None"

#: The EMF limit on metrics per document.
MAX_METRICS = 100


@dataclass(frozen=True)
class Metric:
    """One metric value with its CloudWatch unit."""

    value: float
    unit: str = COUNT


@dataclass
class TelemetryEvent:
    """One line: `event` names what happened; `dimensions` and `metrics` become CloudWatch metrics,
    `fields` are searchable context only (ids, keys, errors)."""

    event: str
    metrics: Mapping[str, Metric]
    dimensions: Mapping[str, str] = field(default_factory=dict)
    fields: Mapping[str, object] = field(default_factory=dict)

    def document(self, namespace: str, now: dt.datetime) -> dict[str, object]:
        """The EMF document: context fields, dimensions and metric values at the top level."""
        if len(self.metrics) > MAX_METRICS:
            raise ValueError(f"{self.event}: {len(self.metrics)} metrics, EMF allows {MAX_METRICS}")
        clash = set(self.metrics) & (set(self.dimensions) | set(self.fields))
        if clash:
            raise ValueError(f"{self.event}: {sorted(clash)} used both as a metric and a field")
        directive = {
            "Namespace": namespace,
            "Dimensions": [sorted(self.dimensions)],
            "Metrics": [{"Name": name, "Unit": metric.unit} for name, metric in self.metrics.items()],
        }
        return {
            "_aws": {"Timestamp": int(now.timestamp() * 1000), "CloudWatchMetrics": [directive]},
            "event": self.event,
            **self.fields,
            **self.dimensions,
            **{name: metric.value for name, metric in self.metrics.items()},
        }


def emit(
    settings: Settings,
    events: list[TelemetryEvent],
    *,
    stream: TextIO | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Write `events` as EMF lines to `stream` (stdout by default); return how many were written.

    Nothing is written when no namespace is configured. Each line is flushed at once: a process killed
    later (a Lambda timeout, a stopped unit) still leaves what it had reported.
    """
    namespace = settings.pipeline_metrics_namespace
    if not namespace:
        return 0
    out = stream or sys.stdout
    moment = now or dt.datetime.now(dt.UTC)
    for event in events:
        out.write(json.dumps(event.document(namespace, moment), default=str, separators=(",", ":")) + "\n")
    out.flush()
    return len(events)
