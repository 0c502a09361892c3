"""Faults of the embedded PostgreSQL, through the real `pipeline` command in subprocesses: a first
start killed during initdb, a server SIGKILLed just before a command, and a server that cannot start.

Each is either repaired on the next command (nothing lost) or told in one line naming the server's
log file, never the server's log itself; once the cause is gone, the next command works.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from pipeline.embedded_start import is_interrupted_initdb

PIPELINE = str(Path(__file__).resolve().parents[3] / ".venv" / "bin" / "pipeline")


@pytest.fixture
def home(subprocess_env: dict[str, str], isolated_environment: Path):
    """The environment of a `pipeline` with its own embedded server (no DATABASE_URL), stopped after."""
    env = {name: value for name, value in subprocess_env.items() if name != "DATABASE_URL"}
    yield env, isolated_environment / "pg"
    subprocess.run([PIPELINE, "db", "stop"], env=env, capture_output=True, timeout=120)


def pipeline(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PIPELINE, *args], env=env, capture_output=True, text=True, timeout=300)


def _wait_for_initdb(process: subprocess.Popen[bytes], data_dir: Path) -> None:
    """Until initdb runs and has written into the data folder (a wait, not a timing assertion)."""
    for _ in range(6000):
        descendants = psutil.Process(process.pid).children(recursive=True)
        if (data_dir / "PG_VERSION").exists() and any("initdb" in p.name() for p in descendants):
            return
        assert process.poll() is None, "the first start ended before initdb could be interrupted"
        time.sleep(0.01)
    raise AssertionError("initdb never started")


def test_a_first_start_killed_during_initdb_is_detected_and_redone(home) -> None:
    env, data_dir = home
    first = subprocess.Popen(
        [PIPELINE, "db", "url"],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait_for_initdb(first, data_dir)
    os.killpg(first.pid, signal.SIGKILL)  # the command, initdb and its bootstrap backend at once
    first.wait()
    assert is_interrupted_initdb(data_dir), "the fault did not happen: initdb had finished"

    again = pipeline(env, "db", "migrate")

    assert again.returncode == 0, again.stderr
    told = [line for line in again.stderr.splitlines() if "never completely created" in line]
    assert len(told) == 1 and str(data_dir) in told[0] and ".incomplete-" in told[0]
    assert pipeline(env, "status").returncode == 0
    assert not is_interrupted_initdb(data_dir)


def test_a_server_killed_just_before_a_command_is_restarted(home) -> None:
    env, data_dir = home
    assert pipeline(env, "db", "migrate").returncode == 0
    postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
    os.kill(postmaster, signal.SIGKILL)

    status = pipeline(env, "status")

    assert status.returncode == 0, status.stderr
    assert "rows:" in status.stdout
    assert int((data_dir / "postmaster.pid").read_text().split()[0]) != postmaster


def test_a_server_that_cannot_start_is_one_line_naming_its_log_and_is_repaired_after(home) -> None:
    env, data_dir = home
    assert pipeline(env, "db", "migrate").returncode == 0
    assert pipeline(env, "db", "stop").returncode == 0
    settings = data_dir / "postgresql.auto.conf"
    good = settings.read_text()
    settings.write_text(good + "max_connections = 0\n")  # the server refuses to start, as on a full disk

    status = pipeline(env, "status")

    assert status.returncode == 1
    lines = status.stderr.strip().splitlines()
    assert len(lines) == 1, status.stderr
    assert str(data_dir / "log") in lines[0] and "FATAL" in lines[0]
    assert status.stdout == ""

    settings.write_text(good)
    repaired = pipeline(env, "status")
    assert repaired.returncode == 0, repaired.stderr
