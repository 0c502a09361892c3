"""Weather and sentiment: precipitation and temperature by state on a US tile map; the news on the topic
(volume and tone); the market in high and low news volume, and on negative- and positive-tone days."""

from __future__ import annotations

import textwrap

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from dashboard import display, queries, url_filters
from dashboard.formatting import percent
from dashboard.state_grid import state_tile_map
from dashboard.vocabulary import d3_format, hover_value, label, show, term, value_label

#: The measures the map can show, with the colour scale that reads naturally for each.
MEASURES = {
    "mean_precipitation_mm": "Blues",
    "total_precipitation_mm": "Blues",
    "mean_temp_c": "RdBu_r",
    "max_temp_c": "Reds",
    "min_temp_c": "Blues_r",
}
#: Which end of each measure the headline names ("wettest", "hottest"), highest first unless listed.
HEADLINES = {
    "mean_precipitation_mm": "Wettest state",
    "total_precipitation_mm": "Wettest state",
    "mean_temp_c": "Warmest state",
    "max_temp_c": "Hottest day's state",
    "min_temp_c": "Coldest night's state",
}
LOWEST_FIRST = {"min_temp_c"}


def news_figure(news: pd.DataFrame) -> go.Figure:
    """The day's count of articles on the topic above their mean tone, on one date axis."""
    figure = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.12,
        subplot_titles=[label("news_matching"), label("news_tone")],
    )
    figure.add_trace(
        go.Bar(
            x=news["trade_date"],
            y=news["news_matching"],
            marker_color="#9467bd",
            hovertemplate=f"{hover_value('news_matching')}<extra>{label('news_matching')}</extra>",
        ),
        row=1,
        col=1,
    )
    figure.add_trace(
        go.Scatter(
            x=news["trade_date"],
            y=news["news_tone"],
            mode="lines+markers",
            marker={"size": 3},
            line={"color": "#8c564b", "width": 1.5},
            hovertemplate=f"{hover_value('news_tone')}<extra>{label('news_tone')}</extra>",
        ),
        row=2,
        col=1,
    )
    figure.add_hline(y=0, line={"color": "#7f7f7f", "width": 1, "dash": "dot"}, row=2, col=1)
    display.format_axis(figure, "news_matching", row=1, col=1)
    display.format_axis(figure, "news_tone", row=2, col=1)
    figure.update_layout(height=420, showlegend=False, margin={"t": 60, "b": 20}, hovermode="x unified")
    return figure


def regimes_figure(long_form: pd.DataFrame) -> go.Figure:
    """The index's return and volatilities on high and low news-volume days, side by side."""
    figure = px.bar(
        long_form,
        x="variable",
        y="value",
        color="regime",
        barmode="group",
        labels={"variable": "", "value": "", "regime": label("regime")},
    )
    figure.update_traces(hovertemplate="%{x}: %{y:.2%}")
    figure.update_yaxes(tickformat=".2%")
    figure.update_xaxes(tickangle=0)
    return display.phone_friendly(figure)


st.title("Weather and sentiment")
first_day, last_day = queries.market_date_bounds()
start, end = url_filters.date_range("Day or period", first_day, last_day)

states = queries.weather_by_state(start, end)
measure = url_filters.single_choice(
    "Measure", list(MEASURES), param="measure", format_func=lambda column: term(column).titled
)
if states.empty:
    st.info("No weather observations in this period.")
else:
    ranked = states.sort_values(measure, ascending=measure in LOWEST_FIRST, na_position="last")
    top = ranked.iloc[0]
    st.metric(
        f"{HEADLINES[measure]} ({label(measure).lower()})", f"{top['state']}: {show(measure, top[measure])}"
    )
    # A tile grid rather than a choropleth: it needs no state outlines, so it draws offline too.
    display.chart(
        state_tile_map,
        states,
        measure,
        term(measure).titled,
        # Two lines: one would run off a phone's screen.
        title=f"{label(measure)} by state<br>{start} to {end}",
        colorscale=MEASURES[measure],
        value_format=d3_format(measure),
        trace_name=label(measure),
    )
    st.subheader("States ranked")
    display.table(
        ranked[["state", measure, *(c for c in MEASURES if c not in (measure, "total_precipitation_mm"))]],
        max_rows=12,
    )

news = queries.market_series(start, end)
topic = news["news_topic"].dropna()
topic_words = f"on “{topic.iloc[-1]}”" if not topic.empty else "on the topic"

st.header(f"News {topic_words}: volume and tone")
st.caption(
    f"GDELT's count of the day's news articles {topic_words}, and their mean tone: the share of positive "
    "words minus the share of negative ones, in percent of the articles' words (0 is neutral; most days "
    "fall between −5 and +5). A day without an article on the topic has no tone."
)
if news[["news_matching", "news_tone"]].notna().any(axis=None):
    display.chart(news_figure, news)
else:
    st.info(f"No news {topic_words} on the trading days of this period.")

st.subheader("Market on negative- versus positive-tone days")
tones = queries.news_tone_regimes(start, end).set_index("tone_regime")
tone_days = {regime: int(tones.loc[regime, "days"]) for regime in ("negative", "positive")}
if min(tone_days.values()) < queries.MIN_TONE_DAYS:
    st.info(
        f"Not compared: this period has {tone_days['negative']:,} trading days of negative news tone "
        f"{topic_words} and {tone_days['positive']:,} of positive tone; each side needs at least "
        f"{queries.MIN_TONE_DAYS} for its mean return to say more than day-to-day noise. Choose a longer period."
    )
else:
    st.caption(
        f"Trading days split by the sign of the day's mean news tone {topic_words} (days without a tone "
        "left out): the index's mean daily return, the volatility of its daily returns and its mean "
        "7-day volatility on each side."
    )
    tone_columns = st.columns(2)
    for column, regime in zip(tone_columns, ("negative", "positive"), strict=True):
        row = tones.loc[regime]
        words = value_label("tone_regime", regime).lower()
        column.metric(
            f"Mean index daily return, {words} ({tone_days[regime]:,} days)",
            percent(row["mean_return"], signed=True),
            border=True,
        )
        column.metric(f"Volatility of daily returns, {words}", percent(row["return_volatility"]), border=True)
    display.table(tones.reset_index(), max_rows=2)

st.header("Market in high and low news volume")
regimes = queries.news_volume_regimes(start, end)
if regimes.empty:
    st.info("No news observations on trading days in this period.")
    st.stop()
st.caption(
    f"Trading days split at the period's median of {regimes['median_matching'].iloc[0]:,.0f} news articles "
    f"{topic_words} a day (GDELT): above it is high news volume, at or below it low."
)
regime_columns = st.columns(len(regimes))
for column, regime in zip(regime_columns, regimes.itertuples(), strict=True):
    words = value_label("regime", regime.regime).lower()
    column.metric(
        f"Mean index daily return, {words} news volume ({regime.days} days)",
        percent(regime.mean_return, signed=True),
        border=True,
    )
    column.metric(
        f"Mean 7-day volatility, {words} news volume", percent(regime.mean_volatility_7), border=True
    )
measures = ["mean_return", "return_volatility", "mean_volatility_7"]
long_form = regimes.assign(regime=[value_label("regime", v) for v in regimes["regime"]]).melt(
    id_vars="regime", value_vars=measures
)
# Wrapped, level labels: rotated ones run into the legend under the chart on a phone.
long_form["variable"] = [f"{'<br>'.join(textwrap.wrap(label(v), 16))}" for v in long_form["variable"]]
display.chart(regimes_figure, long_form)
