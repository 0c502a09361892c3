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

#: The sources `pipeline ingest` fetches when none is named.
DATA_SOURCES: tuple[str, ...] = (YAHOO, OPEN_METEO, GDELT, FRED)
#: Every source `pipeline ingest --source` accepts.
INGEST_SOURCES: tuple[str, ...] = (*DATA_SOURCES, CONSTITUENTS)

#: The read-only role the dashboard connects as (created by a migration).
DASHBOARD_ROLE = "dashboard_reader"
