"""The deployment's configuration, read once from CDK context (cdk.json and ``-c key=value``).

Every key is validated here, at synth time, so a typo fails fast with one line that names the key
(``invalid context key 'allowed_cidr': ...``) instead of a CloudFormation error twenty minutes later.
Values given with ``-c`` arrive as strings, values from cdk.json keep their JSON type; both are accepted.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aws_cdk import RemovalPolicy

from stacks.lab_profile import LAB_DATABASE_INSTANCE_TYPE, LEARNER_LAB

# The runtime settings (the README's configuration table) an operator may tune per environment; they are passed to the
# ingestion Lambda and to the instance's services verbatim. The infrastructure sets the others itself.
TUNABLE_PIPELINE_SETTINGS: tuple[str, ...] = (
    "PIPELINE_INDEXES",
    "PIPELINE_FRED_SERIES",
    "PIPELINE_NEWS_TOPICS",
    "YAHOO_CHART_URL",
    "OPEN_METEO_ARCHIVE_URL",
    "OPEN_METEO_FORECAST_URL",
    "GDELT_DOC_URL",
    "FRED_GRAPH_URL",
)

REMOVAL_POLICIES = ("destroy", "snapshot", "retain")
# How visitors reach the dashboard (docs/deploy.md): through CloudFront (HTTPS, the instance admits only
# CloudFront), straight to the instance over Streamlit's own TLS, or only through a Session Manager tunnel.
ACCESS_MODES = ("cloudfront", "tls", "private")
# How visitors sign in: the generated password (dashboard/login.py), or a Cognito user pool through
# Streamlit's own OIDC login (st.login), which needs CloudFront's HTTPS address for its callback.
LOGIN_MODES = ("password", "cognito")
# The retention periods CloudWatch Logs accepts, in days.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557)

_ENVIRONMENT_NAME = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
_CLOCK_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
_PREFIX_LIST = re.compile(r"^pl-[0-9a-f]{8,17}$")


class ConfigError(ValueError):
    """A context value is invalid; the message is one line that names the key."""


@dataclass(frozen=True)
class PipelineConfig:
    """Everything the stacks need to know about one deployment (see docs/deploy.md for each key)."""

    environment: str = "dev"
    allowed_cidr: str = "0.0.0.0/0"
    instance_type: str = "t3.small"
    database_instance_type: str = "t4g.micro"
    database_storage_gb: int = 20
    backup_retention_days: int = 7
    schedule_time: str = "08:00"
    schedule_time_zone: str = "America/New_York"
    etl_delay_minutes: int = 30
    # Ingestion shards that may run at once: SQS event sources accept 2 at least; a lab account has 10
    # concurrent executions in all, which the dispatcher and the instance's tools share.
    ingest_concurrency: int = 2
    dashboard_port: int = 8501
    removal_policy: str = "destroy"
    alarm_email: str | None = None
    # How long the instance's CloudWatch log groups keep the units' lines.
    log_retention_days: int = 14
    lab: bool = False
    lab_role_name: str = "LabRole"
    lab_instance_profile_name: str = "LabInstanceProfile"
    pipeline_settings: Mapping[str, str] = field(default_factory=dict)
    dashboard_access: str | None = None
    cloudfront_prefix_list: str | None = None
    dashboard_login: str = "password"

    @property
    def access_mode(self) -> str:
        """How visitors reach the dashboard: the context's choice, else CloudFront (TLS in a lab account)."""
        return self.dashboard_access or ("tls" if self.lab else "cloudfront")

    @property
    def stack_name(self) -> str:
        """The CloudFormation stack name; the environment name keeps several deployments apart."""
        return f"MarketWeatherPipeline-{self.environment}"

    @property
    def schedule_clock(self) -> dt.time:
        """The ingestion's local start time (in `schedule_time_zone`)."""
        return dt.time.fromisoformat(self.schedule_time)

    @property
    def cdk_removal_policy(self) -> RemovalPolicy:
        """The removal policy of the database; buckets are kept unless the policy is ``destroy``."""
        return {
            "destroy": RemovalPolicy.DESTROY,
            "snapshot": RemovalPolicy.SNAPSHOT,
            "retain": RemovalPolicy.RETAIN,
        }[self.removal_policy]

    @property
    def destroys_data(self) -> bool:
        """True when `cdk destroy` deletes the data too (buckets emptied, no final snapshot)."""
        return self.removal_policy == "destroy"

    @property
    def database_storage_type(self) -> str:
        """RDS storage: gp3 (cheaper per IOPS), gp2 in a lab account, which allows only gp2."""
        return "gp2" if self.lab else "gp3"

    @property
    def open_to_the_internet(self) -> bool:
        return ipaddress.ip_network(self.allowed_cidr).prefixlen == 0


def _text(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"invalid context key '{key}': expected a string, got {value!r}")
    return value.strip()


def _boolean(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    raise ConfigError(f"invalid context key '{key}': expected true or false, got {value!r}")


def _integer(key: str, low: int, high: int) -> Callable[[str, Any], int]:
    def parse(_: str, value: Any) -> int:
        try:
            number = int(value) if not isinstance(value, bool) else None
        except (TypeError, ValueError):
            number = None
        if number is None or str(number) != str(value).strip() or not low <= number <= high:
            raise ConfigError(
                f"invalid context key '{key}': expected a whole number from {low} to {high}, got {value!r}"
            )
        return number

    return parse


def _matching(pattern: re.Pattern[str], expected: str) -> Callable[[str, Any], str]:
    def parse(key: str, value: Any) -> str:
        text = _text(key, value)
        if not pattern.match(text):
            raise ConfigError(f"invalid context key '{key}': expected {expected}, got {value!r}")
        return text

    return parse


def _cidr(key: str, value: Any) -> str:
    text = _text(key, value)
    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError:
        raise ConfigError(
            f"invalid context key '{key}': expected an IPv4 CIDR such as 203.0.113.7/32, got {value!r}"
        ) from None
    if network.version != 4:
        raise ConfigError(f"invalid context key '{key}': only IPv4 CIDRs are supported, got {value!r}")
    return str(network)


def _time_zone(key: str, value: Any) -> str:
    text = _text(key, value)
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"invalid context key '{key}': not an IANA time zone, got {value!r}") from None
    return text


def _removal_policy(key: str, value: Any) -> str:
    text = _text(key, value).lower()
    if text not in REMOVAL_POLICIES:
        raise ConfigError(
            f"invalid context key '{key}': expected one of {', '.join(REMOVAL_POLICIES)}, got {value!r}"
        )
    return text


def _email(key: str, value: Any) -> str | None:
    if value is None:
        return None
    text = _text(key, value)
    if text and not _EMAIL.match(text):
        raise ConfigError(f"invalid context key '{key}': not an e-mail address, got {value!r}")
    return text or None


def _database_instance_type(key: str, value: Any) -> str:
    return _matching(_INSTANCE_TYPE, "an instance type such as t4g.micro")(
        key, _text(key, value).removeprefix("db.")
    )


def _access_mode(key: str, value: Any) -> str:
    text = _text(key, value).lower()
    if text not in ACCESS_MODES:
        raise ConfigError(
            f"invalid context key '{key}': expected one of {', '.join(ACCESS_MODES)}, got {value!r}"
        )
    return text


def _login_mode(key: str, value: Any) -> str:
    text = _text(key, value).lower()
    if text not in LOGIN_MODES:
        raise ConfigError(
            f"invalid context key '{key}': expected one of {', '.join(LOGIN_MODES)}, got {value!r}"
        )
    return text


def _pipeline_settings(key: str, value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"invalid context key '{key}': expected an object of environment variables, got {value!r}"
        )
    unknown = sorted(set(value) - set(TUNABLE_PIPELINE_SETTINGS))
    if unknown:
        raise ConfigError(
            f"invalid context key '{key}': unknown setting {', '.join(unknown)} "
            f"(allowed: {', '.join(TUNABLE_PIPELINE_SETTINGS)})"
        )
    return {name: _text(f"{key}.{name}", setting) for name, setting in sorted(value.items())}


def _log_retention(key: str, value: Any) -> int:
    days = _integer(key, 1, LOG_RETENTION_DAYS[-1])(key, value)
    if days not in LOG_RETENTION_DAYS:
        raise ConfigError(
            f"invalid context key '{key}': CloudWatch keeps logs for one of "
            f"{', '.join(map(str, LOG_RETENTION_DAYS))} days, got {value!r}"
        )
    return days


# Context key -> (dataclass field, parser). The keys are the public names documented in docs/deploy.md.
_PARSERS: dict[str, tuple[str, Callable[[str, Any], Any]]] = {
    "environment": ("environment", _matching(_ENVIRONMENT_NAME, "1-20 lowercase letters, digits or '-'")),
    "allowed_cidr": ("allowed_cidr", _cidr),
    "instance_type": ("instance_type", _matching(_INSTANCE_TYPE, "an instance type such as t3.small")),
    "database_instance_type": ("database_instance_type", _database_instance_type),
    "database_storage_gb": ("database_storage_gb", _integer("database_storage_gb", 20, 1000)),
    "backup_retention_days": ("backup_retention_days", _integer("backup_retention_days", 1, 35)),
    "schedule_time": ("schedule_time", _matching(_CLOCK_TIME, "a 24-hour time HH:MM")),
    "schedule_time_zone": ("schedule_time_zone", _time_zone),
    "etl_delay_minutes": ("etl_delay_minutes", _integer("etl_delay_minutes", 16, 720)),
    "ingest_concurrency": ("ingest_concurrency", _integer("ingest_concurrency", 2, 5)),
    "dashboard_port": ("dashboard_port", _integer("dashboard_port", 1, 65535)),
    "removal_policy": ("removal_policy", _removal_policy),
    "alarm_email": ("alarm_email", _email),
    "log_retention_days": ("log_retention_days", _log_retention),
    "lab": ("lab", _boolean),
    "lab_role_name": ("lab_role_name", _matching(_ROLE_NAME, "an IAM role name")),
    "lab_instance_profile_name": (
        "lab_instance_profile_name",
        _matching(_ROLE_NAME, "an instance profile name"),
    ),
    "pipeline_settings": ("pipeline_settings", _pipeline_settings),
    "dashboard_access": ("dashboard_access", _access_mode),
    "cloudfront_prefix_list": (
        "cloudfront_prefix_list",
        _matching(_PREFIX_LIST, "a managed prefix list id such as pl-3b927c52"),
    ),
    "dashboard_login": ("dashboard_login", _login_mode),
}
CONTEXT_KEYS: tuple[str, ...] = tuple(_PARSERS)


def _lab_refusal(key: str, rule: str, value: object) -> ConfigError:
    return ConfigError(f"invalid context key '{key}': lab accounts allow {rule}, got {value!r}")


def _check_lab(config: PipelineConfig) -> None:
    """The lab settings against the Learner Lab profile (stacks/lab_profile.py, sources in docs/deploy.md)."""
    lab = LEARNER_LAB
    if not lab.instance_allowed(config.instance_type):
        raise _lab_refusal(
            "instance_type",
            f"families {', '.join(sorted(lab.instance_families))} in sizes {', '.join(sorted(lab.instance_sizes))}",
            config.instance_type,
        )
    if not lab.database_allowed(config.database_instance_type):
        raise _lab_refusal(
            "database_instance_type",
            f"db.{'/'.join(sorted(lab.database_families))} in sizes {', '.join(sorted(lab.database_sizes))}",
            config.database_instance_type,
        )
    if config.database_storage_gb > lab.max_database_storage_gb:
        raise _lab_refusal(
            "database_storage_gb", f"at most {lab.max_database_storage_gb} GB", config.database_storage_gb
        )
    # The shard worker's cap plus the dispatcher must fit the account's concurrent executions.
    if config.ingest_concurrency + 1 > lab.lambda_concurrency:
        raise _lab_refusal(
            "ingest_concurrency",
            f"{lab.lambda_concurrency} concurrent Lambda executions in all",
            config.ingest_concurrency,
        )
    if config.access_mode == "cloudfront":
        raise ConfigError(
            "invalid context key 'dashboard_access': lab accounts cannot create CloudFront "
            "distributions; use tls or private"
        )


def load_config(context: Mapping[str, Any]) -> PipelineConfig:
    """Build the configuration from context values (unknown keys are CDK's own and ignored)."""
    values = {}
    for key, (attribute, parse) in _PARSERS.items():
        if key in context:
            values[attribute] = parse(key, context[key])
    if values.get("lab") and "database_instance_type" not in values:
        values["database_instance_type"] = LAB_DATABASE_INSTANCE_TYPE
    config = PipelineConfig(**values)
    if config.lab:
        _check_lab(config)
    _check_login(config)
    return config


def _check_login(config: PipelineConfig) -> None:
    """Cognito's hosted sign-in calls back over HTTPS to a name it trusts: CloudFront's, never a lab's."""
    if config.dashboard_login != "cognito":
        return
    if config.lab:
        raise ConfigError(
            "invalid context key 'dashboard_login': lab accounts cannot create Cognito user pools; use password"
        )
    if config.access_mode != "cloudfront":
        raise ConfigError(
            "invalid context key 'dashboard_login': cognito needs dashboard_access=cloudfront "
            f"(an HTTPS callback address), got {config.access_mode!r}"
        )


def config_from_node(node: Any) -> PipelineConfig:
    """The configuration from a construct node's context (``app.node``), for app.py and the tools."""
    return load_config(
        {key: node.try_get_context(key) for key in CONTEXT_KEYS if node.try_get_context(key) is not None}
    )
