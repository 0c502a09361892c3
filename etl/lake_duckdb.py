"""DuckDB over the lake: the Iceberg tables as views of an in-process DuckDB, for the dashboard, the
benchmarks and the tests.

The Iceberg, Avro and httpfs extensions come from their PyPI wheels (``duckdb-ext-*``, built for the
pinned DuckDB), found in the installed package: DuckDB never downloads an extension at run time
(autoinstall is off). Each table is read from the metadata file its catalog names now
(``iceberg_scan``), so a reader sees the last committed snapshot, locally or on S3 alike.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from etl.lake import LakeError, open_catalog, table_identifier
from pipeline.settings import Settings

if TYPE_CHECKING:
    import duckdb

# A query over the lake gets this much memory and these threads (a small instance shares its two
# cores with the dashboard and the ETL); past the limit DuckDB spills to disk or fails the query.
MEMORY_LIMIT = "512MB"
THREADS = 2


def extension_directory() -> Path:
    """Where the ``duckdb-ext-*`` wheels put their extension files (``<dir>/v<version>/<platform>/``)."""
    spec = importlib.util.find_spec("duckdb_ext")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        folder = Path(location) / "extensions"
        if folder.is_dir():
            return folder
    raise LakeError("the DuckDB extensions are not installed (the duckdb-ext-iceberg wheel): run make setup")


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def connect(settings: Settings) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the Iceberg extension loaded (and S3 access when the lake is there)."""
    import duckdb

    connection = duckdb.connect(
        config={
            "extension_directory": str(extension_directory()),
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": True,
            "memory_limit": MEMORY_LIMIT,
            "threads": THREADS,
        }
    )
    connection.execute("LOAD iceberg")
    if settings.lake_on_s3:
        connection.execute("LOAD httpfs")
        connection.execute(_s3_secret(settings))
    return connection


def _s3_secret(settings: Settings) -> str:
    """A DuckDB secret with the process's AWS credentials (the instance role's, refreshed by boto3)."""
    import boto3

    session = boto3.Session(region_name=settings.aws_region)
    credentials = session.get_credentials()
    if credentials is None:
        raise LakeError("no AWS credentials to read the lake on S3 with")
    frozen = credentials.get_frozen_credentials()
    options = {
        "TYPE": "s3",
        "KEY_ID": _literal(frozen.access_key),
        "SECRET": _literal(frozen.secret_key),
        "REGION": _literal(session.region_name or "us-east-1"),
    }
    if frozen.token:
        options["SESSION_TOKEN"] = _literal(frozen.token)
    if settings.aws_endpoint_url:
        endpoint = urlsplit(settings.url("aws_endpoint_url"))
        options |= {
            "ENDPOINT": _literal(endpoint.netloc),
            "URL_STYLE": "'path'",
            "USE_SSL": "true" if endpoint.scheme == "https" else "false",
        }
    body = ", ".join(f"{key} {value}" for key, value in options.items())
    return f"CREATE OR REPLACE SECRET lake ({body})"


def attach_tables(
    connection: duckdb.DuckDBPyConnection, settings: Settings, names: Iterable[str]
) -> list[str]:
    """A view per lake table of `names` that exists, named like it; return the names of those missing."""
    from pyiceberg.exceptions import NoSuchTableError

    catalog = open_catalog(settings)
    missing = []
    for name in names:
        try:
            location = catalog.load_table(table_identifier(settings, name)).metadata_location
        except NoSuchTableError:
            missing.append(name)
            continue
        connection.execute(
            f'CREATE OR REPLACE VIEW "{name}" AS SELECT * FROM iceberg_scan({_literal(location)})'
        )
    return missing


def lake_connection(settings: Settings, names: Iterable[str]) -> duckdb.DuckDBPyConnection:
    """`connect` with the views of `attach_tables`; `LakeError` naming a table that does not exist."""
    connection = connect(settings)
    missing = attach_tables(connection, settings, names)
    if missing:
        connection.close()
        raise LakeError(f"the lake has no table {', '.join(missing)} yet (has the ETL written it?)")
    return connection
