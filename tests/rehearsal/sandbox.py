"""The stand-in for the app instance: a folder where its absolute paths live, and its stand-in commands.

`sandboxed` moves the instance's absolute paths under the sandbox (the user data, the unit files and
the commands SSM Run Command sends all go through it). `write_stand_ins` puts logging stand-ins for
``dnf``, ``useradd`` and ``chgrp`` on the sandbox's PATH, an ``install`` that runs the real one without its
owner and group (the service users are not made here) (and for the CloudWatch agent's control
command that ``dnf install amazon-cloudwatch-agent`` would put in place), and a ``systemctl`` that logs every call and,
for ``systemctl start <unit>.service`` without ``--no-block``, runs the unit's ``ExecStart`` as written
with its ``EnvironmentFile`` and ``WorkingDirectory`` (what systemd does for a oneshot service), and
answers ``systemctl is-active <unit>`` with the state the rehearsal recorded after running that unit;
a ``cfn-signal`` that logs each signal;
``journalctl -u <unit>`` prints that run's output. This module imports nothing heavy: the emulator's
process uses it too.
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

from stacks import log_agent
from stacks.instance_bootstrap import APP_ROOT, CFN_SIGNAL, ENVIRONMENT_FILE, PIPELINE_HOME, READY_SCRIPT

# The absolute paths of the instance that the first boot and the services use.
INSTANCE_PATHS = (
    APP_ROOT,
    str(Path(ENVIRONMENT_FILE).parent),
    "/etc/systemd/system",
    PIPELINE_HOME,
    "/var/log/pipeline-bootstrap.log",
    "/tmp/pipeline-source.zip",
    log_agent.LOG_DIRECTORY,
    log_agent.CURSOR_DIRECTORY,
    str(Path(log_agent.AGENT_CTL).parents[1]),
    log_agent.HEALTH_SCRIPT,
    log_agent.LOGROTATE_CONFIG,
    READY_SCRIPT,
    CFN_SIGNAL,
)
LOGGING_STAND_INS = ("dnf", "useradd", "chgrp")
STAND_IN_LOG = "stand-ins.log"

_INSTALL = '''#!{python}
"""install stand-in: log the call; run the real install without -o/-g (the service users exist only on
the instance: useradd is a stand-in here)."""
import os, sys
with open({log!r}, "a") as log:
    log.write("install " + " ".join(sys.argv[1:]) + "\\n")
arguments, skip = [], False
for argument in sys.argv[1:]:
    if skip:
        skip = False
    elif argument in ("-g", "-o"):
        skip = True
    else:
        arguments.append(argument)
os.execv("/usr/bin/install", ["install", *arguments])
'''

_SYSTEMCTL = '''#!{python}
"""systemctl stand-in: log the call; run a oneshot unit's ExecStart for a blocking `start`."""
import os, re, shlex, subprocess, sys
sandbox = {sandbox!r}
with open(os.path.join(sandbox, {log!r}), "a") as log:
    log.write("systemctl " + " ".join(sys.argv[1:]) + "\\n")
arguments = sys.argv[1:]
if arguments[:1] == ["is-active"]:
    # A unit's state as the rehearsal recorded it after running the unit as written (see unit_state).
    unit = [argument for argument in arguments[1:] if not argument.startswith("-")][0]
    path = os.path.join(sandbox, "unit-state", unit)
    state = open(path).read().strip() if os.path.exists(path) else "inactive"
    if "--quiet" not in arguments:
        print(state)
    sys.exit(0 if state == "active" else 3)
if not arguments or arguments[0] != "start" or "--no-block" in arguments:
    sys.exit(0)
status = 0
for unit in arguments[1:]:
    text = open(os.path.join(sandbox + "/etc/systemd/system", unit)).read()
    setting = lambda key: re.findall(r"^" + key + r"=(.*)$", text, flags=re.MULTILINE)
    environment = dict(os.environ)
    for path in setting("EnvironmentFile"):
        for line in open(path).read().splitlines():
            if "=" in line:
                key, value = line.split("=", 1)
                environment[key] = value
    allowed = {{0}} | {{int(code) for value in setting("SuccessExitStatus") for code in value.split()}}
    with open(os.path.join(sandbox, "journal-" + unit + ".log"), "w") as journal:
        code = subprocess.run(shlex.split(setting("ExecStart")[-1]), cwd=setting("WorkingDirectory")[-1],
                              env=environment, stdout=journal, stderr=subprocess.STDOUT).returncode
    status = status or (0 if code in allowed else code)
sys.exit(status)
'''

_JOURNALCTL = """#!/bin/sh
# journalctl stand-in: the output of the unit's last run through the systemctl stand-in.
unit=""
while [ $# -gt 0 ]; do [ "$1" = "-u" ] && unit="$2"; shift; done
cat "{sandbox}/journal-$unit.log" 2>/dev/null | tail -n 30
"""


def sandboxed(text: str, sandbox: Path) -> str:
    """`text` with each of the instance's absolute paths moved under `sandbox`."""
    # A whole path only: /etc/pipeline must not take the /etc/pipeline of /etc/pipeline-agent.json.
    alternatives = "|".join(re.escape(path) for path in sorted(INSTANCE_PATHS, key=len, reverse=True))
    pattern = re.compile(f"(?:{alternatives})(?![\\w.-])")
    return pattern.sub(lambda match: f"{sandbox}{match.group(0)}", text)


def record_unit_state(sandbox: Path, unit: str, state: str) -> None:
    """What ``systemctl is-active <unit>`` answers in the sandbox (the rehearsal ran the unit itself)."""
    folder = sandbox / "unit-state"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / unit).write_text(state, encoding="utf-8")


def bin_dir(sandbox: Path) -> Path:
    return sandbox / "bin"


def write_stand_ins(sandbox: Path, python: str, aws_cli: Path) -> None:
    """The sandbox's commands: logging stand-ins, systemctl/journalctl, CPython 3.11 and the AWS CLI."""
    folder = bin_dir(sandbox)
    folder.mkdir(parents=True, exist_ok=True)
    # The folders every Amazon Linux image has, that the script writes into without creating them.
    for standard in ("var/log", "tmp", "etc/systemd/system"):
        (sandbox / standard).mkdir(parents=True, exist_ok=True)
    log = sandbox / STAND_IN_LOG
    for name in LOGGING_STAND_INS:
        (folder / name).write_text(
            f'#!/bin/sh\necho "{name} $*" >> {shlex.quote(str(log))}\n', encoding="utf-8"
        )
    (folder / "systemctl").write_text(
        _SYSTEMCTL.format(python=sys.executable, sandbox=str(sandbox), log=STAND_IN_LOG), encoding="utf-8"
    )
    (folder / "journalctl").write_text(_JOURNALCTL.format(sandbox=sandbox), encoding="utf-8")
    (folder / "install").write_text(_INSTALL.format(python=sys.executable, log=str(log)), encoding="utf-8")
    for name in (*LOGGING_STAND_INS, "systemctl", "journalctl", "install"):
        (folder / name).chmod(0o755)
    # What `dnf install amazon-cloudwatch-agent` would install: its control command, logging its call.
    agent_ctl = Path(sandboxed(log_agent.AGENT_CTL, sandbox))
    agent_ctl.parent.mkdir(parents=True, exist_ok=True)
    agent_ctl.write_text(
        f'#!/bin/sh\necho "{agent_ctl.name} $*" >> {shlex.quote(str(log))}\n', encoding="utf-8"
    )
    agent_ctl.chmod(0o755)
    # aws-cfn-bootstrap's cfn-signal (Amazon Linux has it): logs each signal the first boot sends.
    signal = Path(sandboxed(CFN_SIGNAL, sandbox))
    signal.parent.mkdir(parents=True, exist_ok=True)
    signal.write_text(f'#!/bin/sh\necho "cfn-signal $*" >> {shlex.quote(str(log))}\n', encoding="utf-8")
    signal.chmod(0o755)
    for standard in ("etc/logrotate.d", "usr/local/bin"):
        (sandbox / standard).mkdir(parents=True, exist_ok=True)
    # What dnf would install (CPython 3.11) and what Amazon Linux ships (the AWS CLI).
    (folder / "python3.11").symlink_to(python)
    (folder / "aws").symlink_to(aws_cli)


def search_path(sandbox: Path) -> str:
    return f"{bin_dir(sandbox)}:/usr/local/bin:/usr/bin:/bin"
