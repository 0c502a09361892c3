"""The app instance's user data: valid bash, real `pipeline` commands, no secrets, working units."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess

import pytest

from cli.main import cli
from stacks.compute import SOURCE_EXCLUDES
from stacks.instance_bootstrap import (
    PIPELINE_COMMANDS,
    RUNTIME_LOCK,
    BootstrapSettings,
    etl_times_after,
    render_bootstrap_script,
    systemd_units,
)
from tests.infra.conftest import Synthesized, resolve_user_data


def _user_data(synthesized: Synthesized) -> str:
    _, instance = synthesized.only("AWS::EC2::Instance")
    return resolve_user_data(instance["Properties"]["UserData"])


def test_user_data_is_valid_bash(any_mode: Synthesized, tmp_path) -> None:
    bash = shutil.which("bash")
    assert bash, "bash is required"
    script = tmp_path / "user-data.sh"
    script.write_text(_user_data(any_mode))
    completed = subprocess.run([bash, "-n", str(script)], capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr


def test_user_data_names_only_existing_pipeline_commands(any_mode: Synthesized) -> None:
    invoked = re.findall(r"/opt/pipeline/venv/bin/pipeline ([a-z]+)(?: ([a-z]+))?", _user_data(any_mode))
    assert {command for command, _ in invoked} == {"db", "dashboard", "etl", "lake"}
    for command, subcommand in invoked:
        assert command in cli.commands, command
        if command in ("db", "lake"):
            assert subcommand in cli.commands[command].commands, subcommand
    for path in PIPELINE_COMMANDS:
        group = cli
        for name in path:
            group = (
                group.commands[name]
                if hasattr(group, "commands")
                else pytest.fail(f"{path} is not a command")
            )


def test_user_data_carries_secret_arns_never_secret_values(any_mode: Synthesized) -> None:
    _, instance = any_mode.only("AWS::EC2::Instance")
    raw = str(instance["Properties"]["UserData"])
    assert "resolve:secretsmanager" not in raw
    assert "SecretString" not in raw
    script = _user_data(any_mode)
    assert "DB_SECRET_ARN=REF_DatabaseAdminSecretAttachment" in script
    assert "DASHBOARD_DB_SECRET_ARN=REF_DatabaseDashboardSecretAttachment" in script
    assert re.search(r"^RAW_BUCKET=REF_StorageRawBucket", script, re.MULTILINE)
    assert "AWS_REGION=REF_AWS__Region" in script
    assert "PIPELINE_HOME=/var/lib/pipeline" in script
    assert "password" not in script.lower()


def test_user_data_installs_from_the_source_asset_with_python311(dev: Synthesized) -> None:
    script = _user_data(dev)
    assert re.search(r"aws s3 cp .* s3://\S+\.zip /tmp/pipeline-source\.zip", script)
    assert "python3.11 -m venv /opt/pipeline/venv" in script


def test_first_boot_installs_the_locked_versions_then_the_project_without_resolving(
    any_mode: Synthesized,
) -> None:
    pips = [line for line in _user_data(any_mode).splitlines() if "/venv/bin/pip " in line]
    # Exactly two installs, in this order, and no unpinned one (`pip install --upgrade pip` included).
    assert pips == [
        "/opt/pipeline/venv/bin/pip install --quiet --disable-pip-version-check --require-hashes "
        f"--requirement /opt/pipeline/src/{RUNTIME_LOCK}",
        "/opt/pipeline/venv/bin/pip install --quiet --disable-pip-version-check --no-deps "
        "--no-build-isolation /opt/pipeline/src",
    ]
    # The lock ships in the source asset (the asset leaves out tests and docs, not the lock).
    assert not any(RUNTIME_LOCK.startswith(excluded.rstrip("*")) for excluded in SOURCE_EXCLUDES)


def _settings(port: int) -> BootstrapSettings:
    return BootstrapSettings(
        source_url="s3://bucket/source.zip",
        region="us-east-1",
        environment={"RAW_BUCKET": "bucket"},
        dashboard_port=port,
        etl_times=etl_times_after(dt.time(8, 0), 30),
        time_zone="America/New_York",
    )


def test_dashboard_runs_unprivileged_and_gets_the_bind_capability_only_below_1024() -> None:
    high = systemd_units(_settings(8501))["pipeline-dashboard.service"]
    low = systemd_units(_settings(80))["pipeline-dashboard.service"]
    for unit in (high, low):
        assert "User=pipeline" in unit
        assert "Restart=on-failure" in unit
    assert "--port 8501 --address 0.0.0.0" in high
    assert "AmbientCapabilities" not in high
    assert "AmbientCapabilities=CAP_NET_BIND_SERVICE" in low


def test_etl_timer_fires_after_the_ingestion_and_again_for_retries() -> None:
    timer = systemd_units(_settings(8501))["pipeline-etl.timer"]
    assert "OnCalendar=*-*-* 08:30:00 America/New_York" in timer
    assert "OnCalendar=*-*-* 09:30:00 America/New_York" in timer
    assert "Unit=pipeline-etl.service" in timer
    assert etl_times_after(dt.time(23, 50), 30) == (dt.time(0, 20), dt.time(1, 20))


def test_etl_service_treats_quarantine_as_success() -> None:
    service = systemd_units(_settings(8501))["pipeline-etl.service"]
    assert "ExecStart=/opt/pipeline/venv/bin/pipeline etl" in service
    assert "SuccessExitStatus=0 3" in service


def test_production_timer_follows_its_schedule(production: Synthesized) -> None:
    script = _user_data(production)
    assert "OnCalendar=*-*-* 07:15:00 Europe/Paris" in script
    assert "AmbientCapabilities=CAP_NET_BIND_SERVICE" in script


def test_script_writes_files_with_quoted_heredocs() -> None:
    script = render_bootstrap_script(_settings(8501))
    # The two environment files (the pipeline's, the dashboard's) and each unit.
    assert script.count("<<'PIPELINE_EOF'") == 2 + len(systemd_units(_settings(8501)))
    assert script.startswith("#!/bin/bash\nset -euo pipefail\n")
