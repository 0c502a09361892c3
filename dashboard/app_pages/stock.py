"""Stock: one ticker's price, returns and volatility, its company data, against its sector and the index."""

from __future__ import annotations

import plotly.express as px
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from dashboard import queries, url_filters
from dashboard.formatting import level, percent

DEFAULT_PERIOD_DAYS = 365

st.title("Stock")
companies = queries.tickers()
if companies.empty:
    st.info("The universe has no companies yet.")
    st.stop()
names = dict(zip(companies["ticker"], companies["name"], strict=True))
ticker = url_filters.single_choice("Ticker", list(names), param="ticker")
first_day, last_day = queries.market_date_bounds()
start, end = url_filters.date_range("Period", first_day, last_day, default_days=DEFAULT_PERIOD_DAYS)

profile = queries.company_profile(ticker)
if profile is None:
    st.info(f"{ticker} is not in the universe.")
    st.stop()
st.header(f"{profile['name']} ({ticker})")
st.caption(f"{profile['sector']} · {profile['industry']} · traded from {profile['first_trade_date']}")
close_column, return_column, low_column, high_column = st.columns(4)
close_column.metric(f"Last close ({profile['last_trade_date']})", level(profile["last_close"]), border=True)
return_column.metric("Last daily return", percent(profile["last_return"], signed=True), border=True)
low_column.metric("52-week low", level(profile["low_52w"]), border=True)
high_column.metric("52-week high", level(profile["high_52w"]), border=True)

bars = queries.stock_series(ticker, start, end)
if bars.empty:
    st.info(f"No bars for {ticker} in this period.")
    st.stop()

figure = make_subplots(
    rows=3,
    cols=1,
    shared_xaxes=True,
    vertical_spacing=0.03,
    row_heights=[0.5, 0.25, 0.25],
    subplot_titles=["Price", "Daily return", "7-day volatility"],
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
figure.add_trace(go.Bar(x=bars["trade_date"], y=bars["daily_return"], name="Daily return"), row=2, col=1)
figure.add_trace(
    go.Scatter(x=bars["trade_date"], y=bars["volatility_7"], name="7-day volatility"), row=3, col=1
)
figure.update_layout(height=650, showlegend=False, xaxis_rangeslider_visible=False, margin={"t": 30})
figure.update_yaxes(tickformat=".1%", row=2, col=1)
figure.update_yaxes(tickformat=".1%", row=3, col=1)
st.plotly_chart(figure)

comparison = queries.stock_against_benchmarks(ticker, start, end)
long_form = comparison.melt(id_vars="trade_date", var_name="series", value_name="cumulative_return")
long_form["series"] = long_form["series"].map(
    {"stock_return": ticker, "sector_return": f"{profile['sector']} (mean)", "index_return": "Index"}
)
figure = px.line(
    long_form,
    x="trade_date",
    y="cumulative_return",
    color="series",
    labels={"trade_date": "", "cumulative_return": "Cumulative return", "series": ""},
    title=f"{ticker} against its sector and the index",
)
figure.update_yaxes(tickformat=".0%")
st.plotly_chart(figure)
