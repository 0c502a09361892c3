"""One validated settings object, read once from the environment (the README's configuration table).

Every other module asks `get_settings()`; nothing else reads `os.environ` for pipeline settings. An
invalid value raises `SettingsError`, whose message is one line naming the variable.

Each setting comes from the variable named like its field in capitals (``pipeline_home`` from
``PIPELINE_HOME``, in any case), validated by a pydantic model. The variables are matched here rather
than by pydantic-settings, whose import (its sources, dotenv, argparse) cost about 35 ms of every
command and Lambda start, a tenth of a run with nothing new.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Any

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from pipeline.redaction import redact

DEFAULT_UNIVERSE = Path(__file__).parent / "data" / "universe.csv"
US_STATES_FILE = Path(__file__).parent / "data" / "us_states.csv"

_FRED_SERIES = re.compile(r"^[A-Z0-9_]{1,30}$")
_INDEX_SYMBOL = re.compile(r"^\^?[A-Z0-9.\-=]{1,15}$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
# s3://bucket or s3://bucket/prefix (no trailing slash needed, none kept).
_S3_URI = re.compile(r"^s3://([a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])(/[A-Za-z0-9!_.*'()/\-]*)?$")

# Given as one comma-separated variable (split by `_split_commas`).
CommaList = tuple[str, ...]


class SettingsError(ValueError):
    """A setting has an invalid value; the message is one line that names the variable."""


class Settings(BaseModel):
    """The pipeline's configuration; the README's configuration table gives the meaning of each variable."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    pipeline_home: Path = Field(default_factory=lambda: Path.cwd() / ".pipeline")
    database_url: str | None = None
    db_secret_arn: str | None = None
    # The dashboard's own credentials (role dashboard_reader); derived from the above when unset.
    dashboard_database_url: str | None = None
    dashboard_db_secret_arn: str | None = None
    # The SQL explorer's credentials (role dashboard_explorer); derived from the above when unset.
    explorer_database_url: str | None = None
    explorer_db_secret_arn: str | None = None
    # The dashboard's login: a Secrets Manager secret {"username", "password"} (AWS), or a password set
    # directly (tests, a shared machine); neither set means no login (`pipeline demo` on localhost).
    dashboard_login_secret_arn: str | None = None
    dashboard_password: SecretStr | None = None
    # Set by `pipeline dashboard` for the Streamlit it starts behind its sign-in gate (dashboard.gate):
    # the key of the signed user name the gate hands Streamlit with each request.
    dashboard_gate_secret: SecretStr | None = None
    # Or Streamlit's own OIDC login (st.login) with a Cognito user pool (dashboard_login=cognito): the
    # pool, its app client, the region and the dashboard's callback URL (.../oauth2callback). The client
    # secret is read from Cognito at start unless given (local use); the provider's metadata URL is
    # Cognito's unless given (tests, a proxy).
    dashboard_oidc_pool_id: str | None = Field(default=None, pattern=r"^[a-z]{2}(-[a-z]+)+-\d+_[0-9A-Za-z]+$")
    dashboard_oidc_client_id: str | None = Field(default=None, pattern=r"^[\w+]+$")
    dashboard_oidc_region: str | None = Field(default=None, pattern=r"^[a-z]{2}(-[a-z]+)+-\d+$")
    dashboard_oidc_redirect_uri: AnyHttpUrl | None = None
    dashboard_oidc_client_secret: SecretStr | None = None
    dashboard_oidc_metadata_url: AnyHttpUrl | None = None
    raw_bucket: str | None = None
    aws_region: str | None = None
    pipeline_universe: Path = DEFAULT_UNIVERSE
    pipeline_indexes: CommaList = ("^GSPC",)
    pipeline_fred_series: CommaList = ("VIXCLS", "DGS10")
    pipeline_news_topics: CommaList = ("depression",)
    yahoo_chart_url: AnyHttpUrl = AnyHttpUrl("https://query1.finance.yahoo.com/v8/finance/chart")
    open_meteo_archive_url: AnyHttpUrl = AnyHttpUrl("https://archive-api.open-meteo.com/v1/archive")
    open_meteo_forecast_url: AnyHttpUrl = AnyHttpUrl("https://api.open-meteo.com/v1/forecast")
    gdelt_doc_url: AnyHttpUrl = AnyHttpUrl("https://api.gdeltproject.org/api/v2/doc/doc")
    fred_graph_url: AnyHttpUrl = AnyHttpUrl("https://fred.stlouisfed.org/graph/fredgraph.csv")
    wikipedia_constituents_url: AnyHttpUrl = AnyHttpUrl(
        "https://en.wikipedia.org/wiki/List_of_S%26P_500_companies"
    )
    # How many ingestion shards may run at once (the shard queue's concurrency cap in AWS); each
    # shard's pacing is multiplied by it so every API's rate holds across them. 1: one at a time.
    ingest_concurrency: int = Field(default=1, ge=1, le=10)
    # The SQS queue the dispatcher sends shards to (AWS); unset: the dispatcher runs them in-process.
    shard_queue_url: AnyHttpUrl | None = None
    # The SQS queue of new raw objects (S3 events) that `pipeline etl --follow` drains.
    etl_queue_url: AnyHttpUrl | None = None
    # The CloudWatch namespace of the embedded-metric log lines (`pipeline.telemetry`); unset: none
    # are written (a local run's terminal stays readable). The stack sets it for the Lambdas and the
    # instance.
    pipeline_metrics_namespace: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_./#:-]{1,255}$")
    # The lakehouse (etl.lake): where its Iceberg tables live, a folder (with the SQLite catalog
    # catalog.db in it) or s3://bucket/prefix (the Glue Data Catalog); unset: no lake. The namespace
    # (the Glue database on AWS, which the stack names) its tables are in.
    lake_warehouse: str | None = None
    lake_database: str = Field(default="curated", pattern=r"^[a-z][a-z0-9_]{0,254}$")
    # An S3 and Glue endpoint other than AWS's (an emulator); boto3 reads the same variable.
    aws_endpoint_url: AnyHttpUrl | None = None

    @field_validator("pipeline_home")
    @classmethod
    def _home_is_a_folder(cls, home: Path) -> Path:
        # Checked here, not where the embedded database or raw zone first write into it: a file named
        # like the folder otherwise surfaces as a bare FileExistsError halfway through a command.
        if home.exists() and not home.is_dir():
            raise ValueError(f"{home} is a file, not a folder")
        return home

    @field_validator("pipeline_indexes", "pipeline_fred_series", "pipeline_news_topics", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            items = tuple(item.strip() for item in value.split(",") if item.strip())
            if not items:
                raise ValueError("must name at least one item (comma-separated)")
            return items
        return value

    @field_validator("pipeline_indexes")
    @classmethod
    def _check_indexes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [item for item in value if not _INDEX_SYMBOL.match(item)]
        if bad:
            raise ValueError(f"not a Yahoo symbol: {', '.join(bad)}")
        return value

    @field_validator("pipeline_fred_series")
    @classmethod
    def _check_series(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [item for item in value if not _FRED_SERIES.match(item)]
        if bad:
            raise ValueError(f"not a FRED series id: {', '.join(bad)}")
        return value

    @field_validator("pipeline_universe")
    @classmethod
    def _check_universe(cls, value: Path) -> Path:
        if not value.is_file():
            raise ValueError(f"file not found: {value}")
        return value

    @field_validator("raw_bucket")
    @classmethod
    def _check_bucket(cls, value: str | None) -> str | None:
        if value is not None and not _BUCKET.match(value):
            raise ValueError(f"not an S3 bucket name: {value!r}")
        return value or None

    @field_validator("lake_warehouse")
    @classmethod
    def _check_lake_warehouse(cls, value: str | None) -> str | None:
        if not value or not value.strip():
            return None
        value = value.strip()
        if value.startswith("s3://"):
            if not _S3_URI.match(value):
                raise ValueError("not an s3://bucket/prefix URI")
            return value.rstrip("/")
        if "://" in value:
            raise ValueError("must be a folder or an s3://bucket/prefix URI")
        folder = Path(value).expanduser().absolute()
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"{folder} is a file, not a folder")
        return str(folder)

    @field_validator("database_url", "dashboard_database_url", "explorer_database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql:// URI")
        return value or None

    @field_validator(
        "db_secret_arn", "dashboard_db_secret_arn", "explorer_db_secret_arn", "dashboard_login_secret_arn"
    )
    @classmethod
    def _check_arn(cls, value: str | None) -> str | None:
        if value and not value.startswith("arn:"):
            raise ValueError(f"not an ARN: {value!r}")
        return value or None

    @field_validator("dashboard_password")
    @classmethod
    def _check_password(cls, value: SecretStr | None) -> SecretStr | None:
        return value if value and value.get_secret_value() else None

    @field_validator(
        "dashboard_oidc_pool_id",
        "dashboard_oidc_client_id",
        "dashboard_oidc_region",
        "dashboard_oidc_redirect_uri",
        "dashboard_oidc_client_secret",
        "dashboard_oidc_metadata_url",
        "aws_endpoint_url",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("dashboard_oidc_redirect_uri")
    @classmethod
    def _check_redirect_uri(cls, value: AnyHttpUrl | None) -> AnyHttpUrl | None:
        if value is not None and value.path != "/oauth2callback":
            raise ValueError("must be the dashboard's address ending in /oauth2callback")
        return value

    @model_validator(mode="after")
    def _check_one_login(self) -> Settings:
        oidc = {
            "DASHBOARD_OIDC_POOL_ID": self.dashboard_oidc_pool_id,
            "DASHBOARD_OIDC_CLIENT_ID": self.dashboard_oidc_client_id,
            "DASHBOARD_OIDC_REDIRECT_URI": self.dashboard_oidc_redirect_uri,
        }
        if not any(oidc.values()):
            return self
        missing = [name for name, value in oidc.items() if not value]
        if missing:
            raise ValueError(f"{missing[0]}: must be set with the other DASHBOARD_OIDC_* settings")
        password = [
            name
            for name, value in {
                "DASHBOARD_PASSWORD": self.dashboard_password,
                "DASHBOARD_LOGIN_SECRET_ARN": self.dashboard_login_secret_arn,
            }.items()
            if value
        ]
        if password:
            raise ValueError(
                f"DASHBOARD_OIDC_POOL_ID: the OIDC login cannot be combined with {password[0]}; set one login only"
            )
        return self

    @property
    def uses_password_login(self) -> bool:
        """True when visitors sign in with the password (DASHBOARD_PASSWORD or the login secret)."""
        return bool(self.dashboard_password or self.dashboard_login_secret_arn)

    @property
    def uses_oidc_login(self) -> bool:
        """True when visitors sign in through the OIDC provider (st.login), not with a password."""
        return self.dashboard_oidc_pool_id is not None

    @property
    def oidc_region(self) -> str:
        """The user pool's region: the setting, else the pool id's prefix (``us-east-1_AbC``)."""
        assert self.dashboard_oidc_pool_id, "no OIDC login configured"
        return self.dashboard_oidc_region or self.dashboard_oidc_pool_id.split("_", 1)[0]

    @property
    def oidc_metadata_url(self) -> str:
        """The provider's discovery document: the setting, else the user pool's at Cognito."""
        if self.dashboard_oidc_metadata_url is not None:
            return str(self.dashboard_oidc_metadata_url)
        return (
            f"https://cognito-idp.{self.oidc_region}.amazonaws.com/"
            f"{self.dashboard_oidc_pool_id}/.well-known/openid-configuration"
        )

    @property
    def lake_on_s3(self) -> bool:
        """True when the lake's warehouse is on S3 (the Glue catalog), False for a local folder."""
        return bool(self.lake_warehouse and self.lake_warehouse.startswith("s3://"))

    @property
    def uses_embedded_database(self) -> bool:
        """True when neither DATABASE_URL nor DB_SECRET_ARN is set: the embedded PostgreSQL is used."""
        return self.database_url is None and self.db_secret_arn is None

    def url(self, name: str) -> str:
        """An endpoint setting as a string without a trailing slash (e.g. ``url("yahoo_chart_url")``)."""
        return str(getattr(self, name)).rstrip("/")


# Each setting's variable: its field name in capitals (matched in any case).
_FIELD_OF_VARIABLE = {name.upper(): name for name in Settings.model_fields}


def _from_environment() -> dict[str, str]:
    """The value of each setting's variable that is set."""
    return {
        _FIELD_OF_VARIABLE[name.upper()]: value
        for name, value in os.environ.items()
        if name.upper() in _FIELD_OF_VARIABLE
    }


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment (and overrides, which win); raise `SettingsError` with one
    clear line."""
    try:
        return Settings(**{**_from_environment(), **overrides})
    except ValidationError as error:
        first = error.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        if not first["loc"]:
            # A check across settings: its message starts with the variable it is about.
            raise SettingsError(f"invalid setting {message}") from None
        variable = str(first["loc"][0]).upper()
        given = first.get("input")
        # A malformed database URI may still hold a password: never echo one.
        shown = f" (got {redact(given)!r})" if isinstance(given, str) else ""
        raise SettingsError(f"invalid setting {variable}: {message}{shown}") from None


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
