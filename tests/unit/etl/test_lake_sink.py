"""The lake sink's pure parts: the transform's columns as Arrow, and the filter of exactly their keys."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
from pyiceberg.expressions.visitors import bind
from pyiceberg.io.pyarrow import expression_to_pyarrow

from etl.columns import Coded
from etl.lake import iceberg_schema, lake_spec
from etl.lake_sink import key_filter, to_arrow
from etl.sinks import TableRows


def stock_rows(tickers: list[str], days: list[str], closes: list[float]) -> TableRows:
    count = len(tickers)
    columns = {
        "ticker": np.array(tickers, dtype=object),
        "trade_date": np.array(days, dtype="datetime64[ns]"),
        **{name: np.array(closes, dtype=float) for name in ("open", "high", "low", "close", "adj_close")},
        "volume": np.array([1.0] * (count - 1) + [np.nan]),
        "daily_return": np.full(count, np.nan),
        "volatility_7": np.full(count, 0.25),
        "fetch_rank": np.zeros(count, dtype=np.int64),
        "value_ranks": np.array([None] * count, dtype=object),
    }
    return TableRows("stock_daily", columns, ("ticker", "trade_date"), count, None, None)


def test_the_columns_become_the_lake_schema_with_nulls_and_the_same_bits() -> None:
    close = 0.1 + 0.2  # a float whose shortest text is long: its bits must survive
    rows = to_arrow(stock_rows(["AAPL", "MSFT"], ["2024-01-02", "2024-01-03"], [close, -0.0]))
    assert rows.schema.names == lake_spec("stock_daily").column_names
    assert "fetch_rank" not in rows.schema.names
    assert rows["close"].to_pylist()[0].hex() == close.hex()
    assert rows["close"].to_pylist()[1].hex() == (-0.0).hex()
    assert rows["volume"].to_pylist() == [1, None] and rows["daily_return"].null_count == 2
    assert rows["trade_date"].to_pylist() == [dt.date(2024, 1, 2), dt.date(2024, 1, 3)]


def test_coded_text_columns_are_decoded() -> None:
    table_rows = stock_rows(["AAPL", "AAPL"], ["2024-01-02", "2024-01-03"], [1.0, 2.0])
    coded = Coded(np.array([0, 0], dtype=np.int32), ["AAPL"])
    columns = {**table_rows.columns, "ticker": coded}
    rows = to_arrow(TableRows("stock_daily", columns, table_rows.key, 2, None, None))
    assert rows["ticker"].to_pylist() == ["AAPL", "AAPL"]


def test_the_key_filter_selects_exactly_the_keys_handed_on() -> None:
    handed = to_arrow(
        stock_rows(
            ["AAPL", "MSFT", "MSFT", "XOM"],
            ["2024-01-03", "2024-01-03", "2024-01-04", "2024-01-03"],
            [1.0, 2.0, 3.0, 4.0],
        )
    )
    stored = pa.table(
        {
            "ticker": ["AAPL", "AAPL", "MSFT", "MSFT", "XOM", "IBM"],
            "trade_date": pa.array([dt.date(2024, 1, d) for d in (2, 3, 3, 4, 4, 3)], type=pa.date32()),
        }
    )
    where = key_filter(lake_spec("stock_daily"), handed)
    bound = bind(iceberg_schema(lake_spec("stock_daily")), where, case_sensitive=True)
    selected = stored.filter(expression_to_pyarrow(bound))
    pairs = list(zip(selected["ticker"].to_pylist(), selected["trade_date"].to_pylist(), strict=True))
    assert sorted(pairs) == [
        ("AAPL", dt.date(2024, 1, 3)),
        ("MSFT", dt.date(2024, 1, 3)),
        ("MSFT", dt.date(2024, 1, 4)),
    ]
