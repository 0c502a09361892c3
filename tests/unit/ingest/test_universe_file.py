"""Writing a refreshed universe: where it goes, its exact bytes, and the atomic replacement."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline import rawzone
from pipeline.reference import (
    Company,
    load_universe,
    refreshed_universe_path,
    save_universe,
    universe_csv,
)
from pipeline.settings import DEFAULT_UNIVERSE, load_settings

COMPANIES = [
    Company("BRK-B", "Berkshire Hathaway", "Financials", "Multi-Sector Holdings"),
    Company("ABNB", "Airbnb", "Consumer Discretionary", "Hotels, Resorts & Cruise Lines"),
    Company("BF-B", "Brown–Forman", "Consumer Staples", "Distillers & Vintners"),
]


def test_the_csv_has_the_shipped_files_shape_and_reads_back() -> None:
    text = universe_csv(COMPANIES).decode("utf-8")
    assert text == (
        "ticker,name,sector,industry\n"
        "BRK-B,Berkshire Hathaway,Financials,Multi-Sector Holdings\n"
        'ABNB,Airbnb,Consumer Discretionary,"Hotels, Resorts & Cruise Lines"\n'
        "BF-B,Brown–Forman,Consumer Staples,Distillers & Vintners\n"
    )


def test_the_shipped_universe_round_trips_byte_for_byte() -> None:
    assert universe_csv(load_universe(DEFAULT_UNIVERSE)) == DEFAULT_UNIVERSE.read_bytes()


def test_the_shipped_file_is_never_the_target(tmp_path: Path) -> None:
    home = tmp_path / "home"
    path, configured = refreshed_universe_path(load_settings(pipeline_home=home))
    assert (path, configured) == ((home / "universe.csv").resolve(), False)
    assert path != DEFAULT_UNIVERSE.resolve()


def test_a_universe_outside_the_package_is_updated_in_place(tmp_path: Path) -> None:
    own = tmp_path / "mine.csv"
    own.write_text("ticker,name,sector,industry\nMMM,3M,Industrials,Industrial Conglomerates\n")
    path, configured = refreshed_universe_path(
        load_settings(pipeline_home=tmp_path / "home", pipeline_universe=own)
    )
    assert (path, configured) == (own.resolve(), True)


def test_save_replaces_the_file_whole_and_keeps_its_mode(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    target = folder / "universe.csv"
    target.write_text("ticker,name,sector,industry\nOLD,Old Co,Energy,Oil\n")
    target.chmod(0o640)

    save_universe(target, COMPANIES)

    assert [company.ticker for company in load_universe(target)] == ["BRK-B", "ABNB", "BF-B"]
    assert target.stat().st_mode & 0o777 == 0o640
    assert sorted(os.listdir(folder)) == ["universe.csv"]  # no temporary file left behind


def test_save_creates_the_folder_of_a_new_file(tmp_path: Path) -> None:
    target = tmp_path / "new-home" / "universe.csv"
    save_universe(target, COMPANIES)
    assert target.read_bytes() == universe_csv(COMPANIES)


def test_a_failed_save_leaves_the_old_file_untouched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    target = folder / "universe.csv"
    old = b"ticker,name,sector,industry\nOLD,Old Co,Energy,Oil\n"
    target.write_bytes(old)

    def disk_full(source: str, destination: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(rawzone.os, "replace", disk_full)
    with pytest.raises(OSError, match="No space left"):
        save_universe(target, COMPANIES)

    assert target.read_bytes() == old
    assert sorted(os.listdir(folder)) == ["universe.csv"]
