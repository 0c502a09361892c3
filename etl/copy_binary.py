"""PostgreSQL binary COPY payloads built with numpy, a whole set of rows (`etl.columns`) at a time.

Formatting a million rows one `write_row` at a time costs seconds of the loader's CPU; here the worker
processes build the bytes instead, and the loader only forwards them. A binary tuple is a field count,
then per field its length (-1 for NULL) and big-endian value; rows that share the same NULLs and text
lengths share one fixed layout, so each such group is one numpy structured array.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from etl.columns import Coded, is_missing, row_count

POSTGRES_EPOCH = np.datetime64("2000-01-01", "D")
_FIXED_TYPES = {"date": ">i4", "float8": ">f8", "int8": ">i8", "int2": ">i2"}
#: The column types `encode_tuples` handles.
ENCODABLE_TYPES = frozenset({"text", "jsonb", *_FIXED_TYPES})
# Types sent as bytes of a variable length: text as UTF-8; jsonb as its format version (1), then its text.
_VARIABLE_PREFIX = {"text": b"", "jsonb": b"\x01"}
# Rows go out in their given order unless that takes more than this many runs of one layout, and fewer rows
# per run than this on average.
ORDERED_RUNS_MIN = 1024
ROWS_PER_RUN_MIN = 32


class _Text:
    """A text column as codes into its distinct values, encoded."""

    def __init__(self, codes: np.ndarray, encoded: np.ndarray) -> None:
        self.codes = codes
        self.encoded = encoded

    def fixed(self, rows: np.ndarray, length: int) -> np.ndarray:
        """The values of `rows`, all `length` bytes long, as a fixed-width bytes array."""
        return np.array(self.encoded.tolist(), dtype=f"S{max(length, 1)}")[self.codes[rows]]


def _prepared(values: Any, pg_type: str) -> tuple[np.ndarray | _Text, np.ndarray, np.ndarray | None]:
    """The column's values in their wire dtype, its NULL mask, and for text each value's byte length.

    A text column holds few distinct values (a ticker per row of a million): each is encoded once, and
    the column becomes the codes of its values among them (`_Text`); a `Coded` column already is.
    """
    if pg_type in _VARIABLE_PREFIX:
        coded = values if isinstance(values, Coded) else _coded(np.asarray(values, dtype=object))
        # Code -1 (a missing value) picks the empty string appended last.
        prefix = _VARIABLE_PREFIX[pg_type]
        encoded = np.array([*(prefix + str(value).encode() for value in coded.values), b""], dtype=object)
        lengths = np.fromiter(map(len, encoded), np.int64, len(encoded))
        return _Text(coded.codes, encoded), coded.codes < 0, lengths[coded.codes]
    array = np.asarray(values)
    if pg_type == "date":
        days = array.astype("datetime64[D]")
        missing = np.isnat(days)
        return np.where(missing, 0, (days - POSTGRES_EPOCH).astype(np.int64)).astype(">i4"), missing, None
    if array.dtype.kind == "f":
        missing = np.isnan(array)
        filled = np.where(missing, 0, array)
        if pg_type != "float8":
            filled = np.round(filled).astype(np.int64)
        return filled.astype(_FIXED_TYPES[pg_type]), missing, None
    return array.astype(_FIXED_TYPES[pg_type]), np.zeros(len(array), dtype=bool), None


def _coded(values: np.ndarray) -> Coded:
    """A text column as the codes of its distinct values, in order of first appearance (None and NaN:
    -1, missing)."""
    number: dict[Any, int] = {}
    codes = np.fromiter(
        (-1 if is_missing(value) else number.setdefault(value, len(number)) for value in values.tolist()),
        dtype=np.int64,
        count=len(values),
    )
    return Coded(codes, list(number))


def encode_tuples(rows: Mapping[str, Any], columns: Sequence[tuple[str, str]]) -> bytes:
    """The binary COPY tuples of `rows` (no signature or trailer), columns as (name, type) pairs.

    `rows` maps each column name to its values (an array, or `Coded` for text). Types: text, jsonb (values
    as JSON text), date, float8, int8, int2; NaN, NaT and None become NULL.
    """
    if not row_count(rows):
        return b""
    prepared = [_prepared(rows[name], pg_type) for name, pg_type in columns]
    layout_keys = np.column_stack(
        [np.where(missing, -1, 0 if lengths is None else lengths) for _, missing, lengths in prepared]
    )
    layouts, group_of_row = _distinct_rows(layout_keys)
    groups = [
        _encode_group(prepared, columns, layout, np.flatnonzero(group_of_row == group))
        for group, layout in enumerate(layouts)
    ]
    # The tuples go out in the rows' order (a first load's primary-key index is then built from
    # presorted rows): each run of consecutive rows of one layout is a slice of its group's records,
    # which are in row order too. Where the layouts alternate too often for that to be cheap (NULLs
    # scattered through a column), group by group: the rows are the same.
    starts = np.flatnonzero(np.concatenate([[True], group_of_row[1:] != group_of_row[:-1]]))
    if len(starts) > max(ORDERED_RUNS_MIN, len(group_of_row) // ROWS_PER_RUN_MIN):
        return b"".join(records.tobytes() for records in groups)
    counts = np.diff(np.append(starts, len(group_of_row)))
    views = [memoryview(records.tobytes()) for records in groups]
    sizes = [records.dtype.itemsize for records in groups]
    taken = [0] * len(groups)
    parts = []
    for group, count in zip(group_of_row[starts].tolist(), counts.tolist(), strict=True):
        first = taken[group]
        parts.append(views[group][first * sizes[group] : (first + count) * sizes[group]])
        taken[group] = first + count
    return b"".join(parts)


def _distinct_rows(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a small-integer matrix (values >= -1) and each row's index among them.

    `np.unique(axis=0)` sorts rows as structured records, seconds for a million rows; read as digits
    of one mixed-radix number, each row is one int64 and the same sort takes milliseconds.
    """
    radices = keys.max(axis=0, initial=-1) + 2
    if np.sum(np.log2(radices)) >= 62:
        layouts, inverse = np.unique(keys, axis=0, return_inverse=True)
        return layouts, inverse.ravel()
    weights = np.cumprod(np.concatenate([radices[1:], [1]])[::-1])[::-1]
    _, first, inverse = np.unique((keys + 1) @ weights, return_index=True, return_inverse=True)
    return keys[first], inverse.ravel()


def _encode_group(prepared, columns, layout: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The binary tuples of `rows`, which share `layout`, as one structured array."""
    fields: list[tuple[str, str]] = [("count", ">i2")]
    for index, ((_, pg_type), length) in enumerate(zip(columns, layout, strict=True)):
        fields.append((f"length{index}", ">i4"))
        if length >= 0:
            fields.append(
                (f"value{index}", f"S{length}" if pg_type in _VARIABLE_PREFIX else _FIXED_TYPES[pg_type])
            )
    records = np.empty(len(rows), dtype=np.dtype(fields))
    records["count"] = len(columns)
    for index, ((values, _, _), (_, pg_type), length) in enumerate(
        zip(prepared, columns, layout, strict=True)
    ):
        if length < 0:
            records[f"length{index}"] = -1
            continue
        if pg_type in _VARIABLE_PREFIX:
            records[f"length{index}"] = length
            if length:
                records[f"value{index}"] = values.fixed(rows, length)
            continue
        records[f"length{index}"] = np.dtype(_FIXED_TYPES[pg_type]).itemsize
        records[f"value{index}"] = values[rows]
    return records
