"""The JSON decoders side by side on the benchmark's Yahoo objects: the standard library, orjson (what
`etl.parse` uses) and msgspec, in MB/s of bodies decoded, and whether they give the same values."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import msgspec
import orjson

from pipeline.rawzone import LocalRawStore

OBJECTS = 200
ROUNDS = 3


def _best_seconds(decode: Callable[[bytes], object], bodies: list[bytes]) -> tuple[float, list[object]]:
    best, documents = float("inf"), []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        documents = [decode(body) for body in bodies]
        best = min(best, time.perf_counter() - started)
    return best, documents


def main(home: Path) -> None:
    """Decode up to `OBJECTS` Yahoo objects of the raw zone under `home`; print the figures."""
    store = LocalRawStore(home)
    keys = [key for key in store.list("raw/yahoo/")][:OBJECTS]
    bodies = [store.get(key).body for key in keys]
    megabytes = sum(map(len, bodies)) / 1e6
    print(f"== JSON decoding: {len(bodies)} Yahoo objects, {megabytes:.1f} MB")
    decoders: dict[str, Callable[[bytes], object]] = {
        "json (stdlib)": json.loads,
        "orjson": orjson.loads,
        "msgspec": msgspec.json.Decoder().decode,
    }
    reference: list[object] = []
    for name, decode in decoders.items():
        seconds, documents = _best_seconds(decode, bodies)
        reference = reference or documents
        same = "same values" if documents == reference else "DIFFERENT values"
        print(f"{name:<14} {megabytes / seconds:>8.1f} MB/s ({same})")
