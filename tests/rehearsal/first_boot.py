"""The app instance's first boot, rehearsed in a sandbox from the user data of the deployed instance.

The script runs as written except that its absolute paths are moved under a sandbox folder. `dnf`,
`useradd`, `chgrp` and `systemctl` are stand-ins that log their arguments (this machine is not Amazon
Linux and the rehearsal is not root of a VM); `python3.11` is the real CPython 3.11 that dnf would
install; `aws s3 cp` is the real AWS CLI fetching the real source asset from the emulator. Then:

- every unit file passes ``systemd-analyze verify`` (Debian's systemd);
- each unit's ``ExecStart`` runs as written, with its ``EnvironmentFile`` and ``WorkingDirectory``,
  against an embedded PostgreSQL standing in for RDS (the secrets point at it) and the emulator's S3
  and Secrets Manager: the migration, the ETL, and the dashboard (on a free port instead of the unit's);
- between them one scheduled ingestion runs through the deployed Lambda's handler, with the schedule's
  input, against a local stand-in for the external APIs, writing into the emulator's raw bucket;
- the venv holds exactly the versions of requirements-runtime.lock, and the first boot's signals to
  CloudFormation (a ``cfn-signal`` stand-in logs them) are FAILURE naming the step when a step fails,
  SUCCESS from ``pipeline-ready`` once the migration has run and the dashboard answers.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shlex
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3

from dashboard.vocabulary import index_name
from stacks import log_agent
from stacks.instance_bootstrap import APP_ROOT, READY_SERVICE, RUNTIME_LOCK, TLS_ENVIRONMENT
from tests.rehearsal import lake, moto_workarounds
from tests.rehearsal import sandbox as instance
from tests.rehearsal.deployed import DeployedStack
from tests.rehearsal.emulator import ACCOUNT_ID, REGION, Emulator
from tests.rehearsal.report import Report, expect
from tests.rehearsal.units import COMMAND_TIMEOUT_SECONDS, run_logged, tail, unit_setting
from tests.rehearsal.workspace import Workspace
from tests.support.chromium import launch_options

SCRIPT_TIMEOUT_SECONDS = 900
SERVER_START_SECONDS = 90
# A small universe keeps the stand-in ingestion to a few paced requests.
UNIVERSE = [("AAPL", "Apple Inc.", "Information Technology", "Technology Hardware")]
# The stand-in APIs answer with their fixtures (first days of 2024) whatever the window; the scheduled
# run (yesterday) would rightly quarantine them, so the schedule's input gets the fixtures' window.
FIXTURE_WINDOW = {"start": "2024-01-02", "end": "2024-01-31"}
RENDER_TIMEOUT_MS = 60_000


def settings_port(units: Mapping[str, str]) -> str:
    """The dashboard's port as its unit is written (``--port N``)."""
    command = shlex.split(unit_setting(units["pipeline-dashboard.service"], "ExecStart"))
    return command[command.index("--port") + 1]


def environment_file(path: Path) -> dict[str, str]:
    """systemd's EnvironmentFile format as the units use it: KEY=value lines."""
    pairs = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            key, value = line.split("=", 1)
            pairs[key] = value
    return pairs


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def stand_in_database(folder: Path, stack: DeployedStack) -> Iterator[str]:
    """An embedded PostgreSQL with the secrets' users and database; both secrets are pointed at it."""
    import warnings

    import psycopg

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

        server = pgserver.get_server(folder, cleanup_mode="stop")
    try:
        uri = server.get_uri()
        admin = stack.secret(stack.outputs["DatabaseSecretArn"])
        with psycopg.connect(uri, autocommit=True) as conn:
            conn.execute(
                psycopg.sql.SQL("CREATE ROLE {} LOGIN CREATEROLE PASSWORD {}").format(
                    psycopg.sql.Identifier(admin["username"]), psycopg.sql.Literal(admin["password"])
                )
            )
            conn.execute(
                psycopg.sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    psycopg.sql.Identifier(admin["dbname"]), psycopg.sql.Identifier(admin["username"])
                )
            )
        socket_dir = re.search(r"host=([^&]+)", uri)
        port = re.search(r"port=(\d+)", uri)
        host = urllib.parse.unquote(socket_dir.group(1)) if socket_dir else "127.0.0.1"
        client = boto3.client("secretsmanager")
        for output in ("DatabaseSecretArn", "DashboardSecretArn"):
            secret = stack.secret(stack.outputs[output])
            secret.update({"host": host, "port": int(port.group(1)) if port else 5432})
            client.put_secret_value(SecretId=stack.outputs[output], SecretString=json.dumps(secret))
        yield uri.replace("/postgres?", f"/{admin['dbname']}?")
    finally:
        server.cleanup()


def _run_unit(
    unit: str, environment: Mapping[str, str], log: Path, replace: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    command = shlex.split(unit_setting(unit, "ExecStart"))
    command = [(replace or {}).get(argument, argument) for argument in command]
    return run_logged(command, unit_setting(unit, "WorkingDirectory"), environment, log)


def _schedule_input(function_arn: str) -> str:
    client = boto3.client("scheduler")
    for item in client.list_schedules()["Schedules"]:
        detail = client.get_schedule(Name=item["Name"])
        if detail["Target"]["Arn"] == function_arn:
            return str(detail["Target"].get("Input", "{}"))
    raise AssertionError(f"no schedule targets {function_arn}")


def run_lambda_handler(
    stack: DeployedStack,
    function_output: str,
    events: Sequence[Mapping[str, object]],
    sandbox: Path,
    python: Path,
    overrides: Mapping[str, str],
    log: Path,
) -> tuple[int, list[object]]:
    """The deployed function's own code (from the emulator), invoked once per event; its exit code and
    the handler's results.

    The bundle's pure-Python packages run here; its third-party wheels are built for arm64 Linux, so
    the instance venv's (x86_64) copies of the same packages stand in for them.
    """
    client = boto3.client("lambda")
    name = stack.outputs[function_output]
    function = client.get_function(FunctionName=name)
    bucket, key = moto_workarounds.lambda_code_object(
        stack.template, stack.logical_id(name), ACCOUNT_ID, REGION
    )
    body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    bundle = zipfile.ZipFile(io.BytesIO(body))
    code = sandbox / f"lambda-code-{function_output}"
    shutil.rmtree(code, ignore_errors=True)
    for member in bundle.namelist():
        if member.split("/")[0] in {"lambda_src", "pipeline"}:
            bundle.extract(member, code)
    handler_module, handler_name = function["Configuration"]["Handler"].rsplit(".", 1)
    results = sandbox / f"{function_output}-results.json"
    runner = (
        "import json, sys, importlib\n"
        "class Context:\n"
        "    def get_remaining_time_in_millis(self): return 600_000\n"
        f"handler = getattr(importlib.import_module({handler_module!r}), {handler_name!r})\n"
        "results = [handler(event, Context()) for event in json.loads(sys.argv[1])]\n"
        "open(sys.argv[2], 'w').write(json.dumps(results))\n"
    )
    environment = {
        **os.environ,
        **function["Configuration"].get("Environment", {}).get("Variables", {}),
        **overrides,
        "PYTHONPATH": str(code),
    }
    Path(environment["PIPELINE_HOME"]).mkdir(parents=True, exist_ok=True)
    with log.open("a") as output:
        completed = subprocess.run(
            [str(python), "-c", runner, json.dumps(list(events)), str(results)],
            cwd=code,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=COMMAND_TIMEOUT_SECONDS,
            check=False,
        )
    answered = json.loads(results.read_text(encoding="utf-8")) if completed.returncode == 0 else []
    return completed.returncode, list(answered)


def shard_records(queue_url: str) -> list[dict[str, object]]:
    """The shard queue's messages, one SQS event each (the event source mapping's batch size is 1)."""
    sqs = boto3.client("sqs")
    events: list[dict[str, object]] = []
    while True:
        received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = received.get("Messages", [])
        if not messages:
            return events
        for message in messages:
            events.append(
                {
                    "Records": [
                        {"messageId": message["MessageId"], "body": message["Body"], "eventSource": "aws:sqs"}
                    ]
                }
            )
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def run_ingestion(
    report: Report, stack: DeployedStack, sandbox: Path, python: Path, overrides: Mapping[str, str], log: Path
) -> bool:
    """The schedule's run as AWS carries it: the dispatcher with the schedule's input queues its shards
    on the emulator's shard queue; the worker runs each message (what the event source mapping does)."""
    dispatcher_arn = boto3.client("lambda").get_function_configuration(
        FunctionName=stack.outputs["DispatcherFunctionName"]
    )["FunctionArn"]
    event = {**json.loads(_schedule_input(dispatcher_arn)), **FIXTURE_WINDOW}
    code, answers = run_lambda_handler(
        stack, "DispatcherFunctionName", [event], sandbox, python, overrides, log
    )
    shards = int(answers[0]["shards"]) if answers and isinstance(answers[0], dict) else 0
    records = shard_records(stack.outputs["ShardQueueUrl"]) if code == 0 else []
    if not report.check(
        "ingestion: the deployed dispatcher (the schedule's input) queues its shards on the shard queue",
        code == 0 and shards > 0 and len(records) == shards,
        f"exit {code}, {shards} shard(s) reported, {len(records)} message(s): {tail(log)}",
    ):
        return False
    code, answers = run_lambda_handler(
        stack, "IngestionFunctionName", records, sandbox, python, overrides, log
    )
    failed = [answer for answer in answers if isinstance(answer, dict) and answer.get("batchItemFailures")]
    return report.check(
        f"ingestion: the deployed worker runs the {len(records)} shard message(s) with no batch item failure",
        code == 0 and len(answers) == len(records) and not failed,
        f"exit {code}, failures {failed}: {tail(log)}",
    )


@contextmanager
def _served(
    command: list[str], cwd: str, environment: Mapping[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=cwd, env=dict(environment), stdout=output, stderr=subprocess.STDOUT
        )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_health(base_url: str, process: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + SERVER_START_SECONDS
    # The TLS mode's certificate is self-signed (made at first boot): the check only needs the answer.
    unverified = ssl.create_default_context()
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the dashboard exited with {process.returncode}")
        try:
            with urllib.request.urlopen(
                f"{base_url}/_stcore/health", timeout=2, context=unverified
            ) as response:
                return str(response.read().decode())
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"no answer on /_stcore/health within {SERVER_START_SECONDS}s")


@contextmanager
def signed_in_page(base_url: str, expected_text: str, login: Mapping[str, str]) -> Iterator[Any]:
    """A headless Chromium page signed in to the dashboard: the gate asked for a login first and hid
    `expected_text` until then; once signed in with the login secret's user name and password, the
    page shows it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**launch_options())
        try:
            # The TLS mode's self-signed certificate: a visitor accepts it once, the browser here always.
            page = browser.new_page(ignore_https_errors=True)
            page.goto(base_url)
            # Through the gate: an unauthenticated visitor is sent to its sign-in page, not to Streamlit.
            expect(
                urllib.parse.urlsplit(page.url).path == "/signin", f"not the gate's sign-in page: {page.url}"
            )
            password = page.get_by_role("textbox", name="Password")
            password.wait_for(timeout=RENDER_TIMEOUT_MS)
            expect(page.get_by_text(expected_text).count() == 0, "data shown before the login")
            if "username" in login:
                page.get_by_role("textbox", name="User name").fill(login["username"])
            password.fill(login["password"])
            page.get_by_role("button", name="Sign in").click()
            page.get_by_text(expected_text).first.wait_for(timeout=RENDER_TIMEOUT_MS)
            yield page
        finally:
            browser.close()


def check_page_with_data(
    base_url: str,
    expected_text: str,
    login: Mapping[str, str],
    signed_in: Callable[[Any], object] = lambda page: None,
) -> str:
    """In headless Chromium the dashboard asks for a login, hides `expected_text` until then, and shows
    it once signed in with the login secret's user name and password; then `signed_in` gets the page
    (the rest of the checks that need a signed-in visitor, in the same browser)."""
    with signed_in_page(base_url, expected_text, login) as page:
        signed_in(page)
    return f"login asked; '{expected_text}' shown after signing in"


def _signals(log_text: str) -> str:
    return " | ".join(line for line in log_text.splitlines() if line.startswith("cfn-signal")) or "none"


def _instance_logical_id(stack: DeployedStack) -> str:
    return stack.logical_id(stack.outputs["InstanceId"])


def check_failure_signal(report: Report, stack: DeployedStack, stand_in_log: Path) -> None:
    """After a failed first boot: CloudFormation was told FAILURE, with the name of the step that failed."""
    signals = stand_in_log.read_text(encoding="utf-8") if stand_in_log.exists() else ""
    failed = re.search(
        r"^cfn-signal --exit-code 1 --stack (\S+) --resource (\S+) .*first boot failed at step: (.+)$",
        signals,
        re.MULTILINE,
    )
    report.check(
        "first boot: the failed step is signalled to CloudFormation as FAILURE, named",
        failed is not None
        and (failed.group(1), failed.group(2)) == (stack.name, _instance_logical_id(stack))
        and bool(failed.group(3).strip()),
        f"signals {_signals(signals)}",
    )


def installed_match_the_lock(app_root: Path, sandbox: Path) -> str:
    """Every package the lock pins for this interpreter is installed at that version, and nothing else
    but pip and the project itself."""
    from packaging.utils import canonicalize_name

    from tests.unit.foundation.test_dependency_lock import locked_versions

    listed = subprocess.run(
        [
            str(app_root / "venv/bin/python"),
            "-m",
            "pip",
            "list",
            "--format=json",
            "--disable-pip-version-check",
        ],
        cwd=sandbox,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    installed = {canonicalize_name(item["name"]): item["version"] for item in json.loads(listed)}
    locked = locked_versions((app_root / "src" / RUNTIME_LOCK).read_text(encoding="utf-8"))
    extra = set(installed) - set(locked) - {"pip", "market-weather-pipeline"}
    different = {
        name: (installed.get(name), version)
        for name, version in locked.items()
        if installed.get(name) != version
    }
    expect(not different, f"installed != locked: {different}")
    expect(not extra, f"installed beyond the lock: {sorted(extra)}")
    return f"{len(locked)} packages at the locked versions"


def rehearse_first_boot(
    report: Report, workspace: Workspace, emulator: Emulator, stack: DeployedStack, variables: Sequence[str]
) -> None:
    """Run the instance's user data in a sandbox, then each unit's command as written, then the ops."""
    from tests.support.fake_apis import FakeApis

    environment = emulator.client_environment()

    sandbox = workspace.root.parent / "sandbox"
    shutil.rmtree(sandbox, ignore_errors=True)
    stand_in_log = sandbox / instance.STAND_IN_LOG
    instance.write_stand_ins(
        sandbox, getattr(sys, "_base_executable", sys.executable), Path(sys.executable).parent / "aws"
    )
    script = instance.sandboxed(stack.user_data(), sandbox)
    (sandbox / "user-data.sh").write_text(script, encoding="utf-8")
    boot_environment = {**environment, "PATH": instance.search_path(sandbox), "HOME": str(sandbox)}
    boot_log = workspace.logs / "first-boot.log"
    started = time.monotonic()
    with boot_log.open("w") as output:
        completed = subprocess.run(
            ["bash", str(sandbox / "user-data.sh")],
            cwd=sandbox,
            env=boot_environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            timeout=SCRIPT_TIMEOUT_SECONDS,
            check=False,
        )
    if not report.check(
        f"first boot: the user data runs to the end ({time.monotonic() - started:.0f}s)",
        completed.returncode == 0,
        f"exit {completed.returncode}: {tail(boot_log)}",
    ):
        check_failure_signal(report, stack, stand_in_log)
        return
    app_root = Path(f"{sandbox}{APP_ROOT}")
    pipeline_bin = app_root / "venv" / "bin" / "pipeline"
    stand_ins = stand_in_log.read_text(encoding="utf-8")
    report.check("first boot: no FAILURE signal sent", "--exit-code 1" not in stand_ins, _signals(stand_ins))
    report.run(
        f"first boot: the venv holds exactly the versions of {RUNTIME_LOCK}",
        lambda: installed_match_the_lock(app_root, sandbox),
    )

    def installed_from_asset() -> str:
        expect(pipeline_bin.exists(), f"no {pipeline_bin}")
        where = subprocess.run(
            [str(app_root / "venv/bin/python"), "-c", "import pipeline, dashboard; print(pipeline.__file__)"],
            cwd=sandbox,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        expect(where.startswith(str(app_root / "venv")), f"pipeline imported from {where}")
        expect((app_root / "src" / "pyproject.toml").exists(), "the asset was not unpacked into src/")
        return where.removeprefix(str(sandbox))

    report.run("first boot: `pipeline` installed from the source asset", installed_from_asset)
    report.check(
        "first boot: services enabled and started (systemctl stand-in)",
        "systemctl enable pipeline-migrate.service pipeline-dashboard.service pipeline-etl.timer" in stand_ins
        and "systemctl start --no-block" in stand_ins,
        stand_ins[-300:],
    )
    units_dir = Path(f"{sandbox}/etc/systemd/system")
    units = {path.name: path.read_text(encoding="utf-8") for path in sorted(units_dir.glob("pipeline-*"))}
    report.check("first boot: unit files written", len(units) >= 2, f"found {sorted(units)}")
    for name in units:
        verified = subprocess.run(
            ["systemd-analyze", "verify", "--man=no", str(units_dir / name)],
            cwd=units_dir,
            capture_output=True,
            text=True,
            check=False,
        )
        problems = [line for line in (verified.stdout + verified.stderr).splitlines() if line.strip()]
        report.check(
            f"first boot: systemd-analyze verify {name}",
            verified.returncode == 0 and not problems,
            " | ".join(problems)[:500],
        )

    agent_config = Path(instance.sandboxed(log_agent.AGENT_CONFIG, sandbox))

    def cloudwatch_agent() -> str:
        expect("dnf install -y -q amazon-cloudwatch-agent" in stand_ins, "the agent is not installed")
        expect(
            f"amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c file:{agent_config}" in stand_ins,
            "the agent is not started with the pipeline's configuration",
        )
        collected = json.loads(agent_config.read_text(encoding="utf-8"))["logs"]["logs_collected"]
        files = collected["files"]["collect_list"]
        return f"{len(files)} log files collected"

    report.run(
        "first boot: the CloudWatch agent installed and started with its config (stand-ins)", cloudwatch_agent
    )

    def while_serving(dashboard_url: str) -> None:
        from tests.rehearsal.operations import rehearse_operations

        health_unit = units[f"{log_agent.HEALTH_UNIT}.service"]
        script = Path(unit_setting(health_unit, "ExecStart")).read_text(encoding="utf-8")
        port = dashboard_url.rsplit(":", 1)[1]
        written = f"127.0.0.1:{settings_port(units)}/"
        checked = subprocess.run(
            ["sh", "-c", script.replace(written, f"127.0.0.1:{port}/")],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        report.check(
            f"unit {log_agent.HEALTH_UNIT}: the health check as written (port -> {port}) reports DashboardHealthy 1",
            checked.returncode == 0 and written in script and '"DashboardHealthy":1' in checked.stdout,
            (checked.stdout + checked.stderr)[-300:],
        )
        ready_script = Path(unit_setting(units[READY_SERVICE], "ExecStart")).read_text(encoding="utf-8")
        ready = subprocess.run(
            ["bash", "-c", ready_script.replace(written, f"127.0.0.1:{port}/")],
            env={**environment, "PATH": instance.search_path(sandbox)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        signals = stand_in_log.read_text(encoding="utf-8")
        expected = f"cfn-signal --exit-code 0 --stack {stack.name} --resource {_instance_logical_id(stack)} "
        report.check(
            f"unit {READY_SERVICE}: as written, signals SUCCESS once pipeline-migrate is active and the dashboard answers",
            ready.returncode == 0 and expected in signals and "services healthy" in signals,
            f"exit {ready.returncode}, signals {_signals(signals)}: {ready.stderr[-300:]}",
        )

        # From now on SSM Run Command for this instance runs in its sandbox, as root with the
        # instance profile's (here: the emulator's) credentials.
        registered = {"sandbox": str(sandbox), "environment": {**environment, "HOME": str(sandbox)}}
        emulator.sandboxes_file.write_text(json.dumps({stack.outputs["InstanceId"]: registered}))
        rehearse_operations(report, workspace, environment, stack, dashboard_url, variables)

    _run_services(report, workspace, stack, sandbox, units, app_root, environment, FakeApis, while_serving)


def _run_services(
    report: Report,
    workspace: Workspace,
    stack: DeployedStack,
    sandbox: Path,
    units: Mapping[str, str],
    app_root: Path,
    environment: Mapping[str, str],
    fake_apis: type,
    while_serving: Callable[[str], None],
) -> None:
    unit_environment_file = Path(unit_setting(units["pipeline-migrate.service"], "EnvironmentFile"))
    settings = environment_file(unit_environment_file)
    # On the instance, credentials come from the instance profile; here from the emulator's fake keys.
    service_environment = {**environment, **settings, "PATH": "/usr/bin:/bin", "HOME": str(sandbox)}
    Path(settings["PIPELINE_HOME"]).mkdir(parents=True, exist_ok=True)
    universe = sandbox / "universe.csv"
    with universe.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ticker", "name", "sector", "industry"])
        writer.writerows(UNIVERSE)
    with stand_in_database(sandbox / "rds", stack) as database_uri:
        report.limit(
            "database stand-in",
            "moto records the RDS instance but runs no database: both secrets now name an embedded "
            "PostgreSQL 16 (socket and port), with the secrets' own users and passwords",
        )
        migrate = _run_unit(
            units["pipeline-migrate.service"], service_environment, workspace.logs / "unit-migrate.log"
        )
        if not report.check(
            "unit pipeline-migrate: `pipeline db migrate` as written",
            migrate.returncode == 0,
            tail(workspace.logs / "unit-migrate.log"),
        ):
            return
        instance.record_unit_state(sandbox, "pipeline-migrate.service", "active")
        with fake_apis() as apis:
            overrides = {
                **apis.environment(),
                "PIPELINE_UNIVERSE": str(universe),
                "PIPELINE_HOME": str(sandbox / "lambda-tmp"),
            }
            ingested = run_ingestion(
                report,
                stack,
                sandbox,
                app_root / "venv/bin/python",
                {**environment, **overrides},
                workspace.logs / "lambda-ingest.log",
            )
        if stack.config.lake:
            lake.write_minute_bars(
                report,
                app_root / "venv/bin/pipeline",
                unit_setting(units["pipeline-migrate.service"], "WorkingDirectory"),
                service_environment,
                workspace.logs / "lake-sample.log",
            )
        raw_objects = (
            boto3.client("s3")
            .list_objects_v2(Bucket=settings["RAW_BUCKET"], Prefix="raw/")
            .get("KeyCount", 0)
        )
        report.check(
            "ingestion: the shards' objects are in the raw bucket",
            ingested and raw_objects > 0,
            f"{raw_objects} raw objects",
        )
        _run_etl_units(report, workspace, units, service_environment, settings, database_uri, raw_objects)
        if stack.config.lake:
            lake.run_compaction(
                report,
                units["pipeline-etl.service"],
                service_environment,
                workspace.logs / "unit-etl-post.log",
            )
            lake.check_tables(report, stack, database_uri)
        _check_dashboard(
            report,
            workspace,
            units["pipeline-dashboard.service"],
            {
                **service_environment,
                **environment_file(
                    Path(unit_setting(units["pipeline-dashboard.service"], "EnvironmentFile"))
                ),
            },
            database_uri,
            while_serving,
            stack,
        )


def _queued_messages(queue_url: str) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def _run_etl_units(
    report: Report,
    workspace: Workspace,
    units: Mapping[str, str],
    environment: Mapping[str, str],
    settings: Mapping[str, str],
    database_uri: str,
    raw_objects: int,
) -> None:
    """`pipeline etl --follow` as written drains the ETL queue (one burst, then stopped); the timer's
    safety-net run `pipeline etl --recent-days N` as written ends with an allowed status."""
    queued = _queued_messages(settings["ETL_QUEUE_URL"])
    report.check(
        "events: each new raw object reached the ETL queue (S3 -> EventBridge rule -> SQS)",
        raw_objects > 0 and queued >= raw_objects,
        f"{queued} message(s) for {raw_objects} raw object(s)",
    )
    follow_unit = units["pipeline-etl-follow.service"]
    log = workspace.logs / "unit-etl-follow.log"
    command = shlex.split(unit_setting(follow_unit, "ExecStart"))
    loaded = 0
    with _served(command, unit_setting(follow_unit, "WorkingDirectory"), environment, log) as process:
        deadline = time.monotonic() + COMMAND_TIMEOUT_SECONDS
        while time.monotonic() < deadline and process.poll() is None:
            loaded = _count_rows(database_uri, "stock_daily")
            if loaded and _queued_messages(settings["ETL_QUEUE_URL"]) == 0:
                break
            time.sleep(1)
        still_following = process.poll() is None
    report.check(
        "unit pipeline-etl-follow: `pipeline etl --follow` as written loads the queued objects (one burst)",
        still_following and loaded > 0,
        f"running {still_following}, {loaded} stock_daily rows: {tail(log)}",
    )
    etl_unit = units["pipeline-etl.service"]
    etl = _run_unit(etl_unit, environment, workspace.logs / "unit-etl.log")
    allowed = {int(code) for code in unit_setting(etl_unit, "SuccessExitStatus").split()} | {0}
    report.check(
        "unit pipeline-etl: the timer's `pipeline etl` as written ends with an allowed status",
        etl.returncode in allowed,
        f"exit {etl.returncode}: {tail(workspace.logs / 'unit-etl.log')}",
    )


def _count_rows(database_uri: str, table: str) -> int:
    import psycopg

    with psycopg.connect(database_uri) as conn:
        row = conn.execute(
            psycopg.sql.SQL("SELECT count(*) FROM {}").format(psycopg.sql.Identifier(table))
        ).fetchone()
    return int(row[0]) if row else 0


def _sessions_of(database_uri: str, role: str) -> int:
    import psycopg

    with psycopg.connect(database_uri) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = %s", (role,)).fetchone()
    return int(row[0]) if row else 0


def _check_dashboard(
    report: Report,
    workspace: Workspace,
    unit: str,
    environment: Mapping[str, str],
    database_uri: str,
    while_serving: Callable[[str], None],
    stack: DeployedStack,
) -> None:
    from pipeline.catalog import DASHBOARD_ROLE

    index_symbol = environment.get("PIPELINE_INDEXES", "^GSPC").split(",")[0]

    command = shlex.split(unit_setting(unit, "ExecStart"))
    written_port = command[command.index("--port") + 1]
    port = str(_free_port())
    log = workspace.logs / "unit-dashboard.log"
    # The TLS mode's unit has nginx (the gate) serve HTTPS with the first boot's certificate.
    scheme = "https" if set(TLS_ENVIRONMENT) <= set(environment) else "http"
    base_url = f"{scheme}://127.0.0.1:{port}"
    with _served(
        [port if argument == written_port else argument for argument in command],
        unit_setting(unit, "WorkingDirectory"),
        environment,
        log,
    ) as process:
        healthy = report.run(
            f"unit pipeline-dashboard: `pipeline dashboard` as written (port {written_port} -> {port}) answers "
            f"/_stcore/health over {scheme.upper()}",
            lambda: _wait_for_health(base_url, process),
        )
        if healthy:
            login = stack.secret(environment["DASHBOARD_LOGIN_SECRET_ARN"])

            def signed_in(page: Any) -> None:
                if stack.config.lake:
                    report.run(
                        "dashboard: the Intraday page shows the lake's minute bars (DuckDB over S3, Chromium)",
                        lambda: lake.check_intraday_page(page, base_url),
                    )

            report.run(
                f"dashboard ({stack.config.access_mode} mode): the gate's sign-in page first, data after "
                "signing in with the login secret (Chromium)",
                lambda: check_page_with_data(base_url, f"{index_name(index_symbol)} close", login, signed_in),
            )
            sessions = _sessions_of(database_uri, DASHBOARD_ROLE)
            report.check(
                f"dashboard: connected as {DASHBOARD_ROLE}, with the credentials of the emulator's secret",
                sessions > 0,
                f"no session of {DASHBOARD_ROLE}: {tail(log)}",
            )
            while_serving(base_url)
