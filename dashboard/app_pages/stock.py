"""Stock: one ticker's price, volume, returns and volatility, its company data, against its sector and the index."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from dashboard import display, queries, url_filters
from dashboard.formatting import level, percent
from dashboard.vocabulary import hover_value, index_name, label, number


def bars_figure(bars: pd.DataFrame, ticker: str) -> go.Figure:
    """Price candles, volume, daily return and 7-day volatility in four panels on one date axis."""
    panels = ["Price", label("volume"), label("daily_return"), label("volatility_7")]
    figure = make_subplots(
        rows=4,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.05,
        row_heights=[0.4, 0.2, 0.2, 0.2],
        subplot_titles=panels,
    )
    figure.add_trace(
        go.Candlestick(
            x=bars["trade_date"],
            open=bars["open"],
            high=bars["high"],
            low=bars["low"],
            close=bars["close"],
            name=ticker,
        ),
        row=1,
        col=1,
    )
    for row, column, kind in (
        (2, "volume", go.Bar),
        (3, "daily_return", go.Bar),
        (4, "volatility_7", go.Scatter),
    ):
        figure.add_trace(
            kind(
                x=bars["trade_date"],
                y=bars[column],
                name=label(column),
                hovertemplate=f"%{{x|%Y-%m-%d}}: {hover_value(column)}<extra>{label(column)}</extra>",
            ),
            row=row,
            col=1,
        )
        display.format_axis(figure, column, row=row, col=1)
    figure.update_yaxes(tickformat=",.2f", row=1, col=1)
    figure.update_layout(height=760, showlegend=False, xaxis_rangeslider_visible=False, margin={"t": 60})
    return figure


def comparison_figure(long_form: pd.DataFrame, title: str) -> go.Figure:
    """Cumulative returns of the stock, its sector's mean and the index, one line each."""
    figure = px.line(
        long_form,
        x="trade_date",
        y="cumulative_return",
        color="series",
        labels={"trade_date": "", "cumulative_return": label("cumulative_return"), "series": ""},
        title=title,
    )
    figure.update_traces(hovertemplate=f"%{{x|%Y-%m-%d}}: {hover_value('cumulative_return')}")
    display.format_axis(figure, "cumulative_return")
    figure.update_layout(height=420)
    return display.phone_friendly(figure)


st.title("Stock")
companies = queries.tickers()
if companies.empty:
    st.info("No company has prices yet.")
    st.stop()
choices = {
    row.ticker: f"{row.ticker} · {row.name} ({row.sector})" for row in companies.itertuples(index=False)
}
# The most traded stock of the last day opens the page, not the first ticker of the alphabet.
most_traded = companies.sort_values("traded_value", ascending=False, na_position="last")["ticker"].iloc[0]
ticker = url_filters.single_choice(
    "Company", list(choices), param="ticker", default=most_traded, format_func=choices.get
)
first_day, last_day = queries.market_date_bounds()
start, end = url_filters.date_range("Period", first_day, last_day)

profile = queries.company_profile(ticker)
if profile is None:
    st.info(f"{ticker} is not in the universe.")
    st.stop()
st.header(f"{profile['name']} ({ticker})")
st.caption(
    f"{profile['sector']} · {profile['industry']} · prices from {number(profile['first_trade_date'], 'date')}"
)
close_column, return_column, low_column, high_column = st.columns(4)
close_column.metric(
    f"Last close ({number(profile['last_trade_date'], 'date')})", level(profile["last_close"]), border=True
)
return_column.metric("Last daily return", percent(profile["last_return"], signed=True), border=True)
low_column.metric("52-week low", level(profile["low_52w"]), border=True)
high_column.metric("52-week high", level(profile["high_52w"]), border=True)

bars = queries.stock_series(ticker, start, end)
if bars.empty:
    st.info(f"No prices for {ticker} in this period.")
    st.stop()

display.chart(bars_figure, bars, ticker)

comparison = queries.stock_against_benchmarks(ticker, start, end)
index = index_name(queries.latest_market_day()["index_symbol"])
long_form = comparison.melt(id_vars="trade_date", var_name="series", value_name="cumulative_return")
long_form["series"] = long_form["series"].map(
    {"stock_return": ticker, "sector_return": f"{profile['sector']} (mean)", "index_return": index}
)
display.chart(comparison_figure, long_form, f"{ticker} against its sector and the {index}")
