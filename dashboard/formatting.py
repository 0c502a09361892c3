"""Short names for the number formats of `dashboard.vocabulary` that pages and their tests share."""

from __future__ import annotations

from dashboard.vocabulary import number


def percent(value: float | None, *, signed: bool = False) -> str:
    """A fraction as a percentage with two decimals (``0.0123`` -> ``1.23%``); "–" when missing."""
    return number(value, "signed_percent" if signed else "percent")


def level(value: float | None) -> str:
    """A price or index level with thousands separators and two decimals; "–" when missing."""
    return number(value, "level")
