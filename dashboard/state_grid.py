"""A US state tile-grid map: every state one square at a fixed grid position, drawn with no map download.

plotly's choropleth needs its state outlines (topojson), which the *browser* fetches from Plotly's CDN,
so offline networks showed an empty map. A tile grid needs no geometry at all: each state is a cell of
a plotly heatmap. The layout is NPR's tile grid ("Let's Tile the United States", 2015) without DC, and
the state names come from `pipeline/data/us_states.csv`, the one list of states the pipeline uses.
"""

from __future__ import annotations

import csv
import functools

import pandas as pd
import plotly.graph_objects as go

from pipeline.settings import US_STATES_FILE

# The grid, north at the top: one USPS code per tile, ".." for an empty cell.
STATE_GRID_ROWS = (
    "AK .. .. .. .. .. .. .. .. .. ME",
    ".. .. .. .. .. .. .. .. .. VT NH",
    "WA ID MT ND MN IL WI MI NY RI MA",
    "OR NV WY SD IA IN OH PA NJ CT ..",
    "CA UT CO NE MO KY WV VA MD DE ..",
    ".. AZ NM KS AR TN NC SC .. .. ..",
    ".. .. .. OK LA MS AL GA .. .. ..",
    "HI .. .. TX .. .. .. .. FL .. ..",
)
EMPTY_CELL = ".."
NO_DATA_COLOUR = "#e6e6e6"


@functools.cache
def state_tiles() -> pd.DataFrame:
    """One row per state: `state` (USPS code), `name`, and its tile's `row` and `column` on the grid."""
    with US_STATES_FILE.open(newline="") as states_file:
        names = {record["code"]: record["name"] for record in csv.DictReader(states_file)}
    tiles = [
        {"state": code, "name": names[code], "row": row, "column": column}
        for row, line in enumerate(STATE_GRID_ROWS)
        for column, code in enumerate(line.split())
        if code != EMPTY_CELL
    ]
    return pd.DataFrame(tiles)


def _grid(values: pd.Series, empty: object = None) -> list[list[object]]:
    """`values` (indexed by state code) laid out on the grid; `empty` where there is no state or value.

    Numbers leave None (a gap plotly neither colours nor hovers); labels leave "" because plotly.js
    would print "null".
    """
    width = max(len(line.split()) for line in STATE_GRID_ROWS)
    cells: list[list[object]] = [[empty] * width for _ in STATE_GRID_ROWS]
    for tile in state_tiles().itertuples():
        value = values.get(tile.state)
        cells[tile.row][tile.column] = empty if pd.isna(value) else value
    return cells


def state_tile_map(
    states: pd.DataFrame,
    measure: str,
    measure_label: str,
    title: str,
    *,
    colorscale: str = "Blues",
    value_format: str = ".1f",
    trace_name: str = "Precipitation",
) -> go.Figure:
    """A tile map coloured by `states[measure]` (one row per USPS code in `states["state"]`).

    States without a value in `states` stay as grey tiles so the map keeps its shape; hovering a tile
    shows the state's name, the measure and the days observed.
    """
    tiles = state_tiles().set_index("state")
    observed = states.set_index("state")
    observed = observed[observed.index.isin(tiles.index) & observed[measure].notna()]
    names = _grid(tiles["name"])
    missing = tiles.index.difference(observed.index)
    figure = go.Figure()
    figure.add_trace(
        go.Heatmap(
            name="No observations",
            z=_grid(pd.Series(0, index=missing)),
            zmin=0,
            zmax=1,
            text=_grid(pd.Series(missing, index=missing), empty=""),
            customdata=names,
            texttemplate="%{text}",
            textfont={"color": "#777777"},
            colorscale=[[0, NO_DATA_COLOUR], [1, NO_DATA_COLOUR]],
            showscale=False,
            xgap=3,
            ygap=3,
            hoverongaps=False,
            hovertemplate="%{customdata} (%{text})<br>no observations<extra></extra>",
        )
    )
    figure.add_trace(
        go.Heatmap(
            name=trace_name,
            z=_grid(observed[measure]),
            text=_grid(pd.Series(observed.index, index=observed.index), empty=""),
            customdata=[
                [[name, days] for name, days in zip(name_row, days_row, strict=True)]
                for name_row, days_row in zip(names, _grid(observed["days"]), strict=True)
            ],
            texttemplate="%{text}",
            colorscale=colorscale,
            # Below the tiles, in the bottom margin: a bar laid over the grid would hide its last row.
            colorbar={
                "title": {"text": measure_label, "side": "top"},
                "orientation": "h",
                "y": -0.02,
                "yanchor": "top",
                "thickness": 16,
            },
            xgap=3,
            ygap=3,
            hoverongaps=False,
            hovertemplate=(
                f"%{{customdata[0]}} (%{{text}})<br>{measure_label}: %{{z:{value_format}}}"
                "<br>days observed: %{customdata[1]}<extra></extra>"
            ),
        )
    )
    hidden_axis = {"showgrid": False, "zeroline": False, "showticklabels": False, "ticks": ""}
    figure.update_xaxes(**hidden_axis, constrain="domain")
    # Row 0 is the north: reversed y, and one y unit as long as one x unit keeps the tiles square.
    figure.update_yaxes(**hidden_axis, autorange="reversed", scaleanchor="x", scaleratio=1)
    figure.update_layout(
        title=title,
        height=580,
        margin={"l": 0, "r": 0, "t": 60, "b": 80},
        plot_bgcolor="rgba(0,0,0,0)",
    )
    return figure
