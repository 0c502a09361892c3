"""The tile grid places every state of the pipeline's state list exactly once."""

from __future__ import annotations

import csv

from dashboard.state_grid import state_tiles
from pipeline.settings import US_STATES_FILE


def test_every_state_of_the_state_list_has_one_tile_of_its_own():
    with US_STATES_FILE.open(newline="") as states_file:
        codes = [row["code"] for row in csv.DictReader(states_file)]

    tiles = state_tiles()

    assert sorted(tiles["state"]) == sorted(codes)
    assert len(codes) == 50
    assert not tiles.duplicated(["row", "column"]).any()
