"""`make rehearse`: deploy, first boot, operate, update and destroy the stack, with no AWS account.

The stages, each printing one line per check (PASS / FAIL / LIMIT for an emulator limit):

1. the emulator (moto in server mode over TLS, tests/rehearsal/emulator.py);
2. normal mode, with the lake (``-c lake=true``): ``make bootstrap`` + ``make deploy``, then checks on
   what the emulator created (tests/rehearsal/lake.py for the lake's);
3. the instance's first boot in a sandbox (tests/rehearsal/first_boot.py);
4. the operations commands (``make smoke``, ``make pause`` / ``make resume``, ``make etl-now``);
5. an update (changed code, ``make deploy`` again) and ``make destroy``;
6. lab mode, with the lake: ``LabRole`` and ``LabInstanceProfile`` created first, ``make bootstrap-lab`` +
   ``make deploy LAB=1``, the same checks, ``make destroy LAB=1``;
7. private mode (``-c dashboard_access=private``): deploy, the same checks, first boot, destroy.

Usage: ``python -m tests.rehearsal.run [--keep] [--only normal|lab|private] [--break template|first-boot|lake]``
(the ``--break`` defects are the rehearsal's self-tests: each must make it fail).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import boto3

from ops.tools import config_from_arguments
from stacks.config import PipelineConfig
from tests.rehearsal import deployed, lake, moto_workarounds
from tests.rehearsal.emulator import Emulator
from tests.rehearsal.report import Report
from tests.rehearsal.workspace import Workspace

# Deployed with a restricted dashboard CIDR, as docs/deploy.md tells users to.
CDK_CONTEXT = "-c allowed_cidr=203.0.113.7/32"
LAB_TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {
                "Service": ["lambda.amazonaws.com", "ec2.amazonaws.com", "scheduler.amazonaws.com"]
            },
            "Action": "sts:AssumeRole",
        }
    ],
}


# The rehearsal's self-tests: a deliberate defect, applied to the copy, that the rehearsal must catch.
# Each is (file, text, broken text, the check that must fail).
BREAKS: dict[str, tuple[str, str, str, str]] = {
    "template": (
        "stacks/database.py",
        "publicly_accessible=False",
        "publicly_accessible=True",
        "database: not publicly accessible",
    ),
    "first-boot": (
        "stacks/instance_bootstrap.py",
        "--no-build-isolation {APP_ROOT}/src",
        "--no-build-isolation {APP_ROOT}/no-such-source",
        "first boot: the user data runs to the end",
    ),
    # Not among the pytest self-tests (each is a whole rehearsal): run with --break lake --skip-first-boot.
    "lake": (
        "stacks/lake.py",
        "location_uri=self.warehouse,",
        'location_uri=self.bucket.s3_url_for_object("elsewhere"),',
        "lake: the Glue database, located at the lake bucket's warehouse",
    ),
}


def apply_break(workspace: Workspace, name: str) -> None:
    path, text, broken, _ = BREAKS[name]
    target = workspace.root / path
    content = target.read_text(encoding="utf-8")
    if text not in content:
        raise RuntimeError(f"self-test {name}: {text!r} is no longer in {path}; update BREAKS")
    target.write_text(content.replace(text, broken), encoding="utf-8")


#: The rehearsed deployments: normal mode (CloudFront access) and lab mode (TLS access, LabRole), both
#: with the lake (``-c lake=true``: Glue, Athena, the lake bucket; in lab mode with no IAM resource of
#: its own), and normal mode with private access (the dashboard on the instance's loopback, reached
#: through Session Manager).
MODES: dict[str, tuple[bool, str]] = {
    "normal": (False, "-c lake=true"),
    "lab": (True, "-c lake=true"),
    "private": (False, "-c dashboard_access=private"),
}


def deployment_config(lab: bool, extra_context: str = "") -> PipelineConfig:
    return config_from_arguments(
        [*CDK_CONTEXT.split(), *extra_context.split(), *(["-c", "lab=true"] if lab else [])]
    )


def report_emulator_limits(report: Report, stack: deployed.DeployedStack, seen: set[str]) -> None:
    """One LIMIT line per workaround and per skipped resource type the deployed template uses."""
    for name, detail in moto_workarounds.LIMITS.items():
        if name not in seen:
            seen.add(name)
            report.limit(name, detail)
    for kind in sorted(stack.template_types() & set(moto_workarounds.SKIPPED_RESOURCE_TYPES)):
        if kind not in seen:
            seen.add(kind)
            report.limit(kind, moto_workarounds.SKIPPED_RESOURCE_TYPES[kind])


def make_step(
    report: Report, workspace: Workspace, environment: dict[str, str], target: str, *variables: str
) -> bool:
    result = workspace.make(target, environment, *variables)
    label = " ".join(["make", target, *(v for v in variables if not v.startswith("CDK_CONTEXT"))])
    return report.check(
        f"{label} ({result.seconds:.0f}s)",
        result.returncode == 0,
        f"exit {result.returncode}: {result.tail()}",
    )


def create_lab_identity(config: PipelineConfig) -> None:
    """What a lab account already has: the role and the instance profile lab mode runs as."""
    iam = boto3.client("iam")
    iam.create_role(RoleName=config.lab_role_name, AssumeRolePolicyDocument=json.dumps(LAB_TRUST_POLICY))
    iam.create_instance_profile(InstanceProfileName=config.lab_instance_profile_name)
    iam.add_role_to_instance_profile(
        InstanceProfileName=config.lab_instance_profile_name, RoleName=config.lab_role_name
    )


def check_destroyed(report: Report, stack: deployed.DeployedStack, leftovers: Sequence[str]) -> None:
    """After `make destroy`: the stack and its buckets are gone; name what the emulator leaves behind."""
    from botocore.exceptions import ClientError

    cloudformation = boto3.client("cloudformation")
    try:
        status = cloudformation.describe_stacks(StackName=stack.name)["Stacks"][0]["StackStatus"]
    except ClientError:
        status = "gone"
    report.check("destroy: stack gone", status in {"gone", "DELETE_COMPLETE"}, f"status {status}")
    names = {bucket["Name"] for bucket in boto3.client("s3").list_buckets()["Buckets"]}
    left = sorted(set(stack.resources["AWS::S3::Bucket"]) & names)
    report.check("destroy: buckets emptied and deleted", not left, f"left {left}")
    instances = boto3.client("ec2").describe_instances(InstanceIds=[stack.outputs["InstanceId"]])
    state = instances["Reservations"][0]["Instances"][0]["State"]["Name"]
    report.check("destroy: instance terminated", state in {"terminated", "shutting-down"}, f"state {state}")
    databases = [
        item["DBInstanceIdentifier"]
        for item in boto3.client("rds").describe_db_instances()["DBInstances"]
        if item["Endpoint"]["Address"] == stack.outputs["DatabaseEndpoint"]
    ]
    report.check("destroy: database deleted", not databases, f"left {databases}")
    secrets = boto3.client("secretsmanager").list_secrets()["SecretList"]
    arns = {stack.outputs["DatabaseSecretArn"], stack.outputs["DashboardSecretArn"]}
    report.check("destroy: secrets deleted", not [s for s in secrets if s["ARN"] in arns], "secrets remain")
    for leftover in leftovers:
        report.limit("destroy: left by moto's CloudFormation, removed with the VPC", leftover)
    vpcs = stack.resources["AWS::EC2::VPC"]
    remaining = boto3.client("ec2").describe_vpcs(Filters=[{"Name": "vpc-id", "Values": vpcs}])["Vpcs"]
    if remaining:
        report.limit(
            "destroy: VPC left behind",
            f"moto kept {[v['VpcId'] for v in remaining]} (AWS deletes it with the stack)",
        )
    else:
        report.check("destroy: VPC deleted", True)


def _kept_resources(stack: deployed.DeployedStack) -> dict[str, object]:
    return {
        "database": stack.database()["DBInstanceIdentifier"],
        "buckets": sorted(stack.resources["AWS::S3::Bucket"]),
        "secrets": sorted([stack.outputs["DatabaseSecretArn"], stack.outputs["DashboardSecretArn"]]),
    }


def _diff_lines(text: str, resource_type: str) -> list[str]:
    return [
        line.strip()
        for line in text.splitlines()
        if resource_type in line and line.strip()[:3] in {"[-]", "[+]", "[~]"}
    ]


def rehearse_update(
    report: Report,
    workspace: Workspace,
    environment: dict[str, str],
    before: deployed.DeployedStack,
    variables: Sequence[str],
    extra_context: str = "",
) -> deployed.DeployedStack:
    """Change the code, check `cdk diff`, deploy again: the instance is replaced, the data stays."""
    marker = workspace.root / "pipeline" / "__init__.py"
    marker.write_text(
        marker.read_text(encoding="utf-8") + "\n# changed by the deploy rehearsal\n", encoding="utf-8"
    )
    diff = workspace.run(
        [
            str(workspace.root / "node_modules/.bin/cdk"),
            "diff",
            "--no-notices",
            *CDK_CONTEXT.split(),
            *extra_context.split(),
        ],
        environment,
        "cdk-diff",
    )
    text = diff.log.read_text(encoding="utf-8", errors="replace")
    instance_changes = _diff_lines(text, "AWS::EC2::Instance")
    report.check(
        "update: cdk diff replaces the instance (its user data names the new asset)",
        any(line.startswith("[-]") for line in instance_changes)
        and any(line.startswith("[+]") for line in instance_changes),
        f"instance lines {instance_changes}: {diff.tail(4)}",
    )
    for kind in ("AWS::RDS::DBInstance", "AWS::S3::Bucket", "AWS::SecretsManager::Secret"):
        report.check(
            f"update: cdk diff leaves {kind} alone", not _diff_lines(text, kind), f"{_diff_lines(text, kind)}"
        )
    if not make_step(report, workspace, environment, "deploy", *variables):
        return before
    after = deployed.DeployedStack.load(before.config)
    report.check("update: stack updated", after.status() == "UPDATE_COMPLETE", after.status())
    report.check(
        "update: a new instance",
        after.outputs["InstanceId"] != before.outputs["InstanceId"],
        f"still {after.outputs['InstanceId']}",
    )
    old_state = boto3.client("ec2").describe_instances(InstanceIds=[before.outputs["InstanceId"]])
    state = old_state["Reservations"][0]["Instances"][0]["State"]["Name"]
    report.check("update: the old instance terminated", state == "terminated", f"state {state}")
    kept_before, kept_after = _kept_resources(before), _kept_resources(after)
    for name in kept_before:
        report.check(
            f"update: the same {name}",
            kept_before[name] == kept_after[name],
            f"{kept_before[name]} -> {kept_after[name]}",
        )
    report.check(
        "update: the dashboard URL (Elastic IP) is unchanged",
        after.outputs["DashboardUrl"] == before.outputs["DashboardUrl"],
        f"{before.outputs['DashboardUrl']} -> {after.outputs['DashboardUrl']}",
    )
    return after


def rehearse_mode(
    report: Report,
    workspace: Workspace,
    emulator: Emulator,
    *,
    mode: str,
    seen_limits: set[str],
    first_boot: bool,
    update: bool,
) -> None:
    lab, extra_context = MODES[mode]
    environment = emulator.client_environment()
    config = deployment_config(lab, extra_context)
    variables = [f"CDK_CONTEXT={' '.join([CDK_CONTEXT, extra_context]).strip()}", *(["LAB=1"] if lab else [])]
    with report.step(f"{mode} mode: bootstrap and deploy"):
        if lab:
            create_lab_identity(config)
        if not make_step(report, workspace, environment, "bootstrap-lab" if lab else "bootstrap", *variables):
            return
        if not make_step(report, workspace, environment, "deploy", *variables):
            return
    stack = deployed.DeployedStack.load(config)
    with report.step(f"{mode} mode: what the emulator created"):
        deployed.check_everything(report, stack)
        if config.lake:
            lake.check_lake(report, stack)
        report_emulator_limits(report, stack, seen_limits)
    if first_boot:
        from tests.rehearsal import first_boot as boot

        with report.step(f"{mode} mode: the instance's first boot"):
            boot.rehearse_first_boot(report, workspace, emulator, stack, variables)
    if update:
        with report.step(f"{mode} mode: update (changed code, deploy again)"):
            stack = rehearse_update(report, workspace, environment, stack, variables, extra_context)
    with report.step(f"{mode} mode: destroy"):
        if make_step(report, workspace, environment, "destroy", *variables):
            deliveries = emulator.take_late_deliveries()
            report.check(
                "destroy: a log delivery after the teardown's emptying is refused (writes denied first)",
                bool(deliveries) and all(line.startswith("refused") for line in deliveries),
                f"late deliveries {deliveries}",
            )
            check_destroyed(report, stack, emulator.take_leftovers())
            if config.lake:
                lake.check_lake_destroyed(report, stack)
        if lab:
            result = workspace.run(
                [str(workspace.root / ".venv/bin/python"), "-m", "ops.lab_bootstrap", "--delete"],
                environment,
                "lab-bootstrap-delete",
            )
            report.check(
                "lab: assets bucket removed (lab_bootstrap --delete)", result.returncode == 0, result.tail()
            )


def main(arguments: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.rehearsal.run", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, sandbox)")
    parser.add_argument("--only", choices=sorted(MODES), help="rehearse one mode only")
    parser.add_argument("--skip-first-boot", action="store_true", help="deploy and destroy only")
    parser.add_argument("--skip-update", action="store_true", help="no update stage")
    parser.add_argument("--break", dest="defect", choices=sorted(BREAKS), help="self-test: deploy a defect")
    options = parser.parse_args(arguments)
    report = Report()
    workdir = Path(tempfile.mkdtemp(prefix="rehearsal-"))
    report.note(f"work folder {workdir}")
    try:
        workspace = Workspace(workdir / "repo", workdir / "logs")
        if options.defect:
            apply_break(workspace, options.defect)
            report.note(
                f"self-test: {options.defect} broken on purpose; expect FAIL {BREAKS[options.defect][3]}"
            )
        with report.step("emulator"), Emulator(workdir) as emulator:
            environment = emulator.client_environment()
            for name in [name for name in os.environ if name.startswith("AWS_")]:
                del os.environ[name]
            os.environ.update(
                {k: v for k, v in environment.items() if k.startswith(("AWS_", "NODE_", "SSL_CERT"))}
            )
            report.check(f"emulator: moto server over TLS at {emulator.endpoint}", True)
            seen: set[str] = set()
            for mode in MODES:
                if options.only and options.only != mode:
                    continue
                rehearse_mode(
                    report,
                    workspace,
                    emulator,
                    mode=mode,
                    seen_limits=seen,
                    first_boot=not options.skip_first_boot,
                    # The update is rehearsed once, in normal mode.
                    update=mode == "normal" and not options.skip_update,
                )
    finally:
        code = report.summary()
        if options.keep or code:
            print(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
