"""The curated schema as the code sees it: every table's name, key and typed columns, in one place.

The migrations in sql/ create the tables; this module is what the loader, the analytics refresh,
`pipeline status` and the benchmarks read instead of retyping a name or a column list. The types are
PostgreSQL's names, as COPY and staging tables need them. A test checks every spec against the
migrated database, so a migration that changes a table fails until this module says the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from psycopg import sql

# Curated tables (the README lists what each holds).
COMPANIES = "companies"
STOCK_DAILY = "stock_daily"
INDEX_DAILY = "index_daily"
WEATHER_DAILY = "weather_daily"
NEWS_DAILY = "news_daily"
MACRO_DAILY = "macro_daily"
DIM_DATE = "dim_date"
PIPELINE_RUNS = "pipeline_runs"
RAW_OBJECTS = "raw_objects"
# The analytics layer the ETL builds for the dashboard.
SECTOR_DAILY = "sector_daily"
MARKET_DAILY = "market_daily"

CORE_TABLES: tuple[str, ...] = (
    COMPANIES,
    STOCK_DAILY,
    INDEX_DAILY,
    WEATHER_DAILY,
    NEWS_DAILY,
    MACRO_DAILY,
    DIM_DATE,
    PIPELINE_RUNS,
    RAW_OBJECTS,
)
ANALYTICS_TABLES: tuple[str, ...] = (SECTOR_DAILY, MARKET_DAILY)
# Lake-only tables (`etl.lake`): Iceberg, never in PostgreSQL.
STOCK_MINUTE = "stock_minute"


@dataclass(frozen=True)
class TableSpec:
    """A table as the code writes it: name, key columns, and every column with its PostgreSQL type."""

    name: str
    key: tuple[str, ...]
    columns: tuple[tuple[str, str], ...]

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]

    @property
    def value_names(self) -> list[str]:
        """The columns that are not part of the key."""
        return [name for name in self.column_names if name not in self.key]

    @property
    def merged_names(self) -> list[str]:
        """The value columns that fetches provide (merged by `etl.precedence`): neither key, nor rank,
        nor derived."""
        return [name for name in self.value_names if name not in _NOT_MERGED]

    @property
    def staging(self) -> str:
        """The temporary table the loader stages this table's rows in."""
        return f"staging_{self.name}"

    def on_conflict_update(
        self, values: Sequence[str] | None = None, *, stamp: str | None = None
    ) -> sql.Composed:
        """The ``ON CONFLICT`` clause of every upsert: a row whose `values` (default: every non-key
        column) are unchanged is not rewritten, so a re-run writes nothing; when one changed, `stamp`
        (a timestamp column) is set to now() as well. ``DO NOTHING`` for a table of keys only."""
        key = sql.SQL(", ").join(map(sql.Identifier, self.key))
        names = list(self.value_names if values is None else values)
        if not names:
            return sql.SQL("ON CONFLICT ({}) DO NOTHING").format(key)
        assigned = [sql.Identifier(name) for name in names]
        excluded = [sql.SQL("EXCLUDED.{}").format(name) for name in assigned]
        current = sql.SQL(", ").join(
            sql.SQL("{}.{}").format(sql.Identifier(self.name), name) for name in assigned
        )
        excluded_set: list[sql.Composable] = list(excluded)
        if stamp:
            assigned.append(sql.Identifier(stamp))
            excluded_set.append(sql.SQL("now()"))
        return sql.SQL(
            "ON CONFLICT ({key}) DO UPDATE SET ({assigned}) = ROW({excluded_set}) "
            "WHERE ({current}) IS DISTINCT FROM ({excluded})"
        ).format(
            key=key,
            assigned=sql.SQL(", ").join(assigned),
            excluded_set=sql.SQL(", ").join(excluded_set),
            current=current,
            excluded=sql.SQL(", ").join(excluded),
        )


# Every fact table's provenance: the rank of the fetch its values come from (`etl.precedence`).
_RANK_TYPES = (("fetch_rank", "int8"), ("value_ranks", "jsonb"))

_NOT_MERGED = frozenset({"fetch_rank", "value_ranks", "daily_return", "volatility_7"})

_BAR_TYPES = (
    ("trade_date", "date"),
    ("open", "float8"),
    ("high", "float8"),
    ("low", "float8"),
    ("close", "float8"),
    ("adj_close", "float8"),
    ("volume", "int8"),
    ("daily_return", "float8"),
    ("volatility_7", "float8"),
    *_RANK_TYPES,
)

TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec(STOCK_DAILY, ("ticker", "trade_date"), (("ticker", "text"), *_BAR_TYPES)),
        TableSpec(INDEX_DAILY, ("symbol", "trade_date"), (("symbol", "text"), *_BAR_TYPES)),
        TableSpec(
            WEATHER_DAILY,
            ("state", "obs_date"),
            (
                ("state", "text"),
                ("obs_date", "date"),
                ("precipitation_mm", "float8"),
                ("temp_max_c", "float8"),
                ("temp_min_c", "float8"),
                *_RANK_TYPES,
            ),
        ),
        TableSpec(
            NEWS_DAILY,
            ("topic", "news_date"),
            (
                ("topic", "text"),
                ("news_date", "date"),
                ("matching_articles", "int8"),
                ("total_articles", "int8"),
                *_RANK_TYPES,
                # Added by migration 0014, after the ranks.
                ("average_tone", "float8"),
            ),
        ),
        TableSpec(
            MACRO_DAILY,
            ("series_id", "obs_date"),
            (("series_id", "text"), ("obs_date", "date"), ("value", "float8"), *_RANK_TYPES),
        ),
        TableSpec(
            PIPELINE_RUNS,
            ("run_id",),
            (
                ("run_id", "text"),
                ("kind", "text"),
                ("started_at", "timestamptz"),
                ("finished_at", "timestamptz"),
                ("status", "text"),
                ("details", "jsonb"),
            ),
        ),
        TableSpec(
            COMPANIES,
            ("ticker",),
            (("ticker", "text"), ("name", "text"), ("sector", "text"), ("industry", "text")),
        ),
        TableSpec(
            DIM_DATE,
            ("date_id",),
            (
                ("date_id", "date"),
                ("year", "int2"),
                ("quarter", "int2"),
                ("month", "int2"),
                ("day", "int2"),
                ("dow", "int2"),
                ("iso_week", "int2"),
            ),
        ),
        TableSpec(
            RAW_OBJECTS,
            ("key",),
            (
                ("key", "text"),
                ("source", "text"),
                ("sha256", "text"),
                ("status", "text"),
                ("rows", "int4"),
                ("loaded_at", "timestamptz"),
                ("error", "text"),
                ("data_date", "date"),
                ("synthetic", "bool"),
                ("etag", "text"),
            ),
        ),
        TableSpec(
            SECTOR_DAILY,
            ("sector", "trade_date"),
            (
                ("sector", "text"),
                ("trade_date", "date"),
                ("tickers", "int4"),
                ("mean_return", "float8"),
                ("advancers", "int4"),
                ("decliners", "int4"),
                ("mean_volatility_7", "float8"),
            ),
        ),
        TableSpec(
            MARKET_DAILY,
            ("trade_date",),
            (
                ("trade_date", "date"),
                ("index_symbol", "text"),
                ("index_close", "float8"),
                ("index_return", "float8"),
                ("index_volatility_7", "float8"),
                ("precipitation_mm", "float8"),
                ("news_topic", "text"),
                ("news_matching", "int8"),
                ("news_total", "int8"),
                ("news_share", "float8"),
                ("vix", "float8"),
                ("treasury_10y", "float8"),
                ("macro", "jsonb"),
                # Added by migration 0014.
                ("news_tone", "float8"),
                ("temp_max_c", "float8"),
                ("temp_min_c", "float8"),
            ),
        ),
    )
}


# The tables only the lake holds (no migration creates them): one-minute bars, stamped in UTC, with
# the exchange-local trading day they belong to (the lake's partition) and the `fetched_at` of the
# response they came from (the newest fetch of a ticker's day wins, `etl.intraday`; added after the
# table's first release, so a lake written before holds NULL there: older than any fetch).
LAKE_ONLY_TABLES: dict[str, TableSpec] = {
    STOCK_MINUTE: TableSpec(
        STOCK_MINUTE,
        ("ticker", "bar_time"),
        (
            ("ticker", "text"),
            ("bar_time", "timestamptz"),
            ("trade_date", "date"),
            ("open", "float8"),
            ("high", "float8"),
            ("low", "float8"),
            ("close", "float8"),
            ("volume", "int8"),
            ("fetched_at", "timestamptz"),
        ),
    )
}
