"""The app instance's first-boot script: install the project, migrate the database, start the services.

`render_bootstrap_script` returns a bash script (tokens such as the asset's S3 URL and the secret ARNs
stay CDK tokens until synthesis). The script holds no secret: the services read the database passwords
from Secrets Manager themselves, through DB_SECRET_ARN and DASHBOARD_DB_SECRET_ARN. systemd units:

- ``pipeline-migrate``: ``pipeline db migrate`` at each boot, retried until the database answers;
- ``pipeline-dashboard``: ``pipeline dashboard`` as the unprivileged ``pipeline-dashboard`` user, with an
  environment of its own (its database roles' and login secrets' ARNs, not the owner's), over HTTPS with a
  certificate made at first boot in the ``tls`` access mode, on localhost only in the ``private`` one;
- ``pipeline-etl-follow``: ``pipeline etl --follow``, which drains the ETL queue of new raw objects'
  events and loads each burst within a minute or two of its writing (restarted if it stops);
- ``pipeline-etl`` + its timer: the safety net, ``pipeline etl --recent-days 7`` after each scheduled
  ingestion (it finds anything of the last week the queue missed), and on demand (``systemctl start pipeline-etl``, which the
  stack's RunEtlCommand output sends through SSM). Both load under the same database lock.

With a metrics namespace in the services' environment, the script also installs the CloudWatch agent,
copies each unit's journal to a file it ships (rotated daily by logrotate), and starts the dashboard's
health check (`stacks.log_agent`).

The Python packages are exactly those of ``requirements-runtime.lock`` (``--require-hashes``), then the
project itself with ``--no-deps``: an instance replaced a month later runs the versions the tests ran.
With a `CreationSignal` the instance reports to CloudFormation (``cfn-signal``, which needs no IAM role,
so lab accounts too): a failed step signals FAILURE with the step's name at once, and
``pipeline-ready`` signals SUCCESS only once the migration has finished and the dashboard answers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from stacks import log_agent

APP_ROOT = "/opt/pipeline"
PIPELINE_HOME = "/var/lib/pipeline"
SERVICE_USER = "pipeline"
# The dashboard runs as a user of its own, with an environment file of its own: it can read neither the
# owner's secret ARN nor the ETL's settings.
DASHBOARD_USER = "pipeline-dashboard"
ENVIRONMENT_FILE = "/etc/pipeline/pipeline.env"
DASHBOARD_ENVIRONMENT_FILE = "/etc/pipeline/dashboard.env"
# The dashboard's own state folder (systemd's StateDirectory, its user's alone), with a Cognito login:
# Streamlit's secrets file with st.login's settings and the kept cookie secret.
DASHBOARD_HOME = "/var/lib/pipeline-dashboard"
TLS_DIRECTORY = "/etc/pipeline/tls"
TLS_CERTIFICATE = f"{TLS_DIRECTORY}/dashboard.crt"
TLS_KEY = f"{TLS_DIRECTORY}/dashboard.key"
#: The names the self-signed certificate is for (browsers match only the subject alternative names).
TLS_SUBJECT_ALT_NAMES = "DNS:pipeline-dashboard,DNS:localhost,IP:127.0.0.1"
# Streamlit reads its options from STREAMLIT_* variables too; these make it serve HTTPS (or, behind the
# sign-in gate of a password login, nginx: `pipeline dashboard` hands them over).
TLS_ENVIRONMENT = {
    "STREAMLIT_SERVER_SSL_CERT_FILE": TLS_CERTIFICATE,
    "STREAMLIT_SERVER_SSL_KEY_FILE": TLS_KEY,
}
PIPELINE_BIN = f"{APP_ROOT}/venv/bin/pipeline"
#: The runtime dependencies' lock in the source asset (`make lock` writes it).
RUNTIME_LOCK = "requirements-runtime.lock"
#: aws-cfn-bootstrap's signal command (Amazon Linux 2023 has it; the first step installs it anyway).
CFN_SIGNAL = "/opt/aws/bin/cfn-signal"
READY_SERVICE = "pipeline-ready.service"
READY_SCRIPT = "/usr/local/bin/pipeline-ready"
# How long pipeline-ready waits for healthy services: the migration retries until RDS answers.
READY_ATTEMPTS = 60
READY_INTERVAL_SECONDS = 10
ETL_SERVICE = "pipeline-etl.service"
ETL_FOLLOW_SERVICE = "pipeline-etl-follow.service"
# The `pipeline` commands the units run; tests check each one exists in cli.main.
PIPELINE_COMMANDS: tuple[tuple[str, ...], ...] = (("db", "migrate"), ("dashboard",), ("etl",))
# `pipeline etl` exits 3 when it finished but quarantined objects: the run still succeeded as a service.
ETL_SUCCESS_STATUSES = "0 3"
# The timer's safety-net run lists only this many days of date partitions, whatever the bucket holds;
# older objects (a backfill) arrive through the queue, or `pipeline etl` without the option lists all.
SAFETY_NET_DAYS = 7
PRIVILEGED_PORT_LIMIT = 1024
# Set by the stack when metrics are wanted: the services' EMF namespace, also the agent's.
METRICS_NAMESPACE_VARIABLE = "PIPELINE_METRICS_NAMESPACE"


@dataclass(frozen=True)
class CreationSignal:
    """Where the first boot reports to: the stack, the instance's logical id (its CreationPolicy), region."""

    stack: str
    resource: str
    region: str

    def command(self, success: bool, reason: str) -> str:
        """The cfn-signal line; `reason` is bash text inside double quotes (it may expand variables)."""
        return (
            f"{CFN_SIGNAL} --exit-code {0 if success else 1} --stack {self.stack} "
            f'--resource {self.resource} --region {self.region} --reason "{reason}"'
        )


@dataclass(frozen=True)
class BootstrapSettings:
    """What the script needs to know: where the code is, the services' environment, port and timer."""

    source_url: str
    region: str
    environment: Mapping[str, str]
    dashboard_port: int
    etl_times: Sequence[dt.time]
    time_zone: str
    #: The dashboard unit's own environment (only what the dashboard needs).
    dashboard_environment: Mapping[str, str] = field(default_factory=dict)
    #: Serve HTTPS with a self-signed certificate made at first boot.
    tls: bool = False
    #: The names visitors reach the instance by (its public address), in the certificate's subject
    #: alternative names as openssl writes them: `IP:203.0.113.7`, `DNS:dashboard.example.com`.
    tls_public_names: Sequence[str] = ()
    #: Listen on localhost only (reached through a Session Manager port forward).
    private: bool = False
    #: Give the dashboard unit a state folder of its own (DASHBOARD_HOME).
    dashboard_home: bool = False
    #: Report the first boot's outcome to CloudFormation (the instance's CreationPolicy).
    signal: CreationSignal | None = None


def etl_times_after(schedule: dt.time, delay_minutes: int) -> tuple[dt.time, dt.time]:
    """When the ETL timer fires: `delay_minutes` after the ingestion, and an hour later for its retries."""
    start = dt.datetime.combine(dt.date(2000, 1, 1), schedule)
    first = start + dt.timedelta(minutes=delay_minutes)
    return first.time(), (first + dt.timedelta(hours=1)).time()


def _environment_file(environment: Mapping[str, str]) -> str:
    return "\n".join(f"{name}={value}" for name, value in sorted(environment.items()))


def _unit(description: str, body: str, *, wanted_by: str = "multi-user.target") -> str:
    install = f"\n[Install]\nWantedBy={wanted_by}\n" if wanted_by else ""
    return f"[Unit]\nDescription={description}\nWants=network-online.target\nAfter=network-online.target\n{body}{install}"


def _service_section(
    command: str,
    extra: str = "",
    *,
    user: str = SERVICE_USER,
    environment_file: str = ENVIRONMENT_FILE,
    working_directory: str = PIPELINE_HOME,
) -> str:
    return (
        f"[Service]\nUser={user}\nGroup={user}\nWorkingDirectory={working_directory}\n"
        f"EnvironmentFile={environment_file}\nExecStart={PIPELINE_BIN} {command}\n"
        f"NoNewPrivileges=true\nProtectSystem=full\nPrivateTmp=true\n{extra}"
    )


def systemd_units(settings: BootstrapSettings) -> dict[str, str]:
    """The unit files, by name."""
    port = settings.dashboard_port
    capability = "AmbientCapabilities=CAP_NET_BIND_SERVICE\n" if port < PRIVILEGED_PORT_LIMIT else ""
    state = (
        f"StateDirectory={DASHBOARD_HOME.rsplit('/', 1)[1]}\nStateDirectoryMode=0700\n"
        if settings.dashboard_home
        else ""
    )
    calendars = "".join(
        f"OnCalendar=*-*-* {time:%H:%M}:00 {settings.time_zone}\n" for time in settings.etl_times
    )
    return {
        "pipeline-migrate.service": _unit(
            "Apply the pipeline's database migrations",
            _service_section(
                "db migrate", "Type=oneshot\nRemainAfterExit=true\nRestart=on-failure\nRestartSec=20\n"
            ),
        ),
        "pipeline-dashboard.service": _unit(
            "Pipeline dashboard (Streamlit)",
            "Wants=pipeline-migrate.service\nAfter=pipeline-migrate.service\n"
            + _service_section(
                f"dashboard --port {port} --address {'127.0.0.1' if settings.private else '0.0.0.0'}"
                + ("" if settings.private or settings.tls else " --forwarded-for"),
                f"{capability}{state}Restart=on-failure\nRestartSec=5\n",
                user=DASHBOARD_USER,
                environment_file=DASHBOARD_ENVIRONMENT_FILE,
                # The pipeline's home is its user's alone (0700).
                working_directory=APP_ROOT,
            ),
        ),
        ETL_SERVICE: _unit(
            "Pipeline ETL: load new raw objects into PostgreSQL",
            "After=pipeline-migrate.service\n"
            + _service_section(
                f"etl --recent-days {SAFETY_NET_DAYS}",
                f"Type=oneshot\nSuccessExitStatus={ETL_SUCCESS_STATUSES}\nTimeoutStartSec=2h\n"
                # The lake's maintenance after each scheduled run (nothing to do without a lake); its
                # failure does not fail the ETL's unit.
                f"ExecStartPost=-{PIPELINE_BIN} lake compact\n",
            ),
            wanted_by="",
        ),
        ETL_FOLLOW_SERVICE: _unit(
            "Pipeline ETL on new raw objects (drains the ETL queue)",
            "Wants=pipeline-migrate.service\nAfter=pipeline-migrate.service\n"
            + _service_section("etl --follow", "Restart=always\nRestartSec=30\n"),
        ),
        "pipeline-etl.timer": _unit(
            "Run the pipeline ETL after each scheduled ingestion",
            f"[Timer]\n{calendars}Persistent=true\nUnit={ETL_SERVICE}\n",
            wanted_by="timers.target",
        ),
        **(
            {
                READY_SERVICE: _unit(
                    "Tell CloudFormation the first boot is done once the services are healthy",
                    "After=pipeline-migrate.service pipeline-dashboard.service\n"
                    f"[Service]\nType=oneshot\nExecStart={READY_SCRIPT}\n",
                    wanted_by="",
                )
            }
            if settings.signal
            else {}
        ),
    }


def _write_file(path: str, content: str, mode: str) -> str:
    # A quoted heredoc delimiter: bash expands nothing inside, whatever the content holds.
    return f"install -D -m {mode} /dev/null {path}\ncat > {path} <<'PIPELINE_EOF'\n{content}\nPIPELINE_EOF\n"


def tls_certificate_command(key: str, certificate: str, public_names: Sequence[str] = ()) -> str:
    """The openssl command that makes the dashboard's self-signed certificate and its key, naming the
    local names and `public_names` (`IP:...` or `DNS:...`) as subject alternative names: a browser
    matches the address it asked for against these, never against the common name."""
    alt_names = ",".join((TLS_SUBJECT_ALT_NAMES, *public_names))
    return (
        "openssl req -x509 -newkey rsa:2048 -nodes -days 825 "
        f'-subj "/CN=pipeline-dashboard" -addext "subjectAltName={alt_names}" '
        f"-keyout {key} -out {certificate}"
    )


def _tls_certificate(public_names: Sequence[str]) -> str:
    # Made once, on the instance: the private key never leaves it. Self-signed, so browsers warn once.
    return (
        f"install -d -m 0750 -g {DASHBOARD_USER} {TLS_DIRECTORY}\n"
        f"test -s {TLS_KEY} || {tls_certificate_command(TLS_KEY, TLS_CERTIFICATE, public_names)}\n"
        f"chgrp {DASHBOARD_USER} {TLS_KEY} {TLS_CERTIFICATE} && chmod 0640 {TLS_KEY}\n"
    )


def _cloudwatch_setup(settings: BootstrapSettings) -> str:
    """The CloudWatch agent (logs of every pipeline unit, memory, disk) and the dashboard's health
    metric; see `stacks.log_agent`. Only when the services have a metrics namespace."""
    namespace = settings.environment.get(METRICS_NAMESPACE_VARIABLE)
    if not namespace:
        return ""
    files = {
        log_agent.AGENT_CONFIG: (log_agent.agent_config(namespace), "0644"),
        log_agent.HEALTH_SCRIPT: (
            log_agent.health_script(namespace, settings.dashboard_port, tls=settings.tls),
            "0755",
        ),
        "/etc/systemd/system/pipeline-log-export@.service": (log_agent.export_unit(), "0644"),
        log_agent.LOGROTATE_CONFIG: (log_agent.logrotate_config(), "0644"),
        **{f"/etc/systemd/system/{name}": (body, "0644") for name, body in log_agent.health_units().items()},
    }
    exports = " ".join(f"pipeline-log-export@{unit}.service" for unit in log_agent.LOGGED_UNITS)
    return (
        "dnf install -y -q amazon-cloudwatch-agent logrotate\n"
        f"mkdir -p {log_agent.LOG_DIRECTORY} {log_agent.CURSOR_DIRECTORY}\n"
        + "".join(_write_file(path, content, mode) for path, (content, mode) in files.items())
        + "systemctl daemon-reload\n"
        f"systemctl enable --now --no-block {exports} {log_agent.HEALTH_UNIT}.timer\n"
        f"{log_agent.AGENT_CTL} -a fetch-config -m ec2 -s -c file:{log_agent.AGENT_CONFIG}\n"
    )


def ready_script(settings: BootstrapSettings, signal: CreationSignal) -> str:
    """``pipeline-ready``: SUCCESS once the migration is done and the dashboard answers its health check,
    FAILURE naming what is not healthy when that has not happened within the attempts."""
    url = log_agent.health_url(settings.dashboard_port, tls=settings.tls)
    insecure = "--insecure " if settings.tls else ""
    return (
        "#!/bin/bash\n"
        f"for attempt in $(seq 1 {READY_ATTEMPTS}); do\n"
        "  migrate=$(systemctl is-active pipeline-migrate.service || true)\n"
        f'  if [ "$migrate" = active ] && curl --silent --fail {insecure}--max-time 10 {url} >/dev/null; then\n'
        f"    exec {signal.command(True, 'services healthy')}\n"
        "  fi\n"
        f"  sleep {READY_INTERVAL_SECONDS}\n"
        "done\n"
        f"exec {signal.command(False, 'first boot failed at step: wait for healthy services (pipeline-migrate $migrate, dashboard health check unanswered)')}\n"
    )


def _signalling(settings: BootstrapSettings) -> tuple[str, str]:
    """The ERR trap that signals FAILURE with the step's name, and the start of `pipeline-ready`."""
    if settings.signal is None:
        return "", ""
    trap = (
        "# Any failure: tell CloudFormation which step failed (no IAM role needed), then stop.\n"
        f"trap '{settings.signal.command(False, 'first boot failed at step: $step')} || true' ERR\n"
    )
    ready = (
        _write_file(READY_SCRIPT, ready_script(settings, settings.signal), "0755")
        + 'step="signal when healthy"\n'
        + f"systemctl start --no-block {READY_SERVICE}\n"
    )
    return trap, ready


def render_bootstrap_script(settings: BootstrapSettings) -> str:
    """The user-data script for the app instance (Amazon Linux 2023, run once as root at first boot)."""
    units = "".join(
        _write_file(f"/etc/systemd/system/{name}", body, "0644")
        for name, body in systemd_units(settings).items()
    )
    dashboard_environment = {**settings.dashboard_environment, **(TLS_ENVIRONMENT if settings.tls else {})}
    tls = _tls_certificate(settings.tls_public_names) if settings.tls else ""
    trap, ready = _signalling(settings)
    cloudwatch = _cloudwatch_setup(settings)
    return f"""#!/bin/bash
set -euo pipefail
exec > >(tee -a /var/log/pipeline-bootstrap.log) 2>&1
echo "pipeline bootstrap: start $(date --iso-8601=seconds)"
step="install system packages"
{trap}dnf install -y -q python3.11 python3.11-pip unzip openssl aws-cfn-bootstrap nginx
step="create users"
id -u {SERVICE_USER} >/dev/null 2>&1 || useradd --system --home-dir {PIPELINE_HOME} --create-home --shell /sbin/nologin {SERVICE_USER}
id -u {DASHBOARD_USER} >/dev/null 2>&1 || useradd --system --no-create-home --shell /sbin/nologin {DASHBOARD_USER}
step="download the source asset"
rm -rf {APP_ROOT}/src && mkdir -p {APP_ROOT}/src
aws s3 cp --region {settings.region} --only-show-errors {settings.source_url} /tmp/pipeline-source.zip
unzip -q -o /tmp/pipeline-source.zip -d {APP_ROOT}/src && rm -f /tmp/pipeline-source.zip
step="install the locked dependencies"
python3.11 -m venv {APP_ROOT}/venv
{APP_ROOT}/venv/bin/pip install --quiet --disable-pip-version-check --require-hashes --requirement {APP_ROOT}/src/{RUNTIME_LOCK}
step="install the project"
{APP_ROOT}/venv/bin/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation {APP_ROOT}/src
step="write the configuration"
{_write_file(ENVIRONMENT_FILE, _environment_file(settings.environment), "0640")}chgrp {SERVICE_USER} {ENVIRONMENT_FILE}
{_write_file(DASHBOARD_ENVIRONMENT_FILE, _environment_file(dashboard_environment), "0640")}chgrp {DASHBOARD_USER} {DASHBOARD_ENVIRONMENT_FILE}
{tls}{units}step="start the services"
systemctl daemon-reload
systemctl enable pipeline-migrate.service pipeline-dashboard.service pipeline-etl.timer
# --no-block: the migration retries until the database accepts connections; the boot need not wait.
systemctl start --no-block pipeline-migrate.service pipeline-dashboard.service pipeline-etl.timer
systemctl enable --now --no-block {ETL_FOLLOW_SERVICE}
{'step="install the CloudWatch agent"' + chr(10) + cloudwatch if cloudwatch else ""}{ready}echo "pipeline bootstrap: done $(date --iso-8601=seconds)"
"""
