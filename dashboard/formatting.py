"""How the dashboard writes numbers: one place, so that pages (and the tests that read them) agree."""

from __future__ import annotations

import math


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def percent(value: float | None, *, signed: bool = False) -> str:
    """A fraction as a percentage with two decimals (``0.0123`` -> ``1.23%``); ``n/a`` when missing."""
    if _missing(value):
        return "n/a"
    return f"{value:+.2%}" if signed else f"{value:.2%}"


def level(value: float | None) -> str:
    """A price or index level with thousands separators and two decimals; ``n/a`` when missing."""
    return "n/a" if _missing(value) else f"{value:,.2f}"
