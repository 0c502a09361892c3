"""Extract: the raw objects not yet loaded, and their bytes.

An object is pending when the `raw_objects` ledger has no row for its key, or a row with another
sha256 (the object was re-fetched with different bytes). Quarantined objects with unchanged bytes
are not retried (they would fail the same way); `--full` reads every object again.

On S3 the sha256 is in each object's metadata, one HEAD request away; the listing already returns each
object's ETag, so an object whose ETag equals the one the ledger recorded is unchanged without a look-up.
The local folder's listing gives a token of the same use (the body file's inode, size and modification
time), recorded in the same column: an unchanged local object's sidecar is not read either.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from etl.ledger import LedgerEntry
from pipeline.catalog import INGEST_SHARDS, INGEST_SOURCES, MANIFEST
from pipeline.rawzone import (
    RAW_PREFIX,
    LocalRawStore,
    RawKeyError,
    RawMetadata,
    RawMetadataError,
    RawObjectNotFound,
    RawStore,
    parse_raw_key,
    source_prefix,
)

log = logging.getLogger(__name__)

# Metadata look-ups are network round trips on S3; they overlap well in threads.
METADATA_THREADS = 16
TASKS_PER_THREAD = 4
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class PendingObject:
    """A raw object to load: its key, source, data date (`data_date_of`) and metadata (sha256, extras)."""

    key: str
    source: str
    data_date: dt.date
    metadata: RawMetadata
    etag: str | None = None

    @property
    def sha256(self) -> str:
        return self.metadata.sha256

    @property
    def extra(self) -> Mapping[str, str]:
        return self.metadata.extra

    @property
    def synthetic(self) -> bool:
        return self.extra.get("synthetic", "").lower() == "true"


@dataclass(frozen=True)
class UnreadableKey:
    """A key in the raw zone that is not a raw-zone key, or whose metadata is missing or unreadable;
    it is quarantined, never loaded (again when its listed ETag changes, or with `--full`)."""

    key: str
    error: str
    etag: str | None = None


@dataclass
class Scan:
    """What `find_pending` found: the objects to load, the keys that are not raw keys, the ETags to
    record for objects whose bytes are unchanged but whose ETag is new, and the metadata look-ups made."""

    pending: list[PendingObject] = field(default_factory=list)
    unreadable: list[UnreadableKey] = field(default_factory=list)
    new_etags: dict[str, str] = field(default_factory=dict)
    lookups: int = 0


def find_pending(
    store: RawStore,
    ledger: Mapping[str, LedgerEntry],
    *,
    full: bool,
    listing: Iterable[tuple[str, str | None]] | None = None,
) -> Scan:
    """The objects of `store` to load (all of them when `full`), and the keys that are not raw keys.

    An object listed with the ETag its ledger row records is unchanged; the others' metadata is read.
    `listing` replaces the listing of the whole raw zone (`recent_listing`: a few date partitions).
    """
    scan = Scan()
    to_look_up = []
    for key, etag in store.list_versions(RAW_PREFIX + "/") if listing is None else listing:
        try:
            parsed = parse_raw_key(key)
        except RawKeyError as error:
            if key not in ledger or full:
                scan.unreadable.append(UnreadableKey(key, str(error)))
            continue
        recorded = ledger.get(key)
        if full or recorded is None or etag is None or recorded.etag != etag:
            to_look_up.append((key, parsed, etag, recorded))
    scan.lookups = len(to_look_up)
    heads = _in_threads(lambda item: _head(store, item[0]), to_look_up, _threads_for(store))
    for (key, parsed, etag, recorded), metadata in zip(to_look_up, heads, strict=True):
        if isinstance(metadata, RawMetadataError):
            scan.unreadable.append(UnreadableKey(key, str(metadata), etag))
            continue
        if metadata is None:
            continue
        if full or recorded is None or recorded.sha256 != metadata.sha256:
            data_date = data_date_of(parsed.day, metadata.extra)
            scan.pending.append(PendingObject(key, parsed.source, data_date, metadata, etag))
        elif etag is not None:
            # Same bytes, rewritten (or recorded before ETags were): remember the ETag, skip the look-up.
            scan.new_etags[key] = etag
    return scan


def recent_listing(store: RawStore, today: dt.date, days: int) -> list[tuple[str, str | None]]:
    """Keys and ETags of the date partitions of the last `days` days (today included) of every
    raw-zone source: one listing request per source (more only past 1,000 recent keys), however many
    years the bucket holds, since keys sort by date within a source."""
    first = today - dt.timedelta(days=days - 1)
    listing: list[tuple[str, str | None]] = []
    for source in (*INGEST_SOURCES, MANIFEST, INGEST_SHARDS):
        # Every key of day `first` or later sorts after "raw/<source>/<first>" without its slash.
        after = source_prefix(source, first).rstrip("/")
        listing += store.list_versions(source_prefix(source), start_after=after)
    return listing


def find_pending_keys(store: RawStore, ledger: Mapping[str, LedgerEntry], keys: Sequence[str]) -> Scan:
    """The objects among `keys` (new objects named by S3 events) to load: no listing at all, one
    metadata look-up per key. A key that is not a raw key is quarantined once; one that has vanished
    is skipped (the event of its next write brings it back)."""
    scan = Scan()
    to_look_up = []
    for key in dict.fromkeys(keys):
        try:
            parsed = parse_raw_key(key)
        except RawKeyError as error:
            if key not in ledger:
                scan.unreadable.append(UnreadableKey(key, str(error)))
            continue
        to_look_up.append((key, parsed))
    scan.lookups = len(to_look_up)
    heads = _in_threads(lambda item: _head(store, item[0]), to_look_up, _threads_for(store))
    for (key, parsed), metadata in zip(to_look_up, heads, strict=True):
        recorded = ledger.get(key)
        if isinstance(metadata, RawMetadataError):
            if recorded is None:
                scan.unreadable.append(UnreadableKey(key, str(metadata)))
            continue
        if metadata is not None and (recorded is None or recorded.sha256 != metadata.sha256):
            scan.pending.append(
                PendingObject(key, parsed.source, data_date_of(parsed.day, metadata.extra), metadata)
            )
    return scan


def data_date_of(key_day: dt.date, extra: Mapping[str, str]) -> dt.date:
    """The last day of data an object covers: its `window_end` extra, else its key's date.

    A data object's key carries the first day of its window; freshness wants the last. Objects without
    a window (manifests, constituent snapshots) are dated by their key, the day they were written. A
    `window_end` that is not an ISO date, or lies before the key's date, is not trusted.
    """
    try:
        window_end = dt.date.fromisoformat(extra.get("window_end", "").strip())
    except ValueError:
        return key_day
    return window_end if window_end >= key_day else key_day


def _head(store: RawStore, key: str) -> RawMetadata | RawMetadataError | None:
    """The object's metadata; the error when it is damaged (that object is quarantined, named); None
    when it is gone."""
    try:
        return store.head(key)
    except RawMetadataError as error:
        log.warning("raw object %s: %s; quarantined", key, error)
        return RawMetadataError(f"{error}; repair or remove it, then run pipeline etl --full")
    except RawObjectNotFound:
        # Listed but gone or still being written (its metadata lands first): the next run sees it.
        log.warning("raw object %s vanished or has no metadata yet; skipped", key)
        return None


def read_bodies(store: RawStore, objects: Sequence[PendingObject]) -> Iterator[tuple[PendingObject, bytes]]:
    """The bytes of each object, in order, fetched a few at a time; vanished objects are skipped."""
    bodies = _in_threads(lambda pending: _body(store, pending.key), objects, _threads_for(store))
    for pending, body in zip(objects, bodies, strict=True):
        if body is not None:
            yield pending, body


def _threads_for(store: RawStore) -> int:
    # A local file is read faster than a thread hand-off costs (threads made listing the 1,500
    # objects of a daily run 0.2 s slower); S3 round trips overlap well.
    return 1 if isinstance(store, LocalRawStore) else METADATA_THREADS


def _in_threads(function: Callable[[T], R], items: Sequence[T], threads: int) -> Iterator[R]:
    """`map(function, items)` on `threads` threads, in order, a run of items per task (one task per
    item costs more in hand-offs than a short request); a few runs per thread keep them all busy."""
    if threads <= 1:
        yield from map(function, items)
        return
    from concurrent.futures import ThreadPoolExecutor  # S3 only: a local run never starts a thread

    size = max(1, math.ceil(len(items) / (threads * TASKS_PER_THREAD)))
    runs = [items[start : start + size] for start in range(0, len(items), size)]
    with ThreadPoolExecutor(threads) as pool:
        for results in pool.map(lambda run: [function(item) for item in run], runs):
            yield from results


def _body(store: RawStore, key: str) -> bytes | None:
    try:
        return store.read(key)
    except RawObjectNotFound:
        log.warning("raw object %s vanished before it was read; skipped", key)
        return None
