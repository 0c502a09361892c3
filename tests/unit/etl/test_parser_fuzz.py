"""Every body either loads or is quarantined with a reason: the transform never raises on any bytes.

Bodies are generated from each source's real format (the recorded responses under tests/fixtures/api)
by mutation: cut anywhere, bytes flipped, inserted or dropped, values of the JSON document replaced by
any JSON value, and whole documents generated from scratch.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from etl.columns import row_count
from etl.load import stored_bars
from etl.schema import STOCK_DAILY, TABLES
from etl.transform import InstrumentBatch, ObjectInput, transform_instruments, transform_object
from pipeline.rawzone import sha256_hex
from tests.support.examples import examples

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "api"
FETCHED = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
SEEDS = {
    "open_meteo": (FIXTURES / "open_meteo" / "archive_two_locations.json").read_bytes(),
    "gdelt": (FIXTURES / "gdelt" / "timeline_day.json").read_bytes(),
    "gdelt_tone": (FIXTURES / "gdelt" / "tone_15min.json").read_bytes(),
    "fred": (FIXTURES / "fred" / "VIXCLS.csv").read_bytes(),
    "yahoo": (FIXTURES / "yahoo" / "chart_aapl.json").read_bytes(),
}
EXTRAS = {
    "open_meteo": {"endpoint": "archive", "locations": "AL,AK"},
    "gdelt": {"topic": "depression"},
    "gdelt_tone": {"topic": "depression", "mode": "timelinetone"},
    "fred": {"series_id": "VIXCLS"},
    "yahoo": {"symbol": "AAPL"},
}
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def mutated(draw, source: str) -> bytes:
    """A body of `source`'s real format, changed in one of several ways."""
    body = SEEDS[source]
    how = draw(st.sampled_from(["cut", "flip", "insert", "drop", "replace_value", "generated", "same"]))
    if how == "cut":
        return body[: draw(st.integers(0, len(body)))]
    if how in ("flip", "insert", "drop"):
        at = draw(st.integers(0, len(body) - 1))
        byte = draw(st.binary(min_size=1, max_size=1))
        if how == "flip":
            return body[:at] + byte + body[at + 1 :]
        if how == "insert":
            return body[:at] + draw(st.binary(max_size=8)) + body[at:]
        return body[:at] + body[at + draw(st.integers(1, 16)) :]
    if how == "replace_value" and source != "fred":
        document = json.loads(body)
        paths = list(_paths(document))
        path = draw(st.sampled_from(paths))
        document = _replaced(document, path, draw(json_values))
        return json.dumps(document).encode()
    if how == "generated":
        return json.dumps(draw(json_values)).encode()
    return body


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node[:4]):
            yield from _paths(value, (*prefix, index))


def _replaced(node, path, value):
    if not path:
        return value
    head, *rest = path
    copy = dict(node) if isinstance(node, dict) else list(node)
    copy[head] = _replaced(node[head], tuple(rest), value)
    return copy


def object_input(source: str, body: bytes) -> ObjectInput:
    """An object of `source` (``gdelt_tone``: a GDELT object of the tone mode) holding `body`."""
    extra = {"window_start": "2024-01-02", "window_end": "2024-01-05", **EXTRAS[source]}
    source = source.removesuffix("_tone")
    return ObjectInput(f"raw/{source}/2024-01-02/fuzzed", source, extra, FETCHED, body)


@settings(max_examples=examples(150), deadline=None)
@given(
    st.sampled_from(["open_meteo", "gdelt", "gdelt_tone", "fred"]).flatmap(
        lambda source: st.tuples(st.just(source), mutated(source))
    )
)
def test_any_object_body_loads_or_is_quarantined(case):
    source, body = case
    result = transform_object(object_input(source, body))
    (outcome,) = result.outcomes
    if outcome.error:
        assert result.table is None and outcome.rows == 0 and outcome.error.strip()
        # A rule refused it (the transform's catch-all for errors no rule foresaw is a safety net only).
        assert "\n" not in outcome.error and not outcome.error.startswith("unexpected ")
    else:
        assert result.table in TABLES and outcome.rows == len(next(iter(result.columns.values())))


def test_the_unchanged_tone_loads():
    result = transform_object(object_input("gdelt_tone", SEEDS["gdelt_tone"]))
    assert result.outcomes[0].error is None and result.outcomes[0].rows == 2


@settings(max_examples=examples(40), deadline=None)
@given(st.text(max_size=20), st.sampled_from(["gdelt", "gdelt_tone"]))
def test_any_gdelt_mode_loads_its_own_body_or_is_quarantined(mode, source):
    # Whatever the metadata says the mode is, the object loads (a known mode, its own series) or is refused
    item = object_input(source, SEEDS[source])
    item = replace(item, extra={**item.extra, "mode": mode})
    (outcome,) = transform_object(item).outcomes
    expected_mode = "timelinetone" if source == "gdelt_tone" else "timelinevolraw"
    assert (outcome.error is None) == (mode.strip() == expected_mode)
    assert outcome.error is None or not outcome.error.startswith("unexpected ")


def chart_batch(item: ObjectInput) -> InstrumentBatch:
    """The batch of one chart object for AAPL, with no stored bars."""
    return InstrumentBatch(
        STOCK_DAILY,
        ["AAPL"],
        [[item]],
        [dt.date(2024, 1, 2)],
        stored_bars(None, STOCK_DAILY, {}),
    )


def test_the_unchanged_chart_loads():
    # The seed itself is good data: the mutations below start from something that loads.
    result = transform_instruments(chart_batch(object_input("yahoo", SEEDS["yahoo"])))
    # (four bars, one of them with a null close: not loaded)
    assert result.outcomes[0].error is None and result.outcomes[0].rows == 3


@settings(max_examples=examples(150), deadline=None)
@given(mutated("yahoo"))
def test_any_chart_body_loads_or_is_quarantined(body):
    result = transform_instruments(chart_batch(object_input("yahoo", body)))
    (outcome,) = result.outcomes
    if outcome.error:
        assert outcome.rows == 0 and outcome.error.strip() and "\n" not in outcome.error
        assert not outcome.error.startswith("unexpected ")
    else:
        assert result.columns is not None and row_count(result.columns) == outcome.rows


@settings(max_examples=examples(60), deadline=None)
@given(st.sampled_from(sorted(SEEDS)), st.data())
def test_a_body_changed_after_it_was_stored_is_quarantined(source, data):
    # Given a body whose metadata recorded the sha256 of other bytes (cut or changed on disk),
    original = SEEDS[source]
    body = data.draw(mutated(source).filter(lambda candidate: candidate != original))
    item = replace(object_input(source, body), metadata_sha256=sha256_hex(original))
    result = transform_instruments(chart_batch(item)) if source == "yahoo" else transform_object(item)
    # then it is quarantined, saying so, whatever the bytes.
    (outcome,) = result.outcomes
    assert outcome.error and "does not match its metadata" in outcome.error
