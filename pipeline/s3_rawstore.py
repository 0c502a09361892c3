"""The raw zone as an S3 bucket (`pipeline.rawzone` defines the keys, the metadata and the store's protocol)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pipeline.rawzone import RAW_PREFIX, RawMetadata, RawObject, RawObjectNotFound, check_put


class S3RawStore:
    """The raw zone as an S3 bucket; metadata travels as the object's user metadata."""

    def __init__(self, bucket: str, client: Any = None) -> None:
        import boto3

        self.bucket = bucket
        self.client = client or boto3.client("s3")

    def describe(self) -> str:
        return f"s3://{self.bucket}/{RAW_PREFIX}"

    def put(self, key: str, body: bytes, metadata: RawMetadata) -> None:
        check_put(key, body, metadata)
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
