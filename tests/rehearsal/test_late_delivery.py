"""The emulator's late log delivery (moto_workarounds.late_delivery) goes through the bucket's policy:
refused once the teardown has denied writes, written (and so a bucket left behind) before."""

from __future__ import annotations

import boto3
from moto import mock_aws
from moto.s3.models import s3_backends

from ops import teardown
from tests.rehearsal.moto_workarounds import LATE_DELIVERY_KEY, late_delivery

ACCOUNT = "123456789012"


@mock_aws
def test_a_late_delivery_lands_unless_the_teardown_denied_writes_first() -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="log-bucket")
    backend = s3_backends[ACCOUNT]["aws"]

    def deliver() -> str:
        return late_delivery(
            backend.buckets["log-bucket"],
            lambda: backend.put_object("log-bucket", LATE_DELIVERY_KEY, b"late access log\n"),
        )

    # Emptied, but writes not denied: the delivery lands and the bucket cannot be deleted.
    assert teardown.empty_until_empty(s3, "log-bucket") == (0, 0)
    assert deliver() == f"written s3://log-bucket/{LATE_DELIVERY_KEY}"
    assert s3.list_objects_v2(Bucket="log-bucket")["KeyCount"] == 1
    # The teardown's order: deny, then empty; the late delivery is refused.
    teardown.deny_writes(s3, "log-bucket")
    assert teardown.empty_until_empty(s3, "log-bucket") == (1, 0)
    assert deliver() == f"refused s3://log-bucket/{LATE_DELIVERY_KEY}"
    assert s3.list_objects_v2(Bucket="log-bucket")["KeyCount"] == 0
