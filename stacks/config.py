"""The deployment's configuration, read once from CDK context (cdk.json and ``-c key=value``).

Every key is validated here, at synth time, so a typo fails fast with one line that names the key
(``invalid context key 'allowed_cidr': ...``) instead of a CloudFormation error twenty minutes later.
Values given with ``-c`` arrive as strings, values from cdk.json keep their JSON type; both are accepted.

`PipelineConfig` is a pydantic model: a context key is a field, its type an annotated kind of value
(`Text`, `Boolean`, `whole_number`, `matching`, `one_of`...). A new key is one more field line.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Mapping
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aws_cdk import RemovalPolicy
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, model_validator

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


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    return value.strip()


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    raise ValueError(f"expected true or false, got {value!r}")


def _whole_number(value: Any, low: int, high: int) -> int:
    try:
        number = int(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        number = None
    if number is None or str(number) != str(value).strip() or not low <= number <= high:
        raise ValueError(f"expected a whole number from {low} to {high}, got {value!r}")
    return number


# Each kind of value is checked as given (a string from ``-c``, or JSON from cdk.json), before pydantic
# checks the type the check returns.
def whole_number(low: int, high: int) -> BeforeValidator:
    """An integer from `low` to `high`, given as a number or as its digits."""
    return BeforeValidator(lambda value: _whole_number(value, low, high))


def matching(pattern: re.Pattern[str], expected: str) -> BeforeValidator:
    """A string that `pattern` matches (`expected` says what that is, for the message)."""

    def check(value: Any) -> str:
        text = _text(value)
        if not pattern.match(text):
            raise ValueError(f"expected {expected}, got {value!r}")
        return text

    return BeforeValidator(check)


def one_of(choices: tuple[str, ...]) -> BeforeValidator:
    """One of `choices`, in any case."""

    def check(value: Any) -> str:
        text = _text(value).lower()
        if text not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}, got {value!r}")
        return text

    return BeforeValidator(check)


def _cidr(value: Any) -> str:
    text = _text(value)
    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError:
        raise ValueError(f"expected an IPv4 CIDR such as 203.0.113.7/32, got {value!r}") from None
    if network.version != 4:
        raise ValueError(f"only IPv4 CIDRs are supported, got {value!r}")
    return str(network)


def _time_zone(value: Any) -> str:
    text = _text(value)
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"not an IANA time zone, got {value!r}") from None
    return text


def _email(value: Any) -> str | None:
    if value is None:
        return None
    text = _text(value)
    if text and not _EMAIL.match(text):
        raise ValueError(f"not an e-mail address, got {value!r}")
    return text or None


def _database_instance_type(value: Any) -> str:
    text = _text(value).removeprefix("db.")
    if not _INSTANCE_TYPE.match(text):
        raise ValueError(f"expected an instance type such as t4g.micro, got {value!r}")
    return text


def _pipeline_settings(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ValueError(f"expected an object of environment variables, got {value!r}")
    unknown = sorted(set(value) - set(TUNABLE_PIPELINE_SETTINGS))
    if unknown:
        raise ValueError(
            f"unknown setting {', '.join(unknown)} (allowed: {', '.join(TUNABLE_PIPELINE_SETTINGS)})"
        )
    texts = {}
    for name, setting in sorted(value.items()):
        if not isinstance(setting, str):
            raise ValueError(f"{name}: expected a string, got {setting!r}")
        texts[name] = setting.strip()
    return texts


def _log_retention(value: Any) -> int:
    days = _whole_number(value, 1, LOG_RETENTION_DAYS[-1])
    if days not in LOG_RETENTION_DAYS:
        raise ValueError(
            f"CloudWatch keeps logs for one of {', '.join(map(str, LOG_RETENTION_DAYS))} days, got {value!r}"
        )
    return days


Text = Annotated[str, BeforeValidator(_text)]
Boolean = Annotated[bool, BeforeValidator(_boolean)]
InstanceType = Annotated[str, matching(_INSTANCE_TYPE, "an instance type such as t3.small")]


class PipelineConfig(BaseModel):
    """Everything the stacks need to know about one deployment (see docs/deploy.md for each key).

    Each field is a context key of the same name; other keys (CDK's own) are ignored.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    environment: Annotated[str, matching(_ENVIRONMENT_NAME, "1-20 lowercase letters, digits or '-'")] = "dev"
    allowed_cidr: Annotated[str, BeforeValidator(_cidr)] = "0.0.0.0/0"
    instance_type: InstanceType = "t3.small"
    database_instance_type: Annotated[str, BeforeValidator(_database_instance_type)] = "t4g.micro"
    database_storage_gb: Annotated[int, whole_number(20, 1000)] = 20
    backup_retention_days: Annotated[int, whole_number(1, 35)] = 7
    schedule_time: Annotated[str, matching(_CLOCK_TIME, "a 24-hour time HH:MM")] = "08:00"
    schedule_time_zone: Annotated[str, BeforeValidator(_time_zone)] = "America/New_York"
    etl_delay_minutes: Annotated[int, whole_number(16, 720)] = 30
    # Ingestion shards that may run at once: SQS event sources accept 2 at least; a lab account has 10
    # concurrent executions in all, which the dispatcher and the instance's tools share.
    ingest_concurrency: Annotated[int, whole_number(2, 5)] = 2
    dashboard_port: Annotated[int, whole_number(1, 65535)] = 8501
    removal_policy: Annotated[str, one_of(REMOVAL_POLICIES)] = "destroy"
    alarm_email: Annotated[str | None, BeforeValidator(_email)] = None
    # How long the instance's CloudWatch log groups keep the units' lines.
    log_retention_days: Annotated[int, BeforeValidator(_log_retention)] = 14
    lab: Boolean = False
    lab_role_name: Annotated[str, matching(_ROLE_NAME, "an IAM role name")] = "LabRole"
    lab_instance_profile_name: Annotated[str, matching(_ROLE_NAME, "an instance profile name")] = (
        "LabInstanceProfile"
    )
    pipeline_settings: Annotated[Mapping[str, str], BeforeValidator(_pipeline_settings)] = {}
    dashboard_access: Annotated[str | None, one_of(ACCESS_MODES)] = None
    cloudfront_prefix_list: Annotated[
        str | None, matching(_PREFIX_LIST, "a managed prefix list id such as pl-3b927c52")
    ] = None
    dashboard_login: Annotated[str, one_of(LOGIN_MODES)] = "password"
    # The lakehouse (docs/architecture.md, The lake): Iceberg tables on S3 in the Glue Data Catalog,
    # queried by Athena; each query may scan at most `lake_query_limit_mb` (Athena's minimum is 10 MB).
    lake: Boolean = False
    lake_query_limit_mb: Annotated[int, whole_number(10, 1_000_000)] = 1024

    @model_validator(mode="before")
    @classmethod
    def _lab_database_default(cls, context: Any) -> Any:
        """A lab account's database class defaults to one the Learner Lab allows (db.t3)."""
        if isinstance(context, Mapping) and "database_instance_type" not in context:
            try:
                lab = _boolean(context.get("lab", False))
            except ValueError:
                lab = False  # the field's own check says why
            if lab:
                return {**context, "database_instance_type": LAB_DATABASE_INSTANCE_TYPE}
        return context

    @model_validator(mode="after")
    def _account_allows_it(self) -> PipelineConfig:
        if self.lab:
            _check_lab(self)
        _check_login(self)
        return self

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
    def lake_database(self) -> str:
        """The Glue database of the lake's tables (Glue names: lowercase letters, digits, underscores)."""
        return f"pipeline_{self.environment.replace('-', '_')}_lake"

    @property
    def open_to_the_internet(self) -> bool:
        return ipaddress.ip_network(self.allowed_cidr).prefixlen == 0


CONTEXT_KEYS: tuple[str, ...] = tuple(PipelineConfig.model_fields)


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
    if config.access_mode == "cloudfront":
        raise ConfigError(
            "invalid context key 'dashboard_access': lab accounts cannot create CloudFront "
            "distributions; use tls or private"
        )


def load_config(context: Mapping[str, Any]) -> PipelineConfig:
    """Build the configuration from context values (unknown keys are CDK's own and ignored); a bad
    value is a `ConfigError` of one line naming its key (the first, when several are bad)."""
    try:
        return PipelineConfig.model_validate(dict(context))
    except ValidationError as error:
        raise _one_line(error) from None


def _one_line(error: ValidationError) -> ConfigError:
    first = error.errors(include_url=False)[0]
    cause = first.get("ctx", {}).get("error")
    if isinstance(cause, ConfigError):  # an account rule (`_check_lab`, `_check_login`): says it all
        return cause
    reason = str(cause) if cause is not None else first["msg"]
    return ConfigError(f"invalid context key '{first['loc'][0]}': {' '.join(reason.split())}")


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
