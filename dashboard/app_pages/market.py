"""Market: the index and its 7-day volatility, aligned with precipitation, news share, VIX and the 10-year yield."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from dashboard import display, queries, url_filters
from dashboard.formatting import level, percent
from dashboard.vocabulary import hover_value, index_name, term


def panels_figure(days: pd.DataFrame, name: str, news_title: str) -> go.Figure:
    """One panel per series on a shared date axis: their scales differ by orders of magnitude, and stacked
    panels line the days up without a tangle of secondary axes."""
    panels = [
        ("index_close", f"{name} close", "#1f77b4"),
        ("index_volatility_7", f"{name} 7-day volatility", "#d62728"),
        ("precipitation_mm", term("precipitation_mm").titled, "#17becf"),
        ("news_share", news_title, "#9467bd"),
        ("vix", term("vix").label, "#ff7f0e"),
        ("treasury_10y", term("treasury_10y").label, "#2ca02c"),
    ]
    figure = make_subplots(
        rows=len(panels),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.04,
        subplot_titles=[p[1] for p in panels],
    )
    for row, (column, title, colour) in enumerate(panels, start=1):
        kind = go.Bar if column == "precipitation_mm" else go.Scatter
        trace_style = (
            {"marker_color": colour} if kind is go.Bar else {"line": {"color": colour, "width": 1.5}}
        )
        figure.add_trace(
            kind(
                x=days["trade_date"],
                y=days[column],
                name=title,
                hovertemplate=f"{hover_value(column)}<extra>{title}</extra>",
                **trace_style,
            ),
            row=row,
            col=1,
        )
        display.format_axis(figure, column, row=row, col=1)
    figure.update_layout(
        height=180 * len(panels), showlegend=False, margin={"t": 60, "b": 20}, hovermode="x unified"
    )
    return figure


st.title("Market")
first_day, last_day = queries.market_date_bounds()
start, end = url_filters.date_range("Period", first_day, last_day)
days = queries.market_series(start, end)
if days.empty:
    st.info("No trading days in this period.")
    st.stop()

name = index_name(days["index_symbol"].iloc[0])
topic = days["news_topic"].dropna()
first_close, last_close = days["index_close"].iloc[0], days["index_close"].iloc[-1]
change_column, close_column, volatility_column, days_column = st.columns(4)
close_column.metric(f"{name} close on {days['trade_date'].iloc[-1]}", level(last_close), border=True)
change_column.metric(
    "Change over the period", percent(last_close / first_close - 1, signed=True), border=True
)
volatility_column.metric("Mean 7-day volatility", percent(days["index_volatility_7"].mean()), border=True)
days_column.metric("Trading days", f"{len(days):,}", border=True)

news_title = f"Share of news articles on “{topic.iloc[-1]}”" if not topic.empty else term("news_share").label
display.chart(panels_figure, days, name, news_title)
