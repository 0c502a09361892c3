"""Secrets Manager secrets in the RDS format, pointing at the test's PostgreSQL (for moto)."""

from __future__ import annotations

import json
from urllib.parse import unquote, urlsplit


def rds_secret(client, name: str, url: str, username: str, password: str) -> str:
    """Store a secret shaped like the one RDS generates, pointing at the test server; return its ARN."""
    parts = urlsplit(url)
    host = unquote(parts.query.split("host=")[1]) if "host=" in parts.query else parts.hostname
    secret = {
        "engine": "postgres",
        "host": host,
        "port": 5432,
        "username": username,
        "password": password,
        "dbname": parts.path.lstrip("/"),
    }
    return client.create_secret(Name=name, SecretString=json.dumps(secret))["ARN"]
