"""The ETL: raw zone to the curated PostgreSQL schema (extract, transform, load); see docs/etl.md."""

from etl.run import EtlResult, run_etl

__all__ = ["EtlResult", "run_etl"]
