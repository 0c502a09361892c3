"""How many generated examples the property tests try: a few in `make test`, many in `make test-deep`."""

from __future__ import annotations

import os

# `make test-deep` sets PIPELINE_TEST_DEPTH=deep: every property test tries ten times as many examples.
DEEP = os.environ.get("PIPELINE_TEST_DEPTH", "").strip().lower() == "deep"


def examples(count: int) -> int:
    """`count` examples, or ten times as many in a deep run."""
    return count * 10 if DEEP else count
