"""Which fetch wins: every fact carries the rank of the response it came from, and values merge by rank.

The invariants (docs/internals.md, "Invariants of the data path"):

- The newest fetch of a fact wins, whatever order the objects arrive or load in. A fetch's rank is its
  source's precedence (Open-Meteo's archive over its forecast for the same day), then its `fetched_at`;
  two fetches of equal rank are settled by their values (the greater wins), so the outcome never depends
  on the order they were read in.
- A missing value (null, NaN) never wins: each value column takes the value of the best-ranked fetch
  that has one. A re-fetch whose arrays are null leaves the stored values as they were.

Merging by these rules is taking a maximum, column by column: commutative, associative and idempotent.
So loading objects one run at a time, in any order, any number of times, gives what one `--full` load
of them all gives, row for row. To merge a new fetch into a stored row exactly, the row keeps the rank
of each value: `fetch_rank` (the best rank among the fetches that had the row) and `value_ranks` (JSON
`{column: rank}`, only for the values that came from a fetch of another rank; NULL when none did).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence

import numpy as np

from etl.columns import missing, object_array, sort_codes

FETCH_RANK = "fetch_rank"
VALUE_RANKS = "value_ranks"
# A rank is the precedence times 2**53 plus the fetch time in microseconds since 1970 (which stays
# below 2**53 until the year 2255): one int8, ordered as (precedence, fetched_at).
PRECEDENCE_UNIT = 2**53
# Open-Meteo's archive (reanalysis, final) outranks its forecast endpoint's value for the same day.
OPEN_METEO_ARCHIVE_PRECEDENCE = 1
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def fetch_rank(fetched_at: dt.datetime, precedence: int = 0) -> int:
    """The rank of a response fetched at `fetched_at` from a source of `precedence`."""
    if fetched_at.tzinfo is None:
        fetched_at = fetched_at.replace(tzinfo=dt.UTC)
    micros = (fetched_at - _EPOCH) // dt.timedelta(microseconds=1)
    return precedence * PRECEDENCE_UNIT + max(0, micros)


def source_precedence(source: str, extra: Mapping[str, str]) -> int:
    """The precedence of an object's response: 1 for Open-Meteo's archive endpoint, else 0."""
    if source == "open_meteo" and extra.get("endpoint", "").strip() == "archive":
        return OPEN_METEO_ARCHIVE_PRECEDENCE
    return 0


def stored_value_ranks(
    row_rank: np.ndarray, value_ranks: np.ndarray, columns: Sequence[str]
) -> dict[str, np.ndarray]:
    """Each value column's rank of stored rows: its entry in the row's `value_ranks`, else the row's rank.

    `value_ranks` holds, per row, None or a JSON text / dict of {column: rank}."""
    ranks = {name: np.array(row_rank, dtype=np.int64) for name in columns}
    for row in np.flatnonzero(~missing(value_ranks)).tolist():
        entry = value_ranks[row]
        for name, rank in (json.loads(entry) if isinstance(entry, str) else entry).items():
            if name in ranks:
                ranks[name][row] = int(rank)
    return ranks


def merge_newest(
    keys: Sequence[np.ndarray],
    values: Mapping[str, np.ndarray],
    ranks: Mapping[str, np.ndarray],
    row_rank: np.ndarray,
) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Merge rows that share a key: of each value column, the present value of the best rank.

    `keys` are the key columns (most significant first), `values` the value columns, `ranks` each value
    column's rank per row, `row_rank` each row's own rank. Returns, one entry per distinct key in key
    order: a row holding that key (index into the input), the merged values, the merged `fetch_rank`
    and `value_ranks` (None where every present value has the row's rank).
    """
    count = len(row_rank)
    codes = [
        sort_codes(np.asarray(key)) if np.asarray(key).dtype == object else np.asarray(key) for key in keys
    ]
    order = np.lexsort(list(reversed(codes))) if count else np.array([], dtype=np.int64)
    starts = np.ones(count, dtype=bool)
    if count:
        starts[1:] = np.any([code[order][1:] != code[order][:-1] for code in codes], axis=0)
    group_sorted = np.cumsum(starts) - 1
    group = np.empty(count, dtype=np.int64)
    group[order] = group_sorted
    groups = int(group_sorted[-1]) + 1 if count else 0
    firsts = order[starts]
    merged_rank = np.full(groups, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(merged_rank, group, np.asarray(row_rank, dtype=np.int64))
    merged: dict[str, np.ndarray] = {}
    chosen_ranks: dict[str, np.ndarray] = {}
    for name, column in values.items():
        present = ~missing(column)
        rank = np.asarray(ranks[name], dtype=np.int64)
        if groups == count:  # every key once: nothing to choose
            merged[name], chosen_ranks[name] = (
                column[firsts],
                np.where(present, rank, merged_rank[group])[firsts],
            )
            continue
        tie = np.where(present, column, -np.inf) if column.dtype.kind == "f" else column
        ranked = np.lexsort([tie, np.where(present, rank, np.iinfo(np.int64).min), present, group])
        ends = np.flatnonzero(np.append(group[ranked][1:] != group[ranked][:-1], True))
        best = ranked[ends]
        merged[name] = column[best]
        chosen_ranks[name] = np.where(present[best], rank[best], merged_rank)
    return firsts, merged, merged_rank, _value_ranks(merged, chosen_ranks, merged_rank)


def _value_ranks(
    merged: Mapping[str, np.ndarray], chosen: Mapping[str, np.ndarray], row_rank: np.ndarray
) -> np.ndarray:
    """Per merged row, None or the JSON text of the present values whose rank is not the row's."""
    result = np.full(len(row_rank), None, dtype=object)
    if not merged:
        return result
    differs = np.zeros(len(row_rank), dtype=bool)
    for name, rank in chosen.items():
        differs |= (rank != row_rank) & ~missing(merged[name])
    for row in np.flatnonzero(differs).tolist():
        entry = {
            name: int(rank[row])
            for name, rank in chosen.items()
            if rank[row] != row_rank[row] and not missing(merged[name][row : row + 1])[0]
        }
        result[row] = json.dumps(entry, sort_keys=True, separators=(",", ":"))
    return result


def no_value_ranks(rows: int) -> np.ndarray:
    """`value_ranks` for rows whose values all come from the row's own fetch."""
    return object_array([None] * rows)
