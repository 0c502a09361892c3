"""The operations script (smoke, pause, resume, etl-now): its parsing and its one-line errors.

The commands themselves run against an emulated deployment in `make rehearse`.
"""

from __future__ import annotations

import pytest
from moto import mock_aws

from ops import operations
from ops.tools import run_tool

STATUS_OUTPUT = """freshness (latest data date loaded per source):
  yahoo        2024-01-05
rows:
  companies                 503
  stock_daily             1,250
  raw_objects                 0
"""


def test_row_counts_read_the_rows_section_of_pipeline_status() -> None:
    assert operations.row_counts(STATUS_OUTPUT) == {"companies": 503, "stock_daily": 1250, "raw_objects": 0}


def test_row_counts_of_an_output_without_rows_is_empty() -> None:
    assert operations.row_counts("pipeline: error: cannot read the database secret") == {}


@mock_aws
@pytest.mark.parametrize("operation", ["smoke", "pause", "resume", "etl-now"])
def test_an_operation_on_a_missing_stack_fails_in_one_line(
    operation: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    assert run_tool(operations.main, [operation, "-c", "environment=nowhere"]) == 1
    error = capsys.readouterr().err.strip()
    assert error == "error: stack MarketWeatherPipeline-nowhere not found: deploy it first (make deploy)"


def test_an_unknown_operation_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        operations.main(["launch"])
    assert exited.value.code == 2
    assert "invalid choice: 'launch'" in capsys.readouterr().err
