"""What people see: the display name, unit and number format of every column, measure, source and table.

Pages never write an identifier on screen: every chart axis, legend, tooltip, selector and table header
takes its words from here, and every number its format, so a column reads the same on every page
("Index daily return", +1.23%) and no snake_case name, ``None`` or bare fraction reaches a visitor. A
name missing here shows as a plain-words fallback (underscores become spaces), never as the identifier.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Literal

Kind = Literal[
    "text", "date", "datetime", "percent", "signed_percent", "points_percent", "level", "count",
    "mm", "celsius", "seconds", "correlation", "tone",
]  # fmt: skip

#: How a missing value is written everywhere (tables, cards, tooltips).
MISSING = "–"


@dataclass(frozen=True)
class Term:
    """A column or measure as people see it: its name, the kind of number it is, and a unit if any."""

    label: str
    kind: Kind = "text"

    @property
    def unit(self) -> str:
        return _UNITS.get(self.kind, "")

    @property
    def titled(self) -> str:
        """The label with its unit in brackets, for axes and colour bars: "Precipitation (mm)"."""
        return f"{self.label} ({self.unit})" if self.unit and self.unit != "%" else self.label


_UNITS: dict[str, str] = {"mm": "mm", "celsius": "°C", "seconds": "s", "percent": "%"}

#: Every column the pages' queries return, by its name in SQL.
COLUMNS: dict[str, Term] = {
    # Days
    "trade_date": Term("Date", "date"),
    "obs_date": Term("Date", "date"),
    "news_date": Term("Date", "date"),
    # Market
    "index_symbol": Term("Index"),
    "index_close": Term("Index close", "level"),
    "index_return": Term("Index daily return", "signed_percent"),
    "index_volatility_7": Term("Index 7-day volatility", "percent"),
    "precipitation_mm": Term("National mean precipitation", "mm"),
    "temp_max_c": Term("National mean daily high", "celsius"),
    "temp_min_c": Term("National mean daily low", "celsius"),
    "news_share": Term("Share of news articles on the topic", "percent"),
    "news_matching": Term("News articles on the topic", "count"),
    "news_total": Term("News articles in all", "count"),
    "news_tone": Term("Mean news tone", "tone"),
    "vix": Term("VIX (volatility index)", "level"),
    "treasury_10y": Term("10-year Treasury yield", "points_percent"),
    # Sectors, industries, members
    "sector": Term("Sector"),
    "industry": Term("Industry"),
    "ticker": Term("Ticker"),
    "name": Term("Company"),
    "mean_return": Term("Mean daily return", "signed_percent"),
    "advancers": Term("Stocks up", "count"),
    "decliners": Term("Stocks down", "count"),
    "tickers": Term("Stocks", "count"),
    "members": Term("Stocks", "count"),
    "mean_volatility_7": Term("Mean 7-day volatility", "percent"),
    "period_return": Term("Return over the period", "signed_percent"),
    "annualised_return": Term("Annualised return", "signed_percent"),
    "annualised_volatility": Term("Annualised volatility", "percent"),
    "trading_days": Term("Trading days", "count"),
    "mean_period_return": Term("Mean return over the period", "signed_percent"),
    "mean_annualised_volatility": Term("Mean annualised volatility", "percent"),
    "best_period_return": Term("Best stock's return", "signed_percent"),
    "worst_period_return": Term("Worst stock's return", "signed_percent"),
    # Stock
    "open": Term("Open", "level"),
    "high": Term("High", "level"),
    "low": Term("Low", "level"),
    "close": Term("Close", "level"),
    "adj_close": Term("Adjusted close", "level"),
    "volume": Term("Shares traded", "count"),
    "daily_return": Term("Daily return", "signed_percent"),
    "volatility_7": Term("7-day volatility", "percent"),
    "cumulative_return": Term("Cumulative return", "signed_percent"),
    "stock_return": Term("Stock", "signed_percent"),
    "sector_return": Term("Sector mean", "signed_percent"),
    "low_52w": Term("52-week low", "level"),
    "first_trade_date": Term("First trading day", "date"),
    "last_trade_date": Term("Last trading day", "date"),
    "last_close": Term("Last close", "level"),
    "last_return": Term("Last daily return", "signed_percent"),
    "high_52w": Term("52-week high", "level"),
    # Intraday (minute bars from the lake)
    "time_of_day": Term("Time of day (New York)"),
    "vwap": Term("VWAP (volume-weighted average price)", "level"),
    "intraday_range": Term("Intraday range", "percent"),
    "intraday_volatility": Term("Intraday volatility", "percent"),
    "session_return": Term("Open to close", "signed_percent"),
    "bars": Term("Minute bars", "count"),
    # Correlations
    "series_a": Term("Series"),
    "series_b": Term("With"),
    "correlation": Term("Correlation", "correlation"),
    "days": Term("Days", "count"),
    # Weather and news
    "state": Term("State"),
    "state_name": Term("State"),
    "mean_precipitation_mm": Term("Mean daily precipitation", "mm"),
    "total_precipitation_mm": Term("Total precipitation", "mm"),
    "mean_temp_c": Term("Mean temperature", "celsius"),
    "max_temp_c": Term("Highest temperature", "celsius"),
    "min_temp_c": Term("Lowest temperature", "celsius"),
    "regime": Term("News volume"),
    "median_matching": Term("Median articles a day", "count"),
    "mean_matching": Term("Mean articles a day", "count"),
    "return_volatility": Term("Volatility of daily returns", "percent"),
    "tone_regime": Term("News tone"),
    "mean_tone": Term("Mean news tone", "tone"),
    "weather_days": Term("Days"),
    "index_mean_return": Term("Index mean daily return", "signed_percent"),
    "high_days_return": Term("Mean daily return on the high days", "signed_percent"),
    "low_days_return": Term("Mean daily return on the low days", "signed_percent"),
    "other_days_return": Term("Mean daily return on the other days", "signed_percent"),
    # Pipeline operations
    "source": Term("Source"),
    "latest_data_date": Term("Newest data day", "date"),
    "last_loaded_at": Term("Last loaded", "datetime"),
    "loaded_objects": Term("Objects loaded", "count"),
    "synthetic_objects": Term("Sample-data objects", "count"),
    "quarantined_objects": Term("Objects quarantined", "count"),
    "run_id": Term("Run"),
    "kind": Term("Kind"),
    "status": Term("Outcome"),
    "started_at": Term("Started", "datetime"),
    "finished_at": Term("Finished", "datetime"),
    "duration_s": Term("Duration", "seconds"),
    "runs": Term("Runs", "count"),
    "last_started_at": Term("Last started", "datetime"),
    "entity": Term("Item"),
    "reason": Term("Reason"),
    "key": Term("Raw object"),
    "data_date": Term("Data day", "date"),
    "loaded_at": Term("Recorded", "datetime"),
    "error": Term("Reason"),
    "table_name": Term("Table"),
    "row_count": Term("Rows", "count"),
    "first_date": Term("First day", "date"),
    "latest_date": Term("Last day", "date"),
}

#: Raw-zone sources (pipeline.catalog) as people know them.
SOURCES: dict[str, str] = {
    "yahoo": "Yahoo Finance (prices)",
    "open_meteo": "Open-Meteo (weather)",
    "gdelt": "GDELT (news)",
    "fred": "FRED (macro series)",
    "constituents": "Index members (Wikipedia)",
    "manifest": "Ingestion run reports",
    "ingest_shards": "Ingestion shard reports",
    "yahoo_intraday": "Yahoo Finance (minute bars)",
}

#: Curated and analytics tables (etl.schema) as people know them.
TABLES: dict[str, str] = {
    "companies": "Companies",
    "stock_daily": "Daily stock prices",
    "index_daily": "Daily index levels",
    "weather_daily": "Daily weather by state",
    "news_daily": "Daily news volume",
    "news_tone_daily": "Daily news tone",
    "macro_daily": "Daily macro series",
    "sector_daily": "Daily sector summary",
    "market_daily": "Daily market summary",
    "dim_date": "Calendar",
    "pipeline_runs": "Pipeline runs",
    "raw_objects": "Raw objects",
    "stock_minute": "Minute stock prices (lake)",
}

#: Index symbols (PIPELINE_INDEXES) by name; an index not listed here shows its symbol.
INDEXES: dict[str, str] = {
    "^GSPC": "S&P 500",
    "^DJI": "Dow Jones Industrial Average",
    "^IXIC": "Nasdaq Composite",
    "^NDX": "Nasdaq-100",
    "^RUT": "Russell 2000",
}

#: Words for the values of categorical columns, per column.
VALUES: dict[str, dict[str, str]] = {
    "source": SOURCES,
    "table_name": TABLES,
    "index_symbol": INDEXES,
    "kind": {"ingest": "Ingestion", "etl": "ETL", "run": "Ingestion and ETL", "sample": "Sample data"},
    "status": {
        "success": "Succeeded",
        "partial": "Partly failed",
        "failed": "Failed",
        "running": "Running",
        "loaded": "Loaded",
        "quarantined": "Quarantined",
    },
    "regime": {"high": "High", "low": "Low", "negative": "Negative", "positive": "Positive"},
    "tone_regime": {"negative": "Negative-tone days", "positive": "Positive-tone days"},
}

#: How the days at each end of a weather measure are called, highest first ("the hottest 10% of days").
WEATHER_EXTREMES: dict[str, tuple[str, str]] = {
    "temp_max_c": ("hottest", "coolest"),
    "precipitation_mm": ("wettest", "driest"),
}


def weather_class_words(measure: str, weather_class: str, share: int) -> str:
    """A weather class of the weather-and-market page in words: "Hottest 10% of days", "Other days"."""
    high, low = WEATHER_EXTREMES.get(measure, ("highest", "lowest"))
    if weather_class == "middle":
        return "Other days"
    return f"{(high if weather_class == 'high' else low).capitalize()} {share}% of days"


#: Prefix of the correlation series made of one sector's mean daily return (`dashboard.queries`).
SECTOR_SERIES_PREFIX = "sector:"


def plain_words(identifier: str) -> str:
    """An identifier nobody named, as words: ``foo_bar`` -> ``Foo bar``."""
    words = identifier.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def term(column: str) -> Term:
    """The display term of a column (a plain-words fallback for one not in `COLUMNS`)."""
    return COLUMNS.get(column) or Term(plain_words(column))


def label(column: str) -> str:
    """The display name of a column."""
    return term(column).label


def value_label(column: str, value: object) -> str:
    """A categorical value of `column` in words: a source, table, outcome, kind or index."""
    if _missing(value):
        return MISSING
    text = str(value)
    if column not in VALUES:
        return text  # names, tickers, sectors, reasons, raw-zone paths: shown as they are
    words = VALUES[column].get(text)
    if words is not None:
        return words
    return plain_words(text) if "_" in text else text


def index_name(symbol: str | None) -> str:
    """The index's name ("S&P 500" for ``^GSPC``), or its symbol when it has no known name."""
    return value_label("index_symbol", symbol)


def series_label(series: str) -> str:
    """A correlation series in words: a market column or a sector's mean return."""
    if series.startswith(SECTOR_SERIES_PREFIX):
        return f"{series.removeprefix(SECTOR_SERIES_PREFIX)} sector mean return"
    return term(series).titled


def _missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN, NaT and pandas.NA are not equal to themselves
    except (TypeError, ValueError):
        return False


def number(value: float | None, kind: Kind) -> str:
    """`value` written as its kind says (``0.0123`` percent -> ``1.23%``); `MISSING` when there is none."""
    if _missing(value):
        return MISSING
    if kind in ("date", "datetime", "text"):
        return _temporal(value) if kind != "text" else str(value)
    number = float(value)  # type: ignore[arg-type]
    if kind in ("percent", "signed_percent"):
        number *= 100  # written as a percentage, so a fraction near the float limit overflows here
    if not math.isfinite(number):
        return MISSING
    text = _FORMATS.get(kind, "{:,.2f}").format(number)
    # A tiny negative value rounds to zero: it reads "0.00%", never "-0.00%" or "+0.00%".
    return text.lstrip("+-") if not any(digit in text for digit in "123456789") else text


_FORMATS: dict[str, str] = {
    "percent": "{:.2f}%",
    "signed_percent": "{:+.2f}%",
    "points_percent": "{:.2f}%",
    "count": "{:,.0f}",
    "mm": "{:,.1f} mm",
    "celsius": "{:.1f} °C",
    "seconds": "{:,.1f} s",
    "correlation": "{:.2f}",
    "tone": "{:+.2f}",
    "level": "{:,.2f}",
}


def _temporal(value: object) -> str:
    if isinstance(value, dt.datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def show(column: str, value: object) -> str:
    """A value of `column` as the pages write it: a number in its format or a category in words."""
    kind = term(column).kind
    return value_label(column, value) if kind == "text" else number(value, kind)  # type: ignore[arg-type]


#: plotly (d3) number formats per kind, for axes (`tickformat`) and tooltips (``%{y:<format>}``).
D3_FORMATS: dict[str, str] = {
    "percent": ".2%",
    "signed_percent": "+.2%",
    "level": ",.2f",
    "count": ",.0f",
    "mm": ",.1f",
    "celsius": ".1f",
    "seconds": ",.1f",
    "correlation": ".2f",
    "tone": "+.2f",
    "points_percent": ".2f",
}
#: Suffixes plotly writes after a number of the kind (its d3 format has no unit of its own).
D3_SUFFIXES: dict[str, str] = {"mm": " mm", "celsius": " °C", "seconds": " s", "points_percent": "%"}


def d3_format(column: str) -> str:
    """The plotly number format of `column`'s values (empty for text and dates)."""
    return D3_FORMATS.get(term(column).kind, "")


def hover_value(column: str, placeholder: str = "y") -> str:
    """A plotly hovertemplate fragment writing `placeholder` as `column` is written: ``%{y:.2%}``."""
    kind = term(column).kind
    if kind in ("date", "datetime"):
        return f"%{{{placeholder}|%Y-%m-%d}}"
    fmt = D3_FORMATS.get(kind)
    body = f"%{{{placeholder}:{fmt}}}" if fmt else f"%{{{placeholder}}}"
    return body + D3_SUFFIXES.get(kind, "")
