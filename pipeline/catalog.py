"""The names every part of the pipeline shares: the raw-zone sources and the dashboard's role.

Import them; never retype them. Table names, keys and columns are in `etl.schema`.
"""

from __future__ import annotations

# Raw-zone sources (the <source> segment of a raw key).
YAHOO = "yahoo"
#: Yahoo's one-minute bars (the same chart API, ``interval=1m``): loaded into the lake only.
YAHOO_INTRADAY = "yahoo_intraday"
OPEN_METEO = "open_meteo"
GDELT = "gdelt"
FRED = "fred"
CONSTITUENTS = "constituents"
MANIFEST = "manifest"
#: Each shard's report of a sharded run in AWS; the run's manifest is made from them.
INGEST_SHARDS = "ingest_shards"
#: Sources the ETL records in its ledger without loading rows from them.
UNLOADED_SOURCES: tuple[str, ...] = (CONSTITUENTS, INGEST_SHARDS)

#: GDELT DOC's timeline modes fetched for each topic and window (the metadata extra ``mode`` of a
#: ``gdelt`` object; an object without it, written before tone was fetched, is a volume).
GDELT_VOLUME_MODE = "timelinevolraw"
GDELT_TONE_MODE = "timelinetone"
GDELT_MODES: tuple[str, ...] = (GDELT_VOLUME_MODE, GDELT_TONE_MODE)

#: The sources `pipeline ingest` fetches when none is named.
DATA_SOURCES: tuple[str, ...] = (YAHOO, OPEN_METEO, GDELT, FRED)
#: The sources only the lake loads (`pipeline ingest` fetches them too when LAKE_WAREHOUSE is set).
LAKE_SOURCES: tuple[str, ...] = (YAHOO_INTRADAY,)
#: Yahoo's sources: a browser's User-Agent and transport, about one request a second.
YAHOO_SOURCES: tuple[str, ...] = (YAHOO, YAHOO_INTRADAY)


def default_sources(*, lake: bool) -> tuple[str, ...]:
    """What `pipeline ingest` fetches when no source is named: the lake's own sources too when there is one."""
    return (*DATA_SOURCES, *LAKE_SOURCES) if lake else DATA_SOURCES


#: Every source `pipeline ingest --source` accepts.
INGEST_SOURCES: tuple[str, ...] = (*DATA_SOURCES, *LAKE_SOURCES, CONSTITUENTS)

#: The read-only role the dashboard connects as (created by a migration).
DASHBOARD_ROLE = "dashboard_reader"
#: The SQL explorer's own role: read-only on the analytics data, limits set on the role (a migration).
EXPLORER_ROLE = "dashboard_explorer"
