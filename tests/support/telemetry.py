"""Reading the embedded-metric lines a run wrote (captured output), for the telemetry tests."""

from __future__ import annotations

import json


def metric_lines(output: str) -> list[dict]:
    """Every EMF document among `output`'s lines (other output, such as summaries, is ignored)."""
    documents = []
    for line in output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            documents.append(json.loads(line))
    return documents


def metric_names(document: dict) -> list[str]:
    """The metric names the document's directive declares."""
    return [metric["Name"] for metric in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]]


def of_event(documents: list[dict], event: str) -> list[dict]:
    return [document for document in documents if document["event"] == event]
