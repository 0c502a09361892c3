"""The cached figures' arrays: fixed-width texts in place of Python dates and texts, the same JSON."""

from __future__ import annotations

import datetime as dt

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from hypothesis import given
from hypothesis import strategies as st

from dashboard.display import _fixed_width

dates = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31))
texts = st.text(min_size=0, max_size=12)
values = st.lists(st.one_of(dates, texts, st.none(), st.floats(allow_nan=False)), min_size=1, max_size=30)


def as_json(column: np.ndarray) -> str:
    return pio.to_json(go.Figure(go.Scatter(x=column, y=list(range(len(column)))), _validate=False))


@given(values)
def test_a_figure_with_the_fixed_width_array_is_the_same_json(items):
    column = np.array(items, dtype=object)
    converted = _fixed_width(column)

    assert as_json(converted) == as_json(column)
    fixed_texts = all(type(item) is str and not item.endswith("\0") for item in items)
    if all(type(item) is dt.date for item in items) or fixed_texts:
        assert converted.dtype.kind == "U"
    else:
        assert converted is column


def test_numbers_and_empty_arrays_are_left_as_they_are():
    numbers = np.array([1.5, 2.5])
    empty = np.array([], dtype=object)
    assert _fixed_width(numbers) is numbers
    assert _fixed_width(empty) is empty
    assert _fixed_width([dt.date(2024, 1, 2)]) == [dt.date(2024, 1, 2)]
    # A trailing NUL would be lost in a fixed-width text.
    nul = np.array(["a\0", "b"], dtype=object)
    assert _fixed_width(nul) is nul
