"""Fixtures shared by every test: an isolated environment, and a real embedded PostgreSQL.

One pgserver instance serves the whole session; each test that asks for `database_url` gets a fresh,
empty database on it (and DATABASE_URL pointing at it), so tests never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from pipeline import db as pipeline_db
from pipeline.settings import Settings, get_settings

# Every variable the settings read, derived from the settings class so a new setting is cleared too.
_PIPELINE_VARIABLES = tuple(name.upper() for name in Settings.model_fields if name != "aws_region")


def reset_settings_caches() -> None:
    """Forget cached settings and embedded-server URIs (after changing the environment)."""
    get_settings.cache_clear()
    pipeline_db._embedded_uri.cache_clear()


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test runs with its own PIPELINE_HOME and none of the developer's pipeline or AWS settings."""
    for name in _PIPELINE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("PIPELINE_HOME", str(home))
    # moto and boto3 must never find real credentials or a real region setting.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    reset_settings_caches()
    yield home
    reset_settings_caches()


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real PostgreSQL 16 (pgserver) for the session; yields the URI of its `postgres` database."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

        base = tmp_path_factory.mktemp("pg")
        server = pgserver.get_server(base / "data", cleanup_mode="stop")
    yield server.get_uri()
    server.cleanup()


def create_database(server_uri: str) -> str:
    """Create an empty database on the session server; return its URI."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_uri, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server_uri.replace("/postgres?", f"/{name}?")


def database_name(url: str) -> str:
    """The database a URI names (its path, not the socket directory of its `host` parameter)."""
    return str(psycopg.conninfo.conninfo_to_dict(url)["dbname"])


def drop_database(server_uri: str, url: str) -> None:
    name = database_name(url)
    with psycopg.connect(server_uri, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database_url(pg_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh, empty database; DATABASE_URL points at it for the test."""
    url = create_database(pg_server)
    monkeypatch.setenv("DATABASE_URL", url)
    reset_settings_caches()
    yield url
    drop_database(pg_server, url)


@pytest.fixture
def migrated_database_url(database_url: str) -> str:
    """A fresh database with every migration applied."""
    from pipeline.migrations import migrate

    migrate()
    return database_url


@pytest.fixture
def subprocess_env() -> dict[str, str]:
    """The environment for running `pipeline` in a subprocess with the test's settings."""
    return dict(os.environ)
