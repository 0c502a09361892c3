"""A raw object's metadata: what is known of a stored response besides its bytes (source URL, HTTP
status, content type, fetch time, the sha256 of the bytes, free-form extras), and its flat string
form (S3 user metadata, the local folder's JSON sidecar). `pipeline.rawzone` stores it with the bytes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field


class RawMetadataError(ValueError):
    """An object's metadata is missing or unreadable while its body is there (a damaged sidecar, an
    object uploaded without the pipeline's metadata): that object cannot be trusted, the others can."""


def sha256_hex(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


@dataclass(frozen=True)
class RawMetadata:
    """What we know about a stored response besides its bytes."""

    source_url: str
    http_status: int
    content_type: str
    fetched_at: dt.datetime
    sha256: str
    extra: Mapping[str, str] = field(default_factory=dict)

    def to_strings(self) -> dict[str, str]:
        """Flat string form (S3 user metadata, JSON sidecar)."""
        flat = {
            "source_url": self.source_url,
            "http_status": str(self.http_status),
            "content_type": self.content_type,
            "fetched_at": self.fetched_at.astimezone(dt.UTC).isoformat(),
            "sha256": self.sha256,
        }
        flat.update({f"x_{name}": str(value) for name, value in self.extra.items()})
        return flat

    @classmethod
    def from_strings(cls, flat: Mapping[str, str]) -> RawMetadata:
        """The metadata of its flat form; `RawMetadataError` names what is missing or malformed."""
        try:
            return cls._from_strings(flat)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise RawMetadataError(f"unreadable metadata ({type(error).__name__}: {error})") from None

    @classmethod
    def _from_strings(cls, flat: Mapping[str, str]) -> RawMetadata:
        return cls(
            source_url=flat["source_url"],
            http_status=int(flat["http_status"]),
            content_type=flat["content_type"],
            fetched_at=dt.datetime.fromisoformat(flat["fetched_at"]),
            sha256=flat["sha256"],
            extra={name[2:]: value for name, value in flat.items() if name.startswith("x_")},
        )


@dataclass(frozen=True)
class RawObject:
    key: str
    body: bytes
    metadata: RawMetadata


def make_metadata(
    body: bytes,
    *,
    source_url: str,
    http_status: int,
    content_type: str,
    fetched_at: dt.datetime | None = None,
    extra: Mapping[str, object] | None = None,
) -> RawMetadata:
    """Metadata for `body`, with its sha256 computed here so it always matches the bytes."""
    return RawMetadata(
        source_url=source_url,
        http_status=http_status,
        content_type=content_type,
        fetched_at=fetched_at or dt.datetime.now(dt.UTC),
        sha256=sha256_hex(body),
        extra={name: str(value) for name, value in (extra or {}).items()},
    )
