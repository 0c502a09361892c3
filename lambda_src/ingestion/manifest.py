"""The run manifest (docs/internals.md): what a run wrote, skipped and failed, written last."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from lambda_src.ingestion.plan import Window
from pipeline import catalog
from pipeline.outcomes import RUN_FAILED, RUN_PARTIAL, RUN_SUCCESS
from pipeline.rawzone import RawStore, make_metadata, raw_key


@dataclass(frozen=True)
class WrittenObject:
    key: str
    source: str
    sha256: str


@dataclass(frozen=True)
class SkippedObject:
    key: str
    source: str
    reason: str


@dataclass(frozen=True)
class Failure:
    """What failed (a source and its symbol, topic, series or endpoint), the URL and why."""

    source: str
    entity: str
    url: str
    reason: str


def run_status(
    written: Sequence[WrittenObject], skipped: Sequence[SkippedObject], failed: Sequence[Failure]
) -> str:
    """success without failures; partial when something else was written or already there; else failed."""
    if not failed:
        return RUN_SUCCESS
    return RUN_PARTIAL if written or skipped else RUN_FAILED


def manifest_key(run_id: str, day: dt.date) -> str:
    return raw_key(catalog.MANIFEST, day, f"{run_id}.json")


def write_manifest(
    store: RawStore,
    *,
    run_id: str,
    day: dt.date,
    started_at: dt.datetime,
    finished_at: dt.datetime,
    window: Window,
    sources: Sequence[str],
    written: Sequence[WrittenObject],
    skipped: Sequence[SkippedObject],
    failed: Sequence[Failure],
    synthetic: bool,
    shards: Sequence[Mapping[str, object]] = (),
) -> str:
    """Write the manifest of a run under ``raw/manifest/<day>/<run id>.json``; return its key.

    `shards` lists each shard of the run (number, source, status, counts, times) when it was sharded.
    """
    document = {
        "run_id": run_id,
        "kind": "ingest",
        "started_at": started_at.astimezone(dt.UTC).isoformat(),
        "finished_at": finished_at.astimezone(dt.UTC).isoformat(),
        "status": run_status(written, skipped, failed),
        "window": {"start": window.start.isoformat(), "end": window.end.isoformat()},
        "sources": list(sources),
        "written": [asdict(item) for item in written],
        "skipped": [asdict(item) for item in skipped],
        "failed": [asdict(item) for item in failed],
        "synthetic": synthetic,
        **({"shards": list(shards)} if shards else {}),
    }
    body = json.dumps(document, indent=1).encode()
    key = manifest_key(run_id, day)
    extra = {"run_id": run_id, **({"synthetic": "true"} if synthetic else {})}
    store.put(
        key,
        body,
        make_metadata(
            body,
            source_url=f"pipeline:ingest/{run_id}",
            http_status=0,
            content_type="application/json",
            fetched_at=finished_at,
            extra=extra,
        ),
    )
    return key


#: How many entities a summary line names before it counts the rest.
NAMED_PER_LINE = 3


def failure_lines(failed: Sequence[Failure]) -> list[str]:
    """One line per failure reason and source, naming its entities (a few, then how many more): offline,
    hundreds of symbols fail for the same reason, and the terminal should say so once."""
    groups: dict[tuple[str, str], list[str]] = {}
    for item in failed:
        groups.setdefault((item.source, item.reason), []).append(item.entity)
    lines = []
    for (source, reason), entities in groups.items():
        named = ", ".join(entities[:NAMED_PER_LINE])
        more = len(entities) - NAMED_PER_LINE
        lines.append(f"  failed {source} {named}{f' and {more} more' if more > 0 else ''}: {reason}")
    return lines
