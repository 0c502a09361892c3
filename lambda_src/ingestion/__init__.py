"""Ingestion: fetch the external APIs and keep what they send, verbatim, in the raw zone.

`run_ingest` is the entry point for `pipeline ingest` and the Lambda handler. The sample generator
(`lambda_src.ingestion.sample`) is imported on its own: it needs numpy, which the Lambda does not ship.
"""

from lambda_src.ingestion.runner import IngestResult, IngestWindowError, run_ingest

__all__ = ["IngestResult", "IngestWindowError", "run_ingest"]
