"""The instance's side of CloudWatch: which units' logs go where, the CloudWatch agent's configuration
and the dashboard's health check, as plain text for the first-boot script (no CDK here).

journald keeps the units' output on the instance only; the CloudWatch agent reads files. So a small
templated unit per pipeline unit, ``pipeline-log-export@<unit>``, follows that unit's journal
(``journalctl --follow``, with a cursor file so a restart neither loses nor repeats lines) into
``/var/log/pipeline/<unit>.log``, which the agent ships to the unit's log group. The units themselves
are untouched. The lines in the embedded metric format (`pipeline.telemetry`) become metrics in
CloudWatch Logs as they arrive.

The agent also publishes memory and root-disk use, and ``pipeline-health.timer`` asks the dashboard's
health endpoint every minute and writes the answer as an EMF line (``DashboardHealthy`` 1 or 0), so
an alarm sees a dashboard that is down or hangs, not only a stopped instance.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

LOG_DIRECTORY = "/var/log/pipeline"
CURSOR_DIRECTORY = "/var/lib/pipeline-log-export"
AGENT_CONFIG = "/opt/aws/amazon-cloudwatch-agent/etc/pipeline-agent.json"
AGENT_CTL = "/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl"
HEALTH_SCRIPT = "/usr/local/bin/pipeline-health-check"
HEALTH_UNIT = "pipeline-health"
#: The instance's units whose logs go to CloudWatch, each to its own log group.
LOGGED_UNITS: tuple[str, ...] = (
    "pipeline-migrate",
    "pipeline-dashboard",
    "pipeline-etl",
    "pipeline-etl-follow",
    HEALTH_UNIT,
)
METRICS_INTERVAL_SECONDS = 60
LOGROTATE_CONFIG = "/etc/logrotate.d/pipeline"
#: Days of rotated log files kept on the instance (CloudWatch keeps the lines for log_retention_days).
ROTATED_DAYS = 7
ROTATE_SIZE = "50M"


def metrics_namespace(environment: str) -> str:
    """The CloudWatch namespace of one deployment's metrics (the pipeline's and the agent's)."""
    return f"MarketWeatherPipeline/{environment}"


def log_group_name(namespace: str, unit: str) -> str:
    """The log group of one instance unit: under the deployment's namespace, so two never mix."""
    return f"/{namespace}/{unit}"


def agent_config(namespace: str, units: Sequence[str] = LOGGED_UNITS) -> str:
    """The CloudWatch agent's JSON configuration: every unit's log file, memory and root-disk use.

    The disk and memory series are also rolled up to the instance alone (``aggregation_dimensions``),
    which is what the alarms and the dashboard read: the device and file system type are not known
    when the stack is synthesized.
    """
    config = {
        "agent": {"metrics_collection_interval": METRICS_INTERVAL_SECONDS, "run_as_user": "root"},
        "metrics": {
            "namespace": namespace,
            "append_dimensions": {"InstanceId": "${aws:InstanceId}"},
            "aggregation_dimensions": [["InstanceId"]],
            "metrics_collected": {
                "mem": {"measurement": ["mem_used_percent"]},
                "disk": {"measurement": ["used_percent"], "resources": ["/"], "drop_device": True},
            },
        },
        "logs": {
            "logs_collected": {
                "files": {
                    "collect_list": [
                        {
                            "file_path": f"{LOG_DIRECTORY}/{unit}.log",
                            "log_group_name": log_group_name(namespace, unit),
                            "log_stream_name": "{instance_id}",
                        }
                        for unit in units
                    ]
                }
            }
        },
    }
    return json.dumps(config, indent=2, sort_keys=True)


def export_unit() -> str:
    """``pipeline-log-export@.service``: one unit's journal, followed into its log file."""
    return (
        "[Unit]\nDescription=Copy %i's journal to " + LOG_DIRECTORY + "/%i.log for the CloudWatch agent\n"
        "[Service]\n"
        "ExecStart=/bin/sh -c 'exec journalctl --follow --boot --no-tail --output=cat --unit=%i.service "
        f"--cursor-file={CURSOR_DIRECTORY}/%i.cursor >> {LOG_DIRECTORY}/%i.log'\n"
        "Restart=always\nRestartSec=5\n"
        "[Install]\nWantedBy=multi-user.target\n"
    )


def health_url(port: int, *, tls: bool = False) -> str:
    """The dashboard's health endpoint, asked on the instance itself (HTTPS in the ``tls`` access mode)."""
    return f"{'https' if tls else 'http'}://127.0.0.1:{port}/_stcore/health"


def health_script(namespace: str, port: int, *, tls: bool = False) -> str:
    """Asks the dashboard's health endpoint; prints one EMF line with DashboardHealthy 1 or 0.

    With `tls` the dashboard serves HTTPS with its first-boot self-signed certificate: the check, on the
    instance itself, skips the certificate's verification (``--insecure``), nothing else.
    """
    url = health_url(port, tls=tls)
    insecure = "--insecure " if tls else ""
    directive = json.dumps(
        {
            "Namespace": namespace,
            "Dimensions": [[]],
            "Metrics": [{"Name": "DashboardHealthy", "Unit": "Count"}],
        },
        separators=(",", ":"),
    )
    return (
        "#!/bin/sh\n"
        "# One line in the embedded metric format: 1 when the dashboard answers its health check.\n"
        f"if curl --silent --fail {insecure}--max-time 10 {url} >/dev/null; "
        "then healthy=1; else healthy=0; fi\n"
        f'printf \'{{"_aws":{{"Timestamp":%s,"CloudWatchMetrics":[{directive}]}},'
        f'"event":"dashboard_health","DashboardHealthy":%s}}\\n\' "$(date +%s%3N)" "$healthy"\n'
    )


def health_units() -> dict[str, str]:
    """The health check's service and its every-minute timer."""
    return {
        f"{HEALTH_UNIT}.service": (
            "[Unit]\nDescription=Publish the dashboard's health check as a metric\n"
            f"[Service]\nType=oneshot\nExecStart={HEALTH_SCRIPT}\nDynamicUser=true\n"
        ),
        f"{HEALTH_UNIT}.timer": (
            "[Unit]\nDescription=Check the dashboard every minute\n"
            f"[Timer]\nOnBootSec=2min\nOnUnitActiveSec={METRICS_INTERVAL_SECONDS}s\nAccuracySec=5s\n"
            "[Install]\nWantedBy=timers.target\n"
        ),
    }


def logrotate_config() -> str:
    """logrotate's rule for the units' log files: daily (sooner past ROTATE_SIZE), ROTATED_DAYS kept.

    ``copytruncate``: the export units keep their file open for appending, so the file is copied and
    emptied in place rather than moved; the CloudWatch agent notices the truncation and reads on from
    the start. Without this rule the files only grow (the agent ships them, it does not remove them).
    """
    return (
        f"{LOG_DIRECTORY}/*.log {{\n"
        f"    daily\n    maxsize {ROTATE_SIZE}\n    rotate {ROTATED_DAYS}\n"
        "    compress\n    delaycompress\n    missingok\n    notifempty\n    copytruncate\n}\n"
    )
