"""Merging fetches by rank (`etl.precedence`): the newest fetch wins, a missing value never does, and the
outcome of any split into runs, in any order, is that of one merge of everything."""

from __future__ import annotations

import datetime as dt
import itertools
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from etl.precedence import (
    OPEN_METEO_ARCHIVE_PRECEDENCE,
    fetch_rank,
    merge_newest,
    source_precedence,
    stored_value_ranks,
)
from tests.support.examples import examples

COLUMNS = ("a", "b")
# A fetch: (rank, key, value of a, value of b); values None are missing (null in the response).
fetch = st.tuples(
    st.integers(0, 5),
    st.sampled_from(["x", "y"]),
    st.one_of(st.none(), st.sampled_from([1.0, 2.0, 3.0])),
    st.one_of(st.none(), st.sampled_from([10.0, 20.0])),
)


def merged(fetches, stored=None):
    """Merge `fetches` over `stored` (a previous merge's rows) the way the loader does."""
    keys, values, ranks, row_rank = [], {name: [] for name in COLUMNS}, {name: [] for name in COLUMNS}, []
    if stored:
        column_ranks = stored_value_ranks(
            np.array(stored["fetch_rank"], dtype=np.int64),
            np.array(stored["value_ranks"], dtype=object),
            COLUMNS,
        )
        keys += stored["key"]
        row_rank += stored["fetch_rank"]
        for name in COLUMNS:
            values[name] += stored[name]
            ranks[name] += column_ranks[name].tolist()
    for rank, key, *row in fetches:
        keys.append(key)
        row_rank.append(rank)
        for name, value in zip(COLUMNS, row, strict=True):
            values[name].append(math.nan if value is None else value)
            ranks[name].append(rank)
    firsts, result, merged_rank, value_ranks = merge_newest(
        [np.array(keys, dtype=object)],
        {name: np.array(column, dtype=float) for name, column in values.items()},
        {name: np.array(column, dtype=np.int64) for name, column in ranks.items()},
        np.array(row_rank, dtype=np.int64),
    )
    return {
        "key": np.array(keys, dtype=object)[firsts].tolist(),
        **{name: result[name].tolist() for name in COLUMNS},
        "fetch_rank": merged_rank.tolist(),
        "value_ranks": value_ranks.tolist(),
    }


def definition(fetches):
    """Of each key and column, the present value of the best (rank, value); NaN when none has one."""
    rows = {}
    for key in sorted({key for _, key, *_ in fetches}):
        mine = [item for item in fetches if item[1] == key]
        row = {"key": key, "fetch_rank": max(rank for rank, *_ in mine)}
        for position, name in enumerate(COLUMNS, start=2):
            present = [(item[0], item[position]) for item in mine if item[position] is not None]
            row[name] = max(present)[1] if present else math.nan
        rows[key] = row
    return rows


def comparable(result):
    return [
        (key, *(None if math.isnan(result[name][index]) else result[name][index] for name in COLUMNS), rank)
        for index, (key, rank) in enumerate(zip(result["key"], result["fetch_rank"], strict=True))
    ]


@settings(max_examples=examples(150), deadline=None)
@given(st.lists(fetch, max_size=12), st.randoms(use_true_random=False))
def test_the_merge_is_the_definition_in_any_order(fetches, random):
    shuffled = list(fetches)
    random.shuffle(shuffled)
    expected = definition(fetches)
    result = merged(shuffled)
    assert comparable(result) == [
        (key, *(None if math.isnan(row[name]) else row[name] for name in COLUMNS), row["fetch_rank"])
        for key, row in expected.items()
    ]


@settings(max_examples=examples(150), deadline=None)
@given(
    st.lists(fetch, max_size=12), st.lists(st.integers(0, 12), max_size=4), st.randoms(use_true_random=False)
)
def test_runs_in_any_split_and_order_equal_one_merge_of_everything(fetches, cuts, random):
    # Given the fetches loaded run after run (each run merged over what the runs before stored), in a
    # shuffled order and cut anywhere,
    shuffled = list(fetches)
    random.shuffle(shuffled)
    bounds = sorted({0, len(shuffled), *(min(cut, len(shuffled)) for cut in cuts)})
    stored = None
    for start, end in itertools.pairwise(bounds):
        stored = merged(shuffled[start:end], stored)
    # then the stored rows are those of one merge of every fetch (`--full`), ranks included.
    whole = merged(fetches)
    if stored is None:
        assert whole["key"] == []
        return
    assert comparable(stored) == comparable(whole)
    assert stored["value_ranks"] == whole["value_ranks"]


def test_a_null_refetch_keeps_the_stored_values_and_takes_the_rank():
    stored = merged([(1, "x", 2.0, 20.0)])
    after = merged([(5, "x", None, None)], stored)
    assert (after["a"], after["b"], after["fetch_rank"]) == ([2.0], [20.0], [5])
    assert after["value_ranks"] == ['{"a":1,"b":1}']
    # A fetch older than the row's rank but newer than its kept values fills what it has.
    later = merged([(3, "x", 3.0, None)], after)
    assert (later["a"], later["b"], later["fetch_rank"]) == ([3.0], [20.0], [5])


def test_ranks_order_precedence_before_time():
    newer = dt.datetime(2025, 6, 2, tzinfo=dt.UTC)
    older = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    archive = source_precedence("open_meteo", {"endpoint": "archive"})
    assert archive == OPEN_METEO_ARCHIVE_PRECEDENCE
    assert source_precedence("open_meteo", {"endpoint": "forecast"}) == 0
    assert fetch_rank(older, archive) > fetch_rank(newer, 0)
    assert fetch_rank(newer) > fetch_rank(older)
    assert fetch_rank(newer.replace(tzinfo=None)) == fetch_rank(newer)
