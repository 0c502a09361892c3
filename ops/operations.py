"""Operations on a deployed environment: ``make smoke``, ``make pause``, ``make resume``, ``make etl-now``.

They run with the operator's AWS credentials, find everything from the stack's outputs and resources
(the same context arguments as ``cdk`` name the stack), and print one line per step or check:

- ``smoke``: the stack is deployed, the dashboard URL answers ``/_stcore/health``, each source has a
  raw object written in the last ``--max-age-hours``, no table is empty (``pipeline status`` on the
  instance, through SSM Run Command: the database is reachable from the instance only) and no alarm is
  firing. Exit status 1 when any check fails.
- ``pause`` / ``resume``: stop / start the instance and the database (lab budgets; RDS starts a stopped
  database again by itself after seven days). The Elastic IP, and so the dashboard URL, stays.
- ``etl-now``: start the ETL on the instance now (the stack's ``RunEtlCommand``) and print its log.

Usage: ``python -m ops.operations {smoke,pause,resume,etl-now} [--dashboard-url URL] [-c key=value ...]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import re
import ssl
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from etl.schema import CORE_TABLES
from ops.tools import ToolError, config_from_arguments, run_tool
from pipeline.catalog import DATA_SOURCES
from pipeline.rawzone import source_prefix
from stacks.instance_bootstrap import ENVIRONMENT_FILE, ETL_SERVICE, PIPELINE_BIN, PIPELINE_HOME

HEALTH_TIMEOUT_SECONDS = 10
COMMAND_POLL_SECONDS = 2
COMMAND_TIMEOUT_SECONDS = 7200  # the ETL unit's own TimeoutStartSec
DEFAULT_MAX_AGE_HOURS = 30  # a daily schedule, with room for its retries
ETL_COMMANDS = (f"systemctl start {ETL_SERVICE}", f"journalctl -u {ETL_SERVICE} -n 30 --no-pager")
# `pipeline status` as the services run it: their environment file, their working directory.
STATUS_COMMAND = f"cd {PIPELINE_HOME} && set -a && . {ENVIRONMENT_FILE} && set +a && {PIPELINE_BIN} status"
_ROW_COUNT = re.compile(r"^\s+(\w+)\s+([\d,]+)$")


@dataclass(frozen=True)
class Environment:
    """A deployed stack: its name, outputs and resources (physical ids by type)."""

    stack_name: str
    status: str
    outputs: dict[str, str]
    resources: dict[str, list[str]]

    def output(self, name: str) -> str:
        if name not in self.outputs:
            raise ToolError(f"stack {self.stack_name} has no output {name}; was it deployed by this version?")
        return self.outputs[name]


def load_environment(cloudformation: Any, stack_name: str) -> Environment:
    from botocore.exceptions import ClientError

    try:
        stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    except ClientError as error:
        if "does not exist" in str(error):
            raise ToolError(f"stack {stack_name} not found: deploy it first (make deploy)") from None
        raise
    resources: dict[str, list[str]] = {}
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name):
        for summary in page["StackResourceSummaries"]:
            resources.setdefault(summary["ResourceType"], []).append(summary["PhysicalResourceId"])
    outputs = {item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs", [])}
    return Environment(stack_name, stack["StackStatus"], outputs, resources)


def database_identifier(rds: Any, environment: Environment) -> str:
    """The RDS instance behind the stack's DatabaseEndpoint output."""
    endpoint = environment.output("DatabaseEndpoint")
    for page in rds.get_paginator("describe_db_instances").paginate():
        for database in page["DBInstances"]:
            if database.get("Endpoint", {}).get("Address") == endpoint:
                return str(database["DBInstanceIdentifier"])
    raise ToolError(f"no RDS instance answers at {endpoint}")


def run_on_instance(ssm: Any, instance_id: str, commands: Sequence[str], comment: str) -> tuple[bool, str]:
    """Run shell commands on the instance through SSM Run Command; return (succeeded, output)."""
    command_id = ssm.send_command(
        InstanceIds=[instance_id],
        DocumentName="AWS-RunShellScript",
        Comment=comment,
        Parameters={"commands": list(commands)},
    )["Command"]["CommandId"]
    deadline = time.monotonic() + COMMAND_TIMEOUT_SECONDS
    while True:
        time.sleep(COMMAND_POLL_SECONDS)
        try:
            invocation = ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id)
        except ssm.exceptions.InvocationDoesNotExist:
            continue  # not registered yet, right after sending
        if invocation["Status"] not in {"Pending", "InProgress", "Delayed"}:
            output = invocation.get("StandardOutputContent", "") + invocation.get("StandardErrorContent", "")
            return invocation["Status"] == "Success", output
        if time.monotonic() > deadline:
            raise ToolError(f"SSM command {command_id} still running after {COMMAND_TIMEOUT_SECONDS}s")


def row_counts(status_output: str) -> dict[str, int]:
    """The row counts of `pipeline status` (its ``rows:`` section)."""
    counts: dict[str, int] = {}
    in_rows = False
    for line in status_output.splitlines():
        if line.strip() == "rows:":
            in_rows = True
        elif in_rows and (match := _ROW_COUNT.match(line)):
            counts[match.group(1)] = int(match.group(2).replace(",", ""))
    return counts


class Smoke:
    """The post-deploy checks; each prints one line, PASS or FAIL."""

    def __init__(self, environment: Environment, session: Any, dashboard_url: str | None, max_age_hours: int):
        self.environment = environment
        self.session = session
        self.dashboard_url = dashboard_url or environment.output("DashboardUrl")
        self.max_age = dt.timedelta(hours=max_age_hours)
        self.failures = 0

    def check(self, name: str, probe: Callable[[], str]) -> None:
        try:
            detail = probe()
        except Exception as error:
            self.failures += 1
            print(f"FAIL  {name}: {' '.join(str(error).split())[:300]}")
        else:
            print(f"PASS  {name}{': ' + detail if detail else ''}")

    def run(self) -> int:
        self.check("stack deployed", self.stack_deployed)
        self.check(f"dashboard {self.dashboard_url} healthy", self.dashboard_healthy)
        for source in DATA_SOURCES:
            self.check(f"source {source} fresh", functools.partial(self.source_fresh, source))
        self.check("tables not empty", self.tables_not_empty)
        self.check("alarms not firing", self.alarms_quiet)
        print(f"smoke: {'FAILED' if self.failures else 'PASSED'} ({self.failures} failed)")
        return 1 if self.failures else 0

    def stack_deployed(self) -> str:
        status = self.environment.status
        if not status.endswith("_COMPLETE") or "ROLLBACK" in status or "DELETE" in status:
            raise ToolError(f"stack status {status}")
        return status

    def dashboard_healthy(self) -> str:
        # The TLS mode's certificate is self-signed, made on the instance at first boot: no operator's
        # machine can verify it. The check sends nothing secret and only reads "ok", so it accepts it.
        unverified = ssl.create_default_context()
        unverified.check_hostname = False
        unverified.verify_mode = ssl.CERT_NONE
        with urllib.request.urlopen(
            f"{self.dashboard_url}/_stcore/health", timeout=HEALTH_TIMEOUT_SECONDS, context=unverified
        ) as answer:
            body = answer.read().decode().strip()
        if body != "ok":
            raise ToolError(f"/_stcore/health answered {body!r}")
        return body

    def source_fresh(self, source: str) -> str:
        s3 = self.session.client("s3")
        newest: dt.datetime | None = None
        pages = s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.environment.output("RawBucketName"), Prefix=source_prefix(source)
        )
        for page in pages:
            for item in page.get("Contents", []):
                newest = item["LastModified"] if newest is None else max(newest, item["LastModified"])
        if newest is None:
            raise ToolError("no raw object yet (run the RunIngestionCommand output)")
        age = dt.datetime.now(dt.UTC) - newest
        if age > self.max_age:
            raise ToolError(f"newest raw object is {age} old (more than {self.max_age})")
        return f"newest raw object written {newest:%Y-%m-%d %H:%M}Z"

    def tables_not_empty(self) -> str:
        succeeded, output = run_on_instance(
            self.session.client("ssm"),
            self.environment.output("InstanceId"),
            [STATUS_COMMAND],
            "pipeline status",
        )
        if not succeeded:
            raise ToolError(f"`pipeline status` failed on the instance: {output[-300:]}")
        counts = row_counts(output)
        missing = [table for table in CORE_TABLES if table not in counts]
        empty = [table for table in CORE_TABLES if counts.get(table) == 0]
        if missing or empty:
            raise ToolError(f"empty: {', '.join(empty) or '-'}; not reported: {', '.join(missing) or '-'}")
        return ", ".join(f"{table} {counts[table]:,}" for table in CORE_TABLES)

    def alarms_quiet(self) -> str:
        names = self.environment.resources.get("AWS::CloudWatch::Alarm", [])
        if not names:
            raise ToolError("the stack has no alarms")
        alarms = self.session.client("cloudwatch").describe_alarms(AlarmNames=names)["MetricAlarms"]
        firing = [alarm["AlarmName"] for alarm in alarms if alarm["StateValue"] == "ALARM"]
        if firing:
            raise ToolError(f"in ALARM: {', '.join(firing)}")
        return f"{len(alarms)} alarms, none in ALARM"


def pause(environment: Environment, session: Any) -> int:
    instance_id = environment.output("InstanceId")
    session.client("ec2").stop_instances(InstanceIds=[instance_id])
    print(f"pause: stopping instance {instance_id}")
    rds = session.client("rds")
    database = database_identifier(rds, environment)
    rds.stop_db_instance(DBInstanceIdentifier=database)
    print(f"pause: stopping database {database} (RDS starts it again by itself after 7 days)")
    return 0


def resume(environment: Environment, session: Any) -> int:
    rds = session.client("rds")
    database = database_identifier(rds, environment)
    rds.start_db_instance(DBInstanceIdentifier=database)
    print(f"resume: starting database {database}")
    instance_id = environment.output("InstanceId")
    session.client("ec2").start_instances(InstanceIds=[instance_id])
    print(
        f"resume: starting instance {instance_id}; the dashboard returns at {environment.output('DashboardUrl')}"
    )
    return 0


def etl_now(environment: Environment, session: Any) -> int:
    succeeded, output = run_on_instance(
        session.client("ssm"), environment.output("InstanceId"), ETL_COMMANDS, "pipeline etl"
    )
    print(output.rstrip())
    print(f"etl-now: {'finished' if succeeded else 'FAILED'} on {environment.output('InstanceId')}")
    return 0 if succeeded else 1


def main(arguments: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.operations", description=__doc__.splitlines()[0])
    parser.add_argument("operation", choices=["smoke", "pause", "resume", "etl-now"])
    parser.add_argument("--dashboard-url", help="smoke: check this URL instead of the DashboardUrl output")
    parser.add_argument("--max-age-hours", type=int, default=DEFAULT_MAX_AGE_HOURS)
    options, context = parser.parse_known_args(arguments)
    config = config_from_arguments(context)
    import boto3

    session = boto3.session.Session()
    environment = load_environment(session.client("cloudformation"), config.stack_name)
    if options.operation == "smoke":
        return Smoke(environment, session, options.dashboard_url, options.max_age_hours).run()
    operation = {"pause": pause, "resume": resume, "etl-now": etl_now}[options.operation]
    return operation(environment, session)


if __name__ == "__main__":
    sys.exit(run_tool(main))
