"""The one user who may sign in: the name and a salted scrypt hash of the password, read once.

The password comes from a Secrets Manager secret ``{"username", "password"}`` (DASHBOARD_LOGIN_SECRET_ARN,
made by the stack) or from DASHBOARD_PASSWORD (user ``admin``). Only the hash is kept; an attempt is
hashed with the same salt and compared in constant time (`hmac.compare_digest`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass

from pipeline.settings import Settings

DEFAULT_USERNAME = "admin"
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


class LoginUnavailable(RuntimeError):
    """The login secret cannot be read; the dashboard stays closed rather than open."""


@dataclass(frozen=True)
class Credentials:
    """The one user who may sign in: the name, and the salted hash of the password."""

    username: str
    salt: bytes
    digest: bytes

    @classmethod
    def from_password(cls, username: str, password: str) -> Credentials:
        salt = os.urandom(16)
        return cls(username, salt, _hash(password, salt))

    def accepts(self, username: str, password: str) -> bool:
        """True for the right name and password; both compared in constant time."""
        name_matches = hmac.compare_digest(username.encode(), self.username.encode())
        password_matches = hmac.compare_digest(_hash(password, self.salt), self.digest)
        return name_matches and password_matches


def _hash(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)


def credentials_from(settings: Settings) -> Credentials | None:
    """The credentials the settings name, or None when the dashboard needs no login."""
    if settings.dashboard_password is not None:
        return Credentials.from_password(DEFAULT_USERNAME, settings.dashboard_password.get_secret_value())
    if settings.dashboard_login_secret_arn:
        return _credentials_from_secret(settings.dashboard_login_secret_arn, settings.aws_region)
    return None


def _credentials_from_secret(secret_arn: str, region: str | None) -> Credentials:
    import boto3

    parts = secret_arn.split(":")
    client = boto3.client("secretsmanager", region_name=region or (parts[3] if len(parts) > 3 else None))
    try:
        secret = json.loads(client.get_secret_value(SecretId=secret_arn)["SecretString"])
        return Credentials.from_password(
            str(secret.get("username", DEFAULT_USERNAME)), str(secret["password"])
        )
    except Exception as error:
        raise LoginUnavailable(f"cannot read the login secret {secret_arn}: {type(error).__name__}") from None
