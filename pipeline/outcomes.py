"""How runs end: the `pipeline` command's exit statuses and the statuses recorded for runs and objects.

The CLI, the ingestion runner, the ETL and `pipeline status` all speak of the same outcomes; they
import them from here so that an exit status or a status string is spelled once.
"""

from __future__ import annotations

import datetime as dt
import uuid

#: Exit statuses of the `pipeline` command.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_QUARANTINED = 3
EXIT_INTERRUPTED = 130

# "Worst of the two" for `pipeline run`: a failure outranks quarantined objects, which outrank success.
_SEVERITY = {EXIT_OK: 0, EXIT_QUARANTINED: 1, EXIT_FAILED: 2}

#: `pipeline_runs.status` and a manifest's `status`.
RUN_SUCCESS = "success"
RUN_PARTIAL = "partial"
RUN_FAILED = "failed"
RUN_STATUSES: tuple[str, ...] = (RUN_SUCCESS, RUN_PARTIAL, RUN_FAILED)

#: `raw_objects.status`.
OBJECT_LOADED = "loaded"
OBJECT_QUARANTINED = "quarantined"


def worst_exit_code(*codes: int) -> int:
    """The most severe of `codes`: failed, then quarantined, then success (unknown codes count as failed)."""
    return max(codes, key=lambda code: _SEVERITY.get(code, 2))


def new_run_id(now: dt.datetime | None = None, *, kind: str = "") -> str:
    """A sortable, unique run id: `kind-` (when given), the UTC time, a random suffix."""
    stamp = f"{(now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    return f"{kind}-{stamp}" if kind else stamp
