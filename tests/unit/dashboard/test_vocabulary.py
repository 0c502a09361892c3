"""The dashboard's vocabulary: every column the pages' queries return has words, and numbers read right."""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard import vocabulary
from dashboard.display import _STREAMLIT_NUMBERS, SECTOR_PALETTE, grid_numbers, sector_colours
from pipeline import catalog

QUERIES = Path(vocabulary.__file__).parent / "queries"
# `AS name` in the pages' SQL: each result column a page may put in a table or on an axis.
ALIASES = re.compile(r"\bAS\s+([a-z][a-z0-9_]*)\b(?!\s*\()")
#: Aliases that name CTEs or inner values, never a result column people see.
NOT_SHOWN = {"built", "core_rows", "first_day", "last_day", "daily_volatility", "traded_value", "series",
             "first_value", "second_value", "last_bar", "first_bar", "year_range", "failure", "r", "s",
             "i", "c", "m", "a", "b", "value", "name", "d", "p", "low_bound", "high_bound",
             "minute_return"}  # fmt: skip
#: The weather-and-market page writes these in the words of the measure chosen (`weather_class_words`,
#: `show(measure, ...)`), never under their own names.
NOT_SHOWN |= {"measure", "weather_class", "lowest_measure", "highest_measure", "mean_measure"}


def test_every_result_column_of_the_pages_queries_has_words():
    aliases = set()
    for path in QUERIES.glob("*.py"):
        aliases |= {alias.lower() for alias in ALIASES.findall(path.read_text())}
    missing = sorted(alias for alias in aliases - NOT_SHOWN if alias not in vocabulary.COLUMNS)
    assert missing == []


def test_every_source_has_a_name_and_no_label_is_an_identifier():
    sources = {value for name, value in vars(catalog).items() if name.isupper() and isinstance(value, str)}
    sources -= {catalog.DASHBOARD_ROLE, catalog.EXPLORER_ROLE, *catalog.GDELT_MODES}
    assert sources <= set(vocabulary.SOURCES)
    words = [term.titled for term in vocabulary.COLUMNS.values()]
    words += [*vocabulary.SOURCES.values(), *vocabulary.TABLES.values()]
    assert [word for word in words if "_" in word] == []


@pytest.mark.parametrize(
    ("value", "kind", "shown"),
    [
        (0.0123, "percent", "1.23%"),
        (0.0123, "signed_percent", "+1.23%"),
        (-0.00001, "signed_percent", "0.00%"),
        (-0.0512, "signed_percent", "-5.12%"),
        (4712.345, "level", "4,712.35"),
        (1234567, "count", "1,234,567"),
        (3.25, "mm", "3.2 mm"),
        (-4.04, "celsius", "-4.0 °C"),
        (4.1, "points_percent", "4.10%"),
        (None, "percent", "–"),
        (float("nan"), "level", "–"),
        (dt.date(2024, 3, 25), "date", "2024-03-25"),
        (dt.datetime(2024, 3, 25, 6, 2, 9), "datetime", "2024-03-25 06:02"),
    ],
)
def test_numbers_are_written_in_their_format(value, kind, shown):
    assert vocabulary.number(value, kind) == shown


@settings(max_examples=50)
@given(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(list(vocabulary.D3_FORMATS)))
def test_no_number_is_written_as_a_missing_word_or_a_negative_zero(value, kind):
    shown = vocabulary.number(value, kind)
    assert not re.search(r"\b(?:nan|inf|None)\b", shown, re.IGNORECASE)
    assert not shown.startswith("-0.00")
    if not math.isfinite(value):
        assert shown == vocabulary.MISSING


def test_categorical_values_and_indexes_read_as_words():
    assert vocabulary.value_label("source", "open_meteo") == "Open-Meteo (weather)"
    assert vocabulary.value_label("status", "partial") == "Partly failed"
    assert vocabulary.value_label("table_name", "stock_daily") == "Daily stock prices"
    assert vocabulary.value_label("kind", "some_new_kind") == "Some new kind"
    assert vocabulary.value_label("source", None) == vocabulary.MISSING
    assert vocabulary.index_name("^GSPC") == "S&P 500"
    assert vocabulary.index_name("^FTSE") == "^FTSE"
    assert vocabulary.series_label("sector:Energy") == "Energy sector mean return"
    assert vocabulary.series_label("precipitation_mm") == "National mean precipitation (mm)"


def test_hover_fragments_carry_the_format_and_unit():
    assert vocabulary.hover_value("index_return") == "%{y:+.2%}"
    assert vocabulary.hover_value("mean_precipitation_mm", "z") == "%{z:,.1f} mm"
    assert vocabulary.hover_value("trade_date", "x") == "%{x|%Y-%m-%d}"


def test_eleven_sectors_get_eleven_colours():
    colours = sector_colours(["Energy", "Utilities", "Materials"])
    gics = [colours[sector] for sector in sector_colours([])]
    assert len(set(gics)) == 11 == len(SECTOR_PALETTE)
    assert sector_colours(["Energy"])["Energy"] == colours["Energy"], "a sector keeps its colour"


def test_a_grid_never_shows_a_negative_zero_percent():
    import pandas as pd

    shown = grid_numbers(pd.Series([-0.000001, 0.0123456, -0.0123456]), "signed_percent")
    assert [f"{value:+.2f}%" for value in shown] == ["+0.00%", "+1.23%", "-1.23%"]


#: Kinds a grid writes with a printf-style format: Streamlit's sprintf-js, which Python's % mirrors but for
#: an exact binary tie (0.125 to two decimals: JavaScript writes 0.13, Python 0.12), a difference left alone.
PRINTF_KINDS = sorted(
    kind for kind, (number_format, _) in _STREAMLIT_NUMBERS.items() if number_format != "localized"
)


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(PRINTF_KINDS), value=st.floats(-999.0, 999.0))
def test_a_grid_writes_a_number_as_its_card_does(kind, value):
    import pandas as pd

    if kind in ("percent", "signed_percent"):
        value /= 100  # a fraction: shown as percentage points below 1,000 (no thousands separator)
    number_format, _ = _STREAMLIT_NUMBERS[kind]
    [shown] = grid_numbers(pd.Series([value]), kind)
    card = vocabulary.number(value, kind)
    # printf's "+" flag signs a zero ("+0.00%"), which a card writes unsigned: the one difference left.
    assert (number_format % shown).replace("+0.00", "0.00") == card
