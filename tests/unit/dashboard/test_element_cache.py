"""Charts and grids are made once per data for every visitor, then replayed: a later run (any session)
shows the same element without building the figure or the grid again, and other data makes a new one."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

SCRIPT = """
import pandas as pd
import plotly.express as px
import plotly.io
import streamlit as st

from dashboard import display

BUILDS = Path({builds!r})


def counted(name, function):
    def logged(*args, **kwargs):
        with BUILDS.open("a") as log:
            log.write(name + "\\n")
        return function(*args, **kwargs)

    logged.counted = True
    return logged


# Encoding a figure for the page, and preparing a grid's values, each logged when they happen.
if not hasattr(plotly.io.to_json, "counted"):
    plotly.io.to_json = counted("encoding", plotly.io.to_json)
    display.for_display = counted("grid", display.for_display)


def line_figure(frame):
    with BUILDS.open("a") as log:
        log.write("figure\\n")
    return px.line(frame, x="trade_date", y="close", title="Closes")


scale = st.query_params.get("scale", "1")
frame = pd.DataFrame({{"trade_date": ["2024-01-02", "2024-01-03"], "close": [1.5, 2.5]}})
frame["close"] = frame["close"] * float(scale)
with st.columns(2)[1]:
    display.chart(line_figure, frame)
display.table(frame.rename(columns={{"close": "index_close"}}))
"""


@pytest.fixture(autouse=True)
def _unpatched_after(monkeypatch: pytest.MonkeyPatch) -> None:
    """The script wraps two functions to log their calls; they are put back after each test."""
    import plotly.io

    from dashboard import display

    monkeypatch.setattr(plotly.io, "to_json", plotly.io.to_json)
    monkeypatch.setattr(display, "for_display", display.for_display)


def _app(tmp_path: Path) -> tuple[AppTest, Path]:
    builds = tmp_path / "builds.log"
    builds.touch()
    script = tmp_path / "page.py"
    script.write_text("from pathlib import Path\n" + SCRIPT.format(builds=str(builds)))
    return AppTest.from_file(str(script), default_timeout=30), builds


def _shown(app: AppTest) -> tuple[list[float], list[str]]:
    assert not app.exception, app.exception
    [chart] = app.get("plotly_chart")
    [grid] = app.dataframe
    closes = json.loads(chart.proto.spec)["data"][0]["y"]  # plotly's typed array
    values = np.frombuffer(base64.b64decode(closes["bdata"]), dtype=closes["dtype"])
    headers = [column["label"] for name, column in json.loads(grid.proto.columns).items() if name != "_index"]
    return values.tolist(), headers


def test_a_chart_and_a_grid_are_made_once_and_replayed_for_every_later_run(tmp_path: Path) -> None:
    first, builds = _app(tmp_path)
    first.run()
    shown = _shown(first)
    assert shown[0] == [1.5, 2.5] and shown[1] == ["Date", "Index close"]

    first.run()  # the same visitor again
    second, _ = _app(tmp_path)  # another visitor's session
    second.run()
    assert _shown(first) == shown and _shown(second) == shown
    assert builds.read_text().splitlines() == ["figure", "encoding", "grid"]


def test_other_data_makes_a_new_chart(tmp_path: Path) -> None:
    app, builds = _app(tmp_path)
    app.run()
    app.query_params["scale"] = "2"
    app.run()
    assert _shown(app)[0] == [3.0, 5.0]
    assert builds.read_text().splitlines().count("figure") == 2
