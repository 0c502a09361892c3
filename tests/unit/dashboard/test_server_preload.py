"""The dashboard's server imports the pages' modules before it answers, and says nothing about it: each
cached function's "No runtime found" warning (logged when its decorator runs before Streamlit's runtime)
is dropped, and nothing else is."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from cli import streamlit_server


def test_the_server_starts_without_a_warning_per_cached_function() -> None:
    # `streamlit version` through the server's entry point: the preload runs, then Streamlit's CLI.
    started = subprocess.run(
        [sys.executable, "-m", "cli.streamlit_server", "version"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert started.returncode == 0, started.stderr
    assert "Streamlit, version" in started.stdout
    assert "No runtime found" not in started.stderr + started.stdout
    assert "WARNING" not in started.stderr


def test_the_preload_imports_the_pages_modules_and_keeps_other_warnings(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for name in streamlit_server.PRELOADED_MODULES:
        monkeypatch.delitem(sys.modules, name, raising=False)
    cache_log = logging.getLogger(streamlit_server.CACHE_LOGGERS[0])
    monkeypatch.setattr(cache_log, "propagate", True)
    with caplog.at_level(logging.WARNING, logger=cache_log.name):
        streamlit_server.preload_page_modules()
        cache_log.warning("a cache warning of another kind")
    assert all(name in sys.modules for name in streamlit_server.PRELOADED_MODULES)
    messages = {record.getMessage() for record in caplog.records}
    assert messages == {"a cache warning of another kind"}
