"""Ingestion: fetch the external APIs and keep what they send, verbatim, in the raw zone.

`run_ingest` is the entry point for `pipeline ingest` and the Lambda handler. The sample generator,
which writes the same formats without the network, is a package of its own (`sample_data`).
"""

from lambda_src.ingestion.runner import IngestResult, IngestWindowError, run_ingest

__all__ = ["IngestResult", "IngestWindowError", "run_ingest"]
