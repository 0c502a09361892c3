"""The operations commands of docs/deploy.md, run through the Makefile against the emulated deployment.

They run while the first boot's dashboard is serving and the instance's sandbox is registered with the
emulator, so SSM Run Command (``make etl-now``, the table check of ``make smoke``) runs there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import boto3

from tests.rehearsal.deployed import DeployedStack
from tests.rehearsal.report import Report
from tests.rehearsal.workspace import Workspace


def _states(stack: DeployedStack) -> tuple[str, str]:
    instance = stack.instance()["State"]["Name"]
    return instance, str(stack.database()["DBInstanceStatus"])


def rehearse_operations(
    report: Report,
    workspace: Workspace,
    environment: Mapping[str, str],
    stack: DeployedStack,
    dashboard_url: str,
    variables: Sequence[str],
) -> None:
    smoke = workspace.make("smoke", environment, f"DASHBOARD_URL={dashboard_url}", *variables)
    lines = [line for line in smoke.log.read_text().splitlines() if line.startswith(("PASS", "FAIL"))]
    report.check(
        f"make smoke: every check passes ({len(lines)} checks)",
        smoke.returncode == 0 and bool(lines) and all(line.startswith("PASS") for line in lines),
        smoke.tail(8),
    )
    closed = workspace.make("smoke", environment, "DASHBOARD_URL=http://127.0.0.1:9", *variables)
    report.check(
        "make smoke: an unreachable dashboard fails it (non-zero exit, a FAIL line)",
        closed.returncode != 0 and "FAIL  dashboard" in closed.log.read_text(),
        closed.tail(4),
    )
    etl = workspace.make("etl-now", environment, *variables)
    report.check(
        "make etl-now: runs the ETL on the instance (SSM Run Command) and prints its log",
        etl.returncode == 0 and "etl:" in etl.log.read_text(),
        etl.tail(4),
    )
    paused = workspace.make("pause", environment, *variables)
    report.check(
        "make pause: instance and database stopped",
        paused.returncode == 0 and _states(stack) == ("stopped", "stopped"),
        f"exit {paused.returncode}, states {_states(stack)}: {paused.tail(3)}",
    )
    resumed = workspace.make("resume", environment, *variables)
    report.check(
        "make resume: instance running, database available",
        resumed.returncode == 0 and _states(stack) == ("running", "available"),
        f"exit {resumed.returncode}, states {_states(stack)}: {resumed.tail(3)}",
    )
    address = boto3.client("ec2").describe_addresses(
        Filters=[{"Name": "instance-id", "Values": [stack.outputs["InstanceId"]]}]
    )["Addresses"]
    # In private mode the dashboard URL is the tunnel's localhost; the address is the instance's own.
    private = stack.config.access_mode == "private"
    report.check(
        "make resume: the Elastic IP "
        + ("stays with the instance" if private else "(the dashboard URL) stays with the instance"),
        bool(address) and (private or stack.names_address(address[0]["PublicIp"])),
        f"addresses {address}",
    )
