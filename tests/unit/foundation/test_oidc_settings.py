"""The OIDC login's settings (DASHBOARD_OIDC_*): all or none, never with a password, one clear line."""

from __future__ import annotations

import pytest

from pipeline.settings import SettingsError, load_settings

OIDC = {
    "dashboard_oidc_pool_id": "eu-west-1_AbCdEf123",
    "dashboard_oidc_client_id": "4h1fq2example7client",
    "dashboard_oidc_redirect_uri": "https://d111111abcdef8.cloudfront.net/oauth2callback",
}


def test_the_oidc_settings_name_cognitos_discovery_document_and_region():
    settings = load_settings(**OIDC)

    assert settings.uses_oidc_login
    assert settings.oidc_region == "eu-west-1"
    assert settings.oidc_metadata_url == (
        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123/.well-known/openid-configuration"
    )
    assert not load_settings().uses_oidc_login


def test_a_metadata_url_and_region_given_replace_cognitos():
    settings = load_settings(
        **OIDC,
        dashboard_oidc_region="us-east-2",
        dashboard_oidc_metadata_url="http://127.0.0.1:9/.well-known/openid-configuration",
    )
    assert settings.oidc_region == "us-east-2"
    assert settings.oidc_metadata_url == "http://127.0.0.1:9/.well-known/openid-configuration"


@pytest.mark.parametrize(
    ("password", "named"),
    [
        ({"dashboard_password": "a password"}, "DASHBOARD_PASSWORD"),
        (
            {"dashboard_login_secret_arn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:login"},
            "DASHBOARD_LOGIN_SECRET_ARN",
        ),
    ],
)
def test_a_password_and_the_oidc_login_together_are_one_clear_settings_error(password, named):
    with pytest.raises(SettingsError) as raised:
        load_settings(**OIDC, **password)

    assert str(raised.value) == (
        f"invalid setting DASHBOARD_OIDC_POOL_ID: the OIDC login cannot be combined with {named}; "
        "set one login only"
    )


def test_half_an_oidc_login_names_the_missing_setting():
    with pytest.raises(SettingsError, match=r"^invalid setting DASHBOARD_OIDC_CLIENT_ID: must be set with"):
        load_settings(**{**OIDC, "dashboard_oidc_client_id": ""})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("dashboard_oidc_pool_id", "not a pool"),
        ("dashboard_oidc_redirect_uri", "https://d111111abcdef8.cloudfront.net/"),
        ("dashboard_oidc_region", "Europe"),
    ],
)
def test_a_malformed_oidc_setting_is_one_line_naming_it(name, value):
    with pytest.raises(SettingsError) as raised:
        load_settings(**{**OIDC, name: value})
    assert str(raised.value).startswith(f"invalid setting {name.upper()}:")
    assert "\n" not in str(raised.value)


def test_the_client_secret_is_never_shown():
    settings = load_settings(**OIDC, dashboard_oidc_client_secret="s3cr3t-value")
    assert "s3cr3t-value" not in repr(settings)
