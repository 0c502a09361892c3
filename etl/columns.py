"""Rows as columns: the ETL's own small frame, a mapping of column name to numpy array of one length.

The parsers, validators, transform and loader pass rows this way, so that an ETL run imports numpy and
never pandas: importing pandas (and pyarrow with it) took 0.2-0.3 s of every run that had something to
load, about a third of a daily run. A text column with few distinct values (a ticker on each of a
million rows) can be `Coded`: each row's number among the distinct values, which is what the binary COPY
encoder wants anyway.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Columns = dict[str, Any]


@dataclass(frozen=True)
class Coded:
    """A text column as `codes`, each row's position in `values` (-1 for a missing value)."""

    codes: np.ndarray
    values: Sequence[str]

    def __len__(self) -> int:
        return len(self.codes)

    def decoded(self) -> np.ndarray:
        """The column as an object array of its values (None where missing)."""
        table = object_array([*self.values, None])
        return table[self.codes]


def decoded(columns: Mapping[str, Any]) -> Columns:
    """`columns` with every `Coded` column as the plain array of its values."""
    return {
        name: values.decoded() if isinstance(values, Coded) else values for name, values in columns.items()
    }


def object_array(values: Iterable[Any]) -> np.ndarray:
    """A one-dimensional object array of `values`, whatever they are (lists and dicts stay whole)."""
    items = list(values)
    return np.fromiter(items, dtype=object, count=len(items))


def row_count(columns: Mapping[str, Any]) -> int:
    """The number of rows of `columns` (0 for no columns)."""
    return len(next(iter(columns.values()))) if columns else 0


def concatenated(parts: Sequence[Mapping[str, np.ndarray]]) -> Columns:
    """The rows of `parts` one after the other (every part has the same columns)."""
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


def taken(columns: Mapping[str, np.ndarray], rows: np.ndarray) -> Columns:
    """The rows at positions `rows`, in that order."""
    return {name: values[rows] for name, values in columns.items()}


def last_per_key(keys: Sequence[np.ndarray], rows: np.ndarray | None = None) -> np.ndarray:
    """Of the positions `rows` (default: every row), the last of each distinct key, in key order.

    `keys` are the key's columns, the most significant first: rows sorted by key, then by position,
    the last row of each run of one key is the one that came last.
    """
    rows = np.arange(len(keys[0])) if rows is None else rows
    ordered = rows[np.lexsort([rows, *(key[rows] for key in reversed(keys))])]
    last = np.ones(len(ordered), dtype=bool)
    last[:-1] = np.any([key[ordered][1:] != key[ordered][:-1] for key in keys], axis=0)
    return ordered[last]


def is_missing(value: Any) -> bool:
    """Whether one value is missing: None, or NaN (NaN is the one value not equal to itself)."""
    return value is None or value != value


def sort_codes(values: np.ndarray) -> np.ndarray:
    """Each value's rank among the distinct values of `values` (numbers, dates or strings): what
    `np.lexsort` can order rows by, where it cannot compare an object array's strings itself."""
    if values.dtype != object:
        return np.unique(values, return_inverse=True)[1].ravel()
    rank = {value: number for number, value in enumerate(sorted(set(values.tolist())))}
    return np.fromiter(map(rank.__getitem__, values.tolist()), dtype=np.int64, count=len(values))


def missing(values: np.ndarray) -> np.ndarray:
    """Where `values` are missing: NaN, NaT or None."""
    if values.dtype.kind == "f":
        return np.isnan(values)
    if values.dtype.kind == "M":
        return np.isnat(values)
    if values.dtype == object:
        return np.fromiter(map(is_missing, values.tolist()), bool, len(values))
    return np.zeros(len(values), dtype=bool)
