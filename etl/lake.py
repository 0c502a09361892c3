"""The lakehouse: the curated tables (and the lake-only ones) as Apache Iceberg tables.

`LAKE_WAREHOUSE` names where they live: a folder, with a pyiceberg SQL catalog named `pipeline` in
``$LAKE_WAREHOUSE/catalog.db`` (SQLite), or ``s3://bucket/prefix`` with the Glue Data Catalog. The
tables are in the namespace `LAKE_DATABASE` (``curated``; on AWS the Glue database the stack names)
and named as in PostgreSQL. Their schemas come from `etl.schema`, the one schema module: each
PostgreSQL type maps to one Iceberg type, the key columns are required and form the identifier.

This module owns the catalog and the tables' shapes; `etl.lake_sink` writes the curated tables from
an ETL run, `etl.intraday` the minute bars, and `etl.lake_duckdb` reads them all with DuckDB.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from etl.schema import (
    COMPANIES,
    DIM_DATE,
    INDEX_DAILY,
    LAKE_ONLY_TABLES,
    MACRO_DAILY,
    MARKET_DAILY,
    NEWS_DAILY,
    SECTOR_DAILY,
    STOCK_DAILY,
    STOCK_MINUTE,
    TABLES,
    WEATHER_DAILY,
    TableSpec,
)
from pipeline.settings import Settings

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.catalog import Catalog
    from pyiceberg.expressions import BooleanExpression
    from pyiceberg.partitioning import PartitionSpec
    from pyiceberg.schema import Schema
    from pyiceberg.table import Table, Transaction

CATALOG_NAME = "pipeline"
CATALOG_FILE = "catalog.db"

# Facts keyed by a name and a day: a run rewrites, per name, its rows from the first day it changed.
FACT_TABLES: tuple[str, ...] = (STOCK_DAILY, INDEX_DAILY, WEATHER_DAILY, NEWS_DAILY, MACRO_DAILY)
# Small tables rewritten whole when a run changed them (the analytics ones also lose rows).
WHOLE_TABLES: tuple[str, ...] = (COMPANIES, DIM_DATE, SECTOR_DAILY, MARKET_DAILY)
# The curated tables the lake holds. `pipeline_runs` and `raw_objects` are the ETL's own bookkeeping,
# and stay in PostgreSQL.
CURATED_LAKE_TABLES: tuple[str, ...] = (*FACT_TABLES, *WHOLE_TABLES)
# The merge's provenance (`etl.precedence`) is the loader's business, not the data's.
_NOT_IN_LAKE = frozenset({"fetch_rank", "value_ranks"})
# Fact tables are partitioned by month: a daily run rewrites the current month's files only, and a
# month of 500 tickers is about 10,000 rows. Minute bars by their exchange-local day (~195,000 rows).
_MONTHLY = frozenset(FACT_TABLES)
_DAILY = frozenset({STOCK_MINUTE})


class LakeError(RuntimeError):
    """The lake cannot be opened or written (one line, naming the table or the setting)."""


def lake_spec(name: str) -> TableSpec:
    """A lake table's spec: the PostgreSQL spec less the provenance columns, or a lake-only spec."""
    if name in LAKE_ONLY_TABLES:
        return LAKE_ONLY_TABLES[name]
    if name not in CURATED_LAKE_TABLES:
        raise LakeError(f"{name} is not a lake table")
    spec = TABLES[name]
    return TableSpec(
        name, spec.key, tuple(column for column in spec.columns if column[0] not in _NOT_IN_LAKE)
    )


def iceberg_schema(spec: TableSpec) -> Schema:
    """The Iceberg schema of `spec`: a field per column (ids from 1 in column order), keys required."""
    from pyiceberg.schema import Schema
    from pyiceberg.types import (
        BooleanType,
        DateType,
        DoubleType,
        IntegerType,
        LongType,
        NestedField,
        StringType,
        TimestamptzType,
    )

    types = {
        "text": StringType(),
        "date": DateType(),
        "float8": DoubleType(),
        "int8": LongType(),
        "int4": IntegerType(),
        "int2": IntegerType(),  # Iceberg's narrowest integer
        "bool": BooleanType(),
        "jsonb": StringType(),  # the JSON text, as PostgreSQL prints it
        "timestamptz": TimestamptzType(),
    }
    fields = []
    for field_id, (name, pg_type) in enumerate(spec.columns, start=1):
        if pg_type not in types:
            raise LakeError(f"{spec.name}.{name}: no Iceberg type for PostgreSQL's {pg_type}")
        fields.append(NestedField(field_id, name, types[pg_type], required=name in spec.key))
    ids = [spec.column_names.index(name) + 1 for name in spec.key]
    return Schema(*fields, identifier_field_ids=ids)


def partition_spec(spec: TableSpec, schema: Schema) -> PartitionSpec:
    """By month of the table's day for the facts, by day for the minute bars, none for the rest."""
    from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC, PartitionField, PartitionSpec
    from pyiceberg.transforms import IdentityTransform, MonthTransform

    if spec.name in _MONTHLY:
        day = spec.key[1]
        field = PartitionField(schema.find_field(day).field_id, 1000, MonthTransform(), f"{day}_month")
        return PartitionSpec(field)
    if spec.name in _DAILY:
        field = PartitionField(
            schema.find_field("trade_date").field_id, 1000, IdentityTransform(), "trade_date"
        )
        return PartitionSpec(field)
    return UNPARTITIONED_PARTITION_SPEC


def open_catalog(settings: Settings) -> Catalog:
    """The lake's catalog: SQLite in the warehouse folder (created on first use), or Glue for S3."""
    if not settings.lake_warehouse:
        raise LakeError("LAKE_WAREHOUSE is not set: there is no lake")
    endpoint = settings.url("aws_endpoint_url") if settings.aws_endpoint_url else None
    if settings.lake_on_s3:
        from pyiceberg.catalog.glue import GlueCatalog

        properties = {"warehouse": settings.lake_warehouse}
        if settings.aws_region:
            properties |= {"glue.region": settings.aws_region, "s3.region": settings.aws_region}
        if endpoint:
            properties |= {"glue.endpoint": endpoint, "s3.endpoint": endpoint}
        return GlueCatalog(CATALOG_NAME, **properties)
    from pyiceberg.catalog.sql import SqlCatalog

    folder = Path(settings.lake_warehouse)
    folder.mkdir(parents=True, exist_ok=True)
    catalog = SqlCatalog(CATALOG_NAME, uri=f"sqlite:///{folder / CATALOG_FILE}", warehouse=folder.as_uri())
    catalog.create_namespace_if_not_exists(settings.lake_database)
    return catalog


def table_identifier(settings: Settings, name: str) -> str:
    return f"{settings.lake_database}.{name}"


def open_table(catalog: Catalog, settings: Settings, name: str) -> Table:
    """The lake table `name`, created (schema, partitions, identifier) when it does not exist yet."""
    from pyiceberg.exceptions import NoSuchNamespaceError

    spec = lake_spec(name)
    schema = iceberg_schema(spec)
    try:
        table = catalog.create_table_if_not_exists(
            table_identifier(settings, name),
            schema=schema,
            partition_spec=partition_spec(spec, schema),
            # Small files of a day's run are compacted by `etl.lake_maintenance`; zstd as Athena reads it.
            properties={"write.parquet.compression-codec": "zstd", "format-version": "2"},
        )
    except NoSuchNamespaceError:
        raise LakeError(
            f"the lake's namespace {settings.lake_database!r} does not exist in the catalog "
            "(on AWS the stack creates the Glue database: is LAKE_DATABASE the stack's?)"
        ) from None
    return evolved(table, schema)


def evolved(table: Table, schema: Schema) -> Table:
    """`table` with the columns `schema` has and it lacks added (optional, at the end, in one schema
    commit; the rows written before read them as NULL): a lake made by an earlier release of the
    code takes the columns added since (`stock_minute.fetched_at`). Only additions: a column is
    never dropped, renamed or retyped here."""
    present = set(table.schema().column_names)
    missing = [field for field in schema.fields if field.name not in present]
    if not missing:
        return table
    with table.update_schema() as update:
        for field in missing:
            update.add_column(field.name, field.field_type, doc=field.doc)
    return table


def arrow_schema(name: str) -> pa.Schema:
    """The Arrow schema the lake table `name` is written with (as `iceberg_schema` says)."""
    return iceberg_schema(lake_spec(name)).as_arrow()


def key_names(name: str) -> Sequence[str]:
    return lake_spec(name).key


def replace_rows(table: Table | Transaction, rows: pa.Table, where: BooleanExpression | None = None) -> None:
    """Replace the rows of `table` that `where` selects (all when None) by `rows`, in one commit (or
    staged in the transaction `table`); into a table never written, append (nothing to delete)."""
    # A transaction's metadata includes what it staged so far; a table's is its last commit.
    metadata = table.table_metadata if hasattr(table, "table_metadata") else table.metadata
    if metadata.current_snapshot() is None:
        table.append(rows)
        return
    with warnings.catch_warnings():
        # A filter that selects nothing yet (new tickers, a new day) is no cause for a warning.
        warnings.filterwarnings("ignore", "Delete operation did not match any records")
        if where is None:
            table.overwrite(rows)
        else:
            table.overwrite(rows, overwrite_filter=where)
