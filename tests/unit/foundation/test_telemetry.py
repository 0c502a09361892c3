"""The embedded metric format lines: structure CloudWatch accepts, nothing without a namespace."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest

from pipeline.settings import SettingsError, load_settings
from pipeline.telemetry import SECONDS, Metric, TelemetryEvent, emit

NOW = dt.datetime(2026, 3, 3, 14, 0, tzinfo=dt.UTC)
EVENT = TelemetryEvent(
    "etl_run",
    {"ObjectsLoaded": Metric(9), "DurationSeconds": Metric(1.5, SECONDS)},
    dimensions={"Source": "yahoo"},
    fields={"run_id": "etl-1", "error": None},
)


def test_a_line_is_one_emf_document_with_its_fields_at_the_top_level() -> None:
    stream = io.StringIO()
    assert (
        emit(load_settings(pipeline_metrics_namespace="Pipeline/dev"), [EVENT], stream=stream, now=NOW) == 1
    )
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    document = json.loads(lines[0])
    assert document["_aws"] == {
        "Timestamp": int(NOW.timestamp() * 1000),
        "CloudWatchMetrics": [
            {
                "Namespace": "Pipeline/dev",
                "Dimensions": [["Source"]],
                "Metrics": [
                    {"Name": "ObjectsLoaded", "Unit": "Count"},
                    {"Name": "DurationSeconds", "Unit": "Seconds"},
                ],
            }
        ],
    }
    assert document["ObjectsLoaded"] == 9 and document["DurationSeconds"] == 1.5
    assert document["Source"] == "yahoo" and document["run_id"] == "etl-1" and document["event"] == "etl_run"


def test_without_a_namespace_nothing_is_written() -> None:
    stream = io.StringIO()
    assert emit(load_settings(), [EVENT], stream=stream, now=NOW) == 0
    assert stream.getvalue() == ""


def test_a_name_used_as_metric_and_field_is_refused() -> None:
    clash = TelemetryEvent("x", {"run_id": Metric(1)}, fields={"run_id": "a"})
    with pytest.raises(ValueError, match="run_id"):
        emit(load_settings(pipeline_metrics_namespace="P"), [clash], stream=io.StringIO(), now=NOW)


def test_a_bad_namespace_is_one_clear_settings_error() -> None:
    with pytest.raises(SettingsError, match="PIPELINE_METRICS_NAMESPACE"):
        load_settings(pipeline_metrics_namespace="has spaces")
