"""How the tests, the rehearsal and the benchmarks start headless Chromium: Debian's, with one set of flags.

`launch_options()` is the keyword arguments of Playwright's `chromium.launch`, for its sync and async
APIs alike.
"""

from __future__ import annotations

from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
)


def launch_options() -> dict[str, Any]:
    """`chromium.launch(**launch_options())`: Debian's headless Chromium with the project's flags."""
    return {"executable_path": CHROMIUM, "args": list(CHROMIUM_ARGS), "headless": True}
