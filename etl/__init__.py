"""The ETL: raw zone to the curated PostgreSQL schema (extract, transform, load); see docs/etl.md."""

from etl.run import run_etl
from etl.run_record import EtlResult

__all__ = ["EtlResult", "run_etl"]
