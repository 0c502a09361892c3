"""How long the page queries' results are cached: each query module picks the time to live that fits."""

from __future__ import annotations

import datetime as dt

#: Analytics change once per ETL run; five minutes keeps pages fast without hiding a new load for long.
ANALYTICS_TTL = dt.timedelta(minutes=5)
#: Pipeline health and freshness should show a run that just finished.
HEALTH_TTL = dt.timedelta(seconds=30)
