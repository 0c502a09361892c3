"""An empty database and an unreachable one each get a clear page, never a traceback."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.dashboard.conftest import APP_PATH

APP_TIMEOUT_SECONDS = 30


def all_text(app: AppTest) -> str:
    parts = [element.value for element in (*app.title, *app.markdown, *app.code, *app.error, *app.info)]
    return "\n".join(str(part) for part in parts)


def test_an_empty_database_says_which_commands_load_data(migrated_database_url):
    app = AppTest.from_file(str(APP_PATH), default_timeout=APP_TIMEOUT_SECONDS).run()

    assert not app.exception, app.exception
    assert app.title[0].value == "No data yet"
    text = all_text(app)
    assert "pipeline sample\npipeline etl" in text
    assert "pipeline run" in text


def test_an_unreachable_database_shows_a_message_and_a_retry_button(monkeypatch):
    from tests.conftest import reset_settings_caches

    # Port 1 on the loopback refuses connections at once.
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/nothing")
    reset_settings_caches()

    app = AppTest.from_file(str(APP_PATH), default_timeout=APP_TIMEOUT_SECONDS).run()

    assert not app.exception, app.exception
    assert app.title[0].value == "The database cannot be reached"
    assert "127.0.0.1" in app.error[0].value
    assert app.button[0].label == "Retry"
    app.button[0].click().run()
    assert not app.exception, app.exception
    assert app.title[0].value == "The database cannot be reached"


def test_retry_recovers_once_the_database_answers(seeded_database_url, monkeypatch):
    from tests.conftest import reset_settings_caches

    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/nothing")
    reset_settings_caches()
    app = AppTest.from_file(str(APP_PATH), default_timeout=APP_TIMEOUT_SECONDS).run()
    assert app.title[0].value == "The database cannot be reached"

    monkeypatch.setenv("DATABASE_URL", seeded_database_url)
    reset_settings_caches()
    app.button[0].click().run()

    assert not app.exception, app.exception
    assert app.title[0].value.startswith("Market overview")
