"""Credentials never reach a message: URIs, conninfo strings and malformed values alike."""

from __future__ import annotations

import pytest

from pipeline.redaction import redact
from pipeline.settings import SettingsError, load_settings

SECRET = "s3cr3t-P4ss"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            f"postgresql://owner:{SECRET}@db.example:5432/pipeline",
            "postgresql://owner:***@db.example:5432/pipeline",
        ),
        (f"postgres://owner:{SECRET}@[::1", "postgres://owner:***@[::1"),
        (f"postgresql://owner:{SECRET}@host:notaport/db", "postgresql://owner:***@host:notaport/db"),
        (f'missing "=" after "postgresql://u:{SECRET}@h/db" in connection info string', None),
        (f"host=db user=owner password={SECRET} dbname=x", "host=db user=owner password=*** dbname=x"),
        (f"host=db password='{SECRET} with spaces' dbname=x", "host=db password=*** dbname=x"),
        ("postgresql://owner@host/db", "postgresql://owner@host/db"),
    ],
)
def test_redact_masks_every_password(text, shown):
    redacted = redact(text)
    assert SECRET not in redacted
    if shown is not None:
        assert redacted == shown


@pytest.mark.parametrize("variable", ["DATABASE_URL", "DASHBOARD_DATABASE_URL", "EXPLORER_DATABASE_URL"])
def test_a_malformed_database_url_setting_names_the_variable_without_the_password(monkeypatch, variable):
    monkeypatch.setenv(variable, f"mysql://owner:{SECRET}@db.example/pipeline")

    with pytest.raises(SettingsError) as refused:
        load_settings()

    assert variable in str(refused.value)
    assert SECRET not in str(refused.value)
    assert "owner:***@" in str(refused.value)
