"""PostgreSQL binary COPY payloads built with numpy, a whole frame at a time.

Formatting a million rows one `write_row` at a time costs seconds of the loader's CPU; here the worker
processes build the bytes instead, and the loader only forwards them. A binary tuple is a field count,
then per field its length (-1 for NULL) and big-endian value; rows that share the same NULLs and text
lengths share one fixed layout, so each such group is one numpy structured array.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

POSTGRES_EPOCH = np.datetime64("2000-01-01", "D")
_FIXED_TYPES = {"date": ">i4", "float8": ">f8", "int8": ">i8", "int2": ">i2"}
#: The column types `encode_tuples` handles.
ENCODABLE_TYPES = frozenset({"text", *_FIXED_TYPES})


def _prepared(values: pd.Series, pg_type: str) -> tuple[np.ndarray, np.ndarray]:
    """The column's values in their wire dtype, and its NULL mask."""
    array = values.to_numpy()
    if pg_type == "date":
        days = array.astype("datetime64[D]")
        missing = np.isnat(days)
        return np.where(missing, 0, (days - POSTGRES_EPOCH).astype(np.int64)).astype(">i4"), missing
    if pg_type == "text":
        encoded = np.array([str(value).encode() for value in array], dtype=object)
        return encoded, pd.isna(values).to_numpy()
    if array.dtype.kind == "f":
        missing = np.isnan(array)
        filled = np.where(missing, 0, array)
        if pg_type != "float8":
            filled = np.round(filled).astype(np.int64)
        return filled.astype(_FIXED_TYPES[pg_type]), missing
    return array.astype(_FIXED_TYPES[pg_type]), np.zeros(len(array), dtype=bool)


def encode_tuples(frame: pd.DataFrame, columns: Sequence[tuple[str, str]]) -> bytes:
    """The binary COPY tuples of `frame` (no signature or trailer), columns as (name, type) pairs.

    Types: text, date, float8, int8, int2; NaN and NaT become NULL.
    """
    if frame.empty:
        return b""
    prepared = [_prepared(frame[name], pg_type) for name, pg_type in columns]
    layout_keys = np.column_stack(
        [
            np.where(
                missing, -1, np.fromiter(map(len, values), np.int64, len(values)) if pg_type == "text" else 0
            )
            for (values, missing), (_, pg_type) in zip(prepared, columns, strict=True)
        ]
    )
    layouts, group_of_row = _distinct_rows(layout_keys)
    parts = []
    for group, layout in enumerate(layouts):
        rows = np.flatnonzero(group_of_row == group)
        parts.append(_encode_group(prepared, columns, layout, rows))
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


def _encode_group(prepared, columns, layout: np.ndarray, rows: np.ndarray) -> bytes:
    fields: list[tuple[str, str]] = [("count", ">i2")]
    for index, ((_, pg_type), length) in enumerate(zip(columns, layout, strict=True)):
        fields.append((f"length{index}", ">i4"))
        if length >= 0:
            fields.append((f"value{index}", f"S{length}" if pg_type == "text" else _FIXED_TYPES[pg_type]))
    records = np.empty(len(rows), dtype=np.dtype(fields))
    records["count"] = len(columns)
    for index, ((values, _), (_, pg_type), length) in enumerate(zip(prepared, columns, layout, strict=True)):
        if length < 0:
            records[f"length{index}"] = -1
            continue
        selected = values[rows]
        records[f"length{index}"] = length if pg_type == "text" else np.dtype(_FIXED_TYPES[pg_type]).itemsize
        records[f"value{index}"] = selected.astype(f"S{length}") if pg_type == "text" else selected
    return records.tobytes()
