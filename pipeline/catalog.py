"""The names every part of the pipeline shares: the raw-zone sources and the dashboard's role.

Import them; never retype them. Table names, keys and columns are in `etl.schema`.
"""

from __future__ import annotations

# Raw-zone sources (the <source> segment of a raw key).
YAHOO = "yahoo"
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
#: Every source `pipeline ingest --source` accepts.
INGEST_SOURCES: tuple[str, ...] = (*DATA_SOURCES, CONSTITUENTS)

#: The read-only role the dashboard connects as (created by a migration).
DASHBOARD_ROLE = "dashboard_reader"
#: The SQL explorer's own role: read-only on the analytics data, limits set on the role (a migration).
EXPLORER_ROLE = "dashboard_explorer"
