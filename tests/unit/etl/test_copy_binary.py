"""Binary COPY tuples built with numpy: each row's fields as PostgreSQL's binary format has them, and
the rows in the frame's order where its layouts come in runs."""

from __future__ import annotations

import struct

import numpy as np
import pandas as pd
import pytest

from etl.columns import Coded
from etl.copy_binary import ORDERED_RUNS_MIN, POSTGRES_EPOCH, encode_tuples

COLUMNS = (("ticker", "text"), ("trade_date", "date"), ("close", "float8"), ("volume", "int8"))


def decode(tuples: bytes) -> list[tuple]:
    """The rows of binary COPY tuples, each field as Python values (None for NULL)."""
    rows, at = [], 0
    while at < len(tuples):
        (count,) = struct.unpack_from(">h", tuples, at)
        at += 2
        row = []
        for _, pg_type in COLUMNS[:count]:
            (length,) = struct.unpack_from(">i", tuples, at)
            at += 4
            if length < 0:
                row.append(None)
                continue
            field = tuples[at : at + length]
            at += length
            if pg_type == "text":
                row.append(field.decode())
            elif pg_type == "date":
                row.append(POSTGRES_EPOCH + np.timedelta64(struct.unpack(">i", field)[0], "D"))
            elif pg_type == "float8":
                row.append(struct.unpack(">d", field)[0])
            else:
                row.append(struct.unpack(">q", field)[0])
        rows.append(tuple(row))
    return rows


def columns(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """The rows of `frame` as the ETL passes rows: an array per column."""
    return {name: frame[name].to_numpy() for name in frame.columns}


def expected(frame: pd.DataFrame) -> list[tuple]:
    rows = []
    for ticker, day, close, volume in frame.itertuples(index=False):
        rows.append(
            (
                None if pd.isna(ticker) else str(ticker),
                None if pd.isna(day) else np.datetime64(day, "D"),
                None if np.isnan(close) else close,
                None if np.isnan(volume) else int(np.round(volume)),
            )
        )
    return rows


def bars(tickers: list[str | None], days: int) -> pd.DataFrame:
    """`days` bars per ticker, by ticker then day; the first bar of each has no close (a NULL), as a
    first load's first `daily_return` has none."""
    rows = len(tickers) * days
    close = np.linspace(1.0, 2.0, rows)
    close[::days] = np.nan
    return pd.DataFrame(
        {
            "ticker": np.repeat(np.array(tickers, dtype=object), days),
            "trade_date": np.tile(np.datetime64("2024-01-01") + np.arange(days), len(tickers)).astype(
                "datetime64[ns]"
            ),
            "close": close,
            "volume": np.arange(rows, dtype=float) * 1000.5,
        }
    )


def test_rows_come_out_whole_and_in_frame_order_with_nulls_and_text_of_every_length():
    # Given tickers of different lengths (one layout each), a non-ASCII one, an empty one and a missing
    # one, each with a first bar whose close is NULL: layouts that come in runs, by ticker
    frame = bars(["AAPL", "BRK.B", "X", "Zürich", "", None, "MSFT"], days=40)
    # Then every field decodes to the frame's value, and the rows are in the frame's order
    assert decode(encode_tuples(columns(frame), COLUMNS)) == expected(frame)


def test_scattered_layouts_still_give_every_row_once():
    # Given NULLs scattered through a column, more runs of one layout than is worth keeping in order
    rng = np.random.default_rng(7)
    frame = bars(["AAPL", "MSFT"], days=ORDERED_RUNS_MIN * 4)
    frame.loc[rng.random(len(frame)) < 0.5, "volume"] = np.nan
    # Then the rows are the same, each once, in some order
    assert sorted(decode(encode_tuples(columns(frame), COLUMNS)), key=repr) == sorted(
        expected(frame), key=repr
    )


@pytest.mark.parametrize("rows", [0, 1])
def test_empty_and_one_row_frames(rows):
    frame = bars(["AAPL"], days=2).iloc[:rows]
    assert decode(encode_tuples(columns(frame), COLUMNS)) == expected(frame)


def test_a_coded_text_column_gives_the_rows_its_values_give():
    # Given the ticker column as codes into the distinct tickers (as the transform sends it), a missing one too
    frame = bars(["AAPL", "BRK.B", None, "MSFT"], days=10)
    tickers = ["MSFT", "AAPL", "BRK.B"]
    given = np.repeat(np.array(["AAPL", "BRK.B", None, "MSFT"], dtype=object), 10)
    codes = np.array([-1 if ticker is None else tickers.index(ticker) for ticker in given])
    coded = {**columns(frame), "ticker": Coded(codes, tickers)}
    # Then the tuples are those of the plain column
    assert encode_tuples(coded, COLUMNS) == encode_tuples(columns(frame), COLUMNS)
    assert decode(encode_tuples(coded, COLUMNS)) == expected(frame)
