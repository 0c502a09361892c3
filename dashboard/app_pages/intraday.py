"""Intraday: a ticker's days minute by minute (price, VWAP, volume), with each day's range and
volatility, several days side by side; read from the lake's minute bars."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from dashboard import display, url_filters
from dashboard.formatting import level, percent
from dashboard.queries import lake
from dashboard.vocabulary import hover_value, label, number

st.title("Intraday")
companies = lake.intraday_tickers()
if companies.empty:
    st.info(
        "No minute bars in the lake yet: `pipeline ingest --source yahoo_intraday` (or "
        "`pipeline sample --intraday`), then `pipeline etl`."
    )
    st.stop()
choices = {row.ticker: f"{row.ticker} · {row.name}" for row in companies.itertuples(index=False)}
ticker = url_filters.single_choice("Company", list(choices), param="ticker", format_func=choices.get)
available = lake.intraday_days(ticker)
names = [day.isoformat() for day in available]
chosen = url_filters.multiple_choice(
    f"Days to compare (up to {lake.MAX_COMPARED_DAYS})",
    names,
    param="day",
    default=names[:3],
    format_func=lambda day: number(day, "date"),
)[: lake.MAX_COMPARED_DAYS]
if not chosen:
    st.info("Choose at least one day.")
    st.stop()
days = tuple(sorted(day for day in available if day.isoformat() in chosen))
summary = lake.intraday_summary(ticker, days)
minutes = lake.intraday_minutes(ticker, days)

latest = summary.iloc[0]
st.caption(f"Minute bars of {number(latest['trade_date'], 'date')} and the days compared with it.")
close_column, vwap_column, range_column, volatility_column = st.columns(4)
close_column.metric(
    "Close", level(latest["close"]), percent(latest["session_return"], signed=True), border=True
)
vwap_column.metric(label("vwap"), level(latest["vwap"]), border=True)
range_column.metric(label("intraday_range"), percent(latest["intraday_range"]), border=True)
volatility_column.metric(label("intraday_volatility"), percent(latest["intraday_volatility"]), border=True)


def minutes_figure(minutes: pd.DataFrame) -> go.Figure:
    """Each day's price, VWAP and volume by minute of the session, one colour per day."""
    figure = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.06,
        row_heights=[0.7, 0.3],
        subplot_titles=["Price and VWAP", label("volume")],
    )
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"]
    for colour, (day, bars) in zip(palette, minutes.groupby("trade_date", sort=True), strict=False):
        shown_day = number(day, "date")
        # The price and its VWAP: the same line in the day's colour, the VWAP thinner and dotted.
        for column, name, line in (
            ("close", shown_day, {"width": 1.4}),
            ("vwap", f"{shown_day} VWAP", {"width": 1, "dash": "dot"}),
        ):
            figure.add_trace(
                go.Scatter(
                    x=bars["time_of_day"],
                    y=bars[column],
                    name=name,
                    line={"color": colour, **line},
                    hovertemplate=f"%{{x|%H:%M}} {hover_value(column)}<extra>{name}</extra>",
                ),
                row=1,
                col=1,
            )
        figure.add_trace(
            go.Bar(
                x=bars["time_of_day"],
                y=bars["volume"],
                name=f"{shown_day} {label('volume').lower()}",
                marker_color=colour,
                opacity=0.6,
                showlegend=False,
                hovertemplate=f"%{{x|%H:%M}} {hover_value('volume')}<extra>{shown_day}</extra>",
            ),
            row=2,
            col=1,
        )
    display.format_axis(figure, "close", row=1, col=1)
    display.format_axis(figure, "volume", row=2, col=1)
    figure.update_xaxes(tickformat="%H:%M", title_text=label("time_of_day"), row=2, col=1)
    figure.update_layout(height=620, barmode="overlay", margin={"t": 60, "b": 20}, hovermode="x unified")
    return display.phone_friendly(figure)


display.chart(minutes_figure, minutes)

st.subheader("The days compared")
display.table(summary)
