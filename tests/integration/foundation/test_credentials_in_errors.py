"""Connection errors, the CLI and the dashboard never print the password of a database URI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pipeline.db import DatabaseUnavailable, connect

SECRET = "s3cr3t-P4ss"
MALFORMED = [
    f"postgresql://owner:{SECRET}@127.0.0.1:notaport/db",
    f"postgresql://owner:{SECRET}@127.0.0.1:1/db?sslmode=sometimes",
    f"postgresql://owner:{SECRET}@127.0.0.1:1/db?no_such_option=1",
    f"postgresql://owner:{SECRET}@127.0.0.1:1/db",
]
APP_PATH = Path(__file__).resolve().parents[3] / "dashboard" / "app.py"


@pytest.mark.parametrize("url", MALFORMED)
def test_connect_errors_are_one_line_without_the_password(url):
    with pytest.raises(DatabaseUnavailable) as failed:
        connect(url)

    message = str(failed.value)
    assert SECRET not in message
    assert "owner:***@" in message
    assert "\n" not in message
    assert failed.value.__cause__ is None and failed.value.__suppress_context__


@pytest.mark.parametrize("url", MALFORMED[:3])
def test_the_dashboard_says_the_database_cannot_be_reached_without_the_password(monkeypatch, url):
    monkeypatch.setenv("DASHBOARD_DATABASE_URL", url)

    app = AppTest.from_file(str(APP_PATH), default_timeout=30).run()

    assert not app.exception
    shown = " ".join(element.value for element in [*app.error, *app.markdown, *app.title])
    assert "cannot be reached" in shown
    assert SECRET not in shown


def test_the_cli_prints_no_password_for_a_malformed_database_url(subprocess_env):
    environment = {**subprocess_env, "DATABASE_URL": MALFORMED[0]}

    completed = subprocess.run(
        [str(Path(sys.executable).parent / "pipeline"), "db", "migrate"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert completed.returncode == 1
    assert SECRET not in completed.stdout + completed.stderr
    assert "owner:***@" in completed.stderr
