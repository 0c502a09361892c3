"""The raw zone: verbatim API responses with their metadata, in a local folder or an S3 bucket.

The key layout is defined here and only here: ``raw/<source>/<YYYY-MM-DD>/<name>``, where the date is
the data's date (or the ingest date for snapshots). Both stores keep, for every object, the exact bytes
and a `RawMetadata` (source URL, HTTP status, content type, fetch time, sha256, plus free-form extras
such as the requested window or ``synthetic``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

# The metadata's names are the raw zone's too: `from pipeline.rawzone import RawMetadata` stays right.
from pipeline.raw_metadata import RawMetadata as RawMetadata
from pipeline.raw_metadata import RawMetadataError as RawMetadataError
from pipeline.raw_metadata import RawObject as RawObject
from pipeline.raw_metadata import make_metadata as make_metadata
from pipeline.raw_metadata import sha256_hex as sha256_hex

if TYPE_CHECKING:
    from pipeline.settings import Settings

RAW_PREFIX = "raw"
_META_SUFFIX = ".meta.json"


class RawKeyError(ValueError):
    """A key does not follow the raw-zone layout."""


class RawObjectNotFound(KeyError):
    """No object is stored under the key."""


@dataclass(frozen=True)
class RawKey:
    """A parsed raw-zone key: ``raw/<source>/<day>/<name>``."""

    source: str
    day: dt.date
    name: str

    def __str__(self) -> str:
        return raw_key(self.source, self.day, self.name)


def raw_key(source: str, day: dt.date, name: str) -> str:
    """The key of one raw object; the only place that knows the layout."""
    if not source or "/" in source:
        raise RawKeyError(f"invalid source {source!r}")
    if not name or name.startswith(".") or "/" in name or name.endswith(_META_SUFFIX):
        raise RawKeyError(f"invalid object name {name!r}")
    return f"{RAW_PREFIX}/{source}/{day.isoformat()}/{name}"


def source_prefix(source: str, day: dt.date | None = None) -> str:
    """The listing prefix of one source (and optionally one day)."""
    prefix = f"{RAW_PREFIX}/{source}/"
    return prefix + f"{day.isoformat()}/" if day else prefix


def parse_raw_key(key: str) -> RawKey:
    """Split a key into source, day and name; raise `RawKeyError` if it is not a raw-zone key."""
    parts = key.split("/")
    if len(parts) != 4 or parts[0] != RAW_PREFIX or not all(parts):
        raise RawKeyError(f"not a raw-zone key: {key!r}")
    try:
        day = dt.date.fromisoformat(parts[2])
    except ValueError:
        raise RawKeyError(f"not a raw-zone key (bad date): {key!r}") from None
    return RawKey(parts[1], day, parts[3])


def source_of_key(key: str) -> str:
    """The <source> segment of any key under the prefix, even one `parse_raw_key` rejects (the ledger
    files a malformed key under the source it was written for); "unknown" when there is none."""
    parts = key.split("/")
    return parts[1] if len(parts) > 2 and parts[0] == RAW_PREFIX and parts[1] else "unknown"


def write_atomically(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Write `path` through a temporary file beside it and a rename: readers see the old bytes or the
    new ones, never part of them, and a failed write leaves the old file and no temporary behind.

    `mode` sets the new file's permissions (default: those of the file it replaces, else 0o644).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o644
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def fetch_key(key: str, fetched_at: dt.datetime, sha256: str) -> str:
    """The key that keeps a later fetch of `key`'s window beside it: the name with the fetch time (UTC,
    to the microsecond) and the start of the body's sha256 before its extension, e.g.
    ``AAPL_2025-01-31~20250205T120000123456Z-3e22413b.json``: two responses never share one."""
    parsed = parse_raw_key(key)
    stem, dot, extension = parsed.name.rpartition(".")
    stamp = fetched_at.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ") + f"-{sha256[:8]}"
    name = f"{stem}~{stamp}{dot}{extension}" if dot else f"{parsed.name}~{stamp}"
    return raw_key(parsed.source, parsed.day, name)


def keep_fetch(store: RawStore, key: str, body: bytes, metadata: RawMetadata) -> str:
    """Store one fetch of a window without losing an earlier one; return the key that holds its bytes.

    Under `key` when nothing is stored there; nowhere when `key` holds these very bytes already; else
    under `fetch_key` beside it. The raw zone so keeps every distinct response (a re-fetch whose values
    came back null no longer replaces the good one), and the ETL, which merges fetches by rank
    (`etl.precedence`), loads each of them once, in whatever order.
    """
    try:
        stored = store.head(key)
    except RawObjectNotFound:
        store.put(key, body, metadata)
        return key
    except RawMetadataError:
        stored = None  # a damaged object stays for inspection; the new fetch goes beside it
    if stored is not None and stored.sha256 == metadata.sha256:
        return key
    versioned = fetch_key(key, metadata.fetched_at, metadata.sha256)
    store.put(versioned, body, metadata)
    return versioned


class RawStore(Protocol):
    """Put, get, test and list raw objects; implemented by `LocalRawStore` and `S3RawStore`."""

    def put(self, key: str, body: bytes, metadata: RawMetadata) -> None: ...

    def get(self, key: str) -> RawObject: ...

    def read(self, key: str) -> bytes:
        """The bytes of an object, for a reader that has its metadata already (`head`)."""
        ...

    def head(self, key: str) -> RawMetadata: ...

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str = RAW_PREFIX + "/") -> Iterator[str]: ...

    def list_versions(
        self, prefix: str = RAW_PREFIX + "/", start_after: str | None = None
    ) -> Iterator[tuple[str, str | None]]:
        """Keys under `prefix` (and after `start_after`, in key order), each with a token that changes
        whenever the object is rewritten with other bytes: S3's ETag, or the local body file's
        identity and modification time (`local_version`), which changes on every rewrite, even with
        the same bytes. None means the store had no token for the object. Keys sort by date within a
        source, so `start_after` lists recent partitions without paging through older ones."""
        ...

    def describe(self) -> str: ...


def _check_put(key: str, body: bytes, metadata: RawMetadata) -> None:
    parse_raw_key(key)
    if metadata.sha256 != sha256_hex(body):
        raise ValueError(f"metadata sha256 does not match the body of {key}")


class LocalRawStore:
    """The raw zone as a folder: ``<root>/raw/<source>/<day>/<name>`` plus a ``.meta.json`` sidecar.

    Writes are atomic (temporary file, then rename): the sidecar first, then the body, so an object
    exists exactly when its body file does and always has its metadata.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / key

    def describe(self) -> str:
        return str(self.root / RAW_PREFIX)

    def put(self, key: str, body: bytes, metadata: RawMetadata) -> None:
        _check_put(key, body, metadata)
        path = self._path(key)
        write_atomically(path.with_name(path.name + _META_SUFFIX), json.dumps(metadata.to_strings()).encode())
        write_atomically(path, body)

    def get(self, key: str) -> RawObject:
        return RawObject(key, self.read(key), self._read_metadata(key))

    def read(self, key: str) -> bytes:
        # The body file alone: the ETL's scan read the sidecar already (15 ms of a daily run's 500).
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise RawObjectNotFound(key) from None

    def head(self, key: str) -> RawMetadata:
        return self._read_metadata(key)

    def _read_metadata(self, key: str) -> RawMetadata:
        path = self._path(key)
        try:
            text = path.with_name(path.name + _META_SUFFIX).read_bytes()
        except FileNotFoundError:
            # The sidecar is written before the body: a body without one was damaged, not half-written.
            if path.is_file():
                raise RawMetadataError("no metadata sidecar beside the body") from None
            raise RawObjectNotFound(key) from None
        try:
            flat = json.loads(text)
        except ValueError as error:
            raise RawMetadataError(f"the metadata sidecar is not JSON ({error})") from None
        if not isinstance(flat, dict):
            raise RawMetadataError("the metadata sidecar is not a JSON object")
        return RawMetadata.from_strings(flat)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str = RAW_PREFIX + "/") -> Iterator[str]:
        """Keys under `prefix`, in sorted order."""
        for key, _ in self._walk(prefix):
            yield key

    def list_versions(
        self, prefix: str = RAW_PREFIX + "/", start_after: str | None = None
    ) -> Iterator[tuple[str, str | None]]:
        # The token is a stat of the body file, which the directory scan has at hand: an unchanged
        # object needs no sidecar read, as an S3 object listed with its recorded ETag needs no HEAD.
        for key, entry in self._walk(prefix):
            if start_after is not None and key <= start_after:
                continue
            try:
                yield key, local_version(entry.stat())
            except FileNotFoundError:
                continue  # removed since the scan: no longer listed

    def _walk(self, prefix: str) -> Iterator[tuple[str, os.DirEntry[str]]]:
        """Every body file under `prefix` (sidecars and temporary files left out), in key order."""
        base = self.root / RAW_PREFIX
        if not base.is_dir():
            return
        yield from self._walk_directory(base, RAW_PREFIX, prefix)

    def _walk_directory(
        self, directory: Path, relative: str, prefix: str
    ) -> Iterator[tuple[str, os.DirEntry[str]]]:
        try:
            with os.scandir(directory) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
        except FileNotFoundError:
            return
        for entry in entries:
            key = f"{relative}/{entry.name}"
            if entry.is_dir():
                # Only directories on the way to `prefix` or inside it are worth entering.
                if (key + "/").startswith(prefix) or prefix.startswith(key + "/"):
                    yield from self._walk_directory(Path(entry.path), key, prefix)
            elif (
                not entry.name.endswith(_META_SUFFIX)
                and not entry.name.startswith(".")
                and key.startswith(prefix)
            ):
                yield key, entry


def local_version(stat: os.stat_result) -> str:
    """The listing token of a local body file: inode, size and modification time (nanoseconds).

    Every write is a new file renamed into place (`write_atomically`), so a rewrite changes the inode
    even when the bytes and the size stay; a changed token only says "look again", as a new ETag does.
    """
    return f"{stat.st_ino:x}-{stat.st_size:x}-{stat.st_mtime_ns:x}"


class S3RawStore:
    """The raw zone as an S3 bucket; metadata travels as the object's user metadata."""

    def __init__(self, bucket: str, client: Any = None) -> None:
        import boto3

        self.bucket = bucket
        self.client = client or boto3.client("s3")

    def describe(self) -> str:
        return f"s3://{self.bucket}/{RAW_PREFIX}"

    def put(self, key: str, body: bytes, metadata: RawMetadata) -> None:
        _check_put(key, body, metadata)
        flat = metadata.to_strings()
        self.client.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=body,
            ContentType=metadata.content_type or "application/octet-stream",
            Metadata={name.replace("_", "-"): _ascii(value) for name, value in flat.items()},
        )

    def _not_found(self, error: Exception) -> bool:
        code = getattr(error, "response", {}).get("Error", {}).get("Code")
        return code in {"404", "NoSuchKey", "NotFound"}

    def get(self, key: str) -> RawObject:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except Exception as error:
            if self._not_found(error):
                raise RawObjectNotFound(key) from None
            raise
        return RawObject(key, response["Body"].read(), self._metadata(response["Metadata"]))

    def read(self, key: str) -> bytes:
        return self.get(key).body

    def head(self, key: str) -> RawMetadata:
        try:
            response = self.client.head_object(Bucket=self.bucket, Key=key)
        except Exception as error:
            if self._not_found(error):
                raise RawObjectNotFound(key) from None
            raise
        return self._metadata(response["Metadata"])

    @staticmethod
    def _metadata(user_metadata: Mapping[str, str]) -> RawMetadata:
        return RawMetadata.from_strings(
            {name.replace("-", "_"): value for name, value in user_metadata.items()}
        )

    def exists(self, key: str) -> bool:
        try:
            self.head(key)
        except RawObjectNotFound:
            return False
        return True

    def list(self, prefix: str = RAW_PREFIX + "/") -> Iterator[str]:
        return (key for key, _ in self.list_versions(prefix))

    def list_versions(
        self, prefix: str = RAW_PREFIX + "/", start_after: str | None = None
    ) -> Iterator[tuple[str, str | None]]:
        paginator = self.client.get_paginator("list_objects_v2")
        after = {"StartAfter": start_after} if start_after else {}
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix, **after):
            for item in page.get("Contents", []):
                yield item["Key"], item.get("ETag")


def _ascii(value: str) -> str:
    # S3 user metadata must be ASCII; URLs are percent-encoded already, so this only guards extras.
    return value.encode("ascii", "backslashreplace").decode("ascii")


def open_raw_store(settings: Settings) -> RawStore:
    """The raw zone the settings point at: the S3 bucket when RAW_BUCKET is set, else the local folder."""
    if not settings.raw_bucket:
        return LocalRawStore(settings.pipeline_home)
    return S3RawStore(settings.raw_bucket)
