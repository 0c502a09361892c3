"""Synthesized templates for the infra tests: each mode is synthesized once per session (jsii is slow).

Modes: ``dev`` (cdk.json as shipped), ``lab`` (``lab=true``) and ``production`` (kept data, port 80,
a restricted CIDR and an alarm e-mail), so the tests cover each branch of the configuration.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from stacks.application import build_app, cdk_json_context
from stacks.pipeline_stack import PipelineStack

MODES: dict[str, dict[str, Any]] = {
    "dev": {},
    "lab": {"lab": "true"},
    "private": {"dashboard_access": "private", "allowed_cidr": "203.0.113.7/32"},
    "production": {
        "environment": "prod",
        "removal_policy": "snapshot",
        "dashboard_port": 80,
        "allowed_cidr": "198.51.100.0/24",
        "alarm_email": "ops@example.com",
        "schedule_time": "06:45",
        "schedule_time_zone": "Europe/Paris",
    },
}

# Synthesized on demand only (not part of `any_mode`): the Cognito login's template tests name it.
OPTIONAL_MODES: dict[str, dict[str, Any]] = {
    "cognito": {"dashboard_login": "cognito", "allowed_cidr": "203.0.113.0/24"},
    "lake": {"lake": "true", "lake_query_limit_mb": "2048"},
    "lab_lake": {"lab": "true", "lake": "true"},
}


@dataclass(frozen=True)
class Synthesized:
    """One synthesized mode: the app, the stack, its template (dict and assertions) and its output folder."""

    mode: str
    app: App
    stack: PipelineStack
    template_json: dict[str, Any]
    template_path: Path

    @property
    def template(self) -> Template:
        return Template.from_json(self.template_json)

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            name: resource
            for name, resource in self.template_json["Resources"].items()
            if resource["Type"] == resource_type
        }

    def only(self, resource_type: str) -> tuple[str, dict[str, Any]]:
        found = self.resources(resource_type)
        assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
        return next(iter(found.items()))


def synthesize(mode: str, outdir: Path) -> Synthesized:
    app, stack = build_app({**cdk_json_context(), **{**MODES, **OPTIONAL_MODES}[mode]}, outdir=str(outdir))
    assembly = app.synth()
    artifact = assembly.get_stack_by_name(stack.stack_name)
    path = Path(assembly.directory) / artifact.template_file
    return Synthesized(mode, app, stack, json.loads(path.read_text()), path)


_cache: dict[str, Synthesized] = {}


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory):
    """A function mode -> Synthesized that synthesizes each mode at most once per session."""

    def get(mode: str) -> Synthesized:
        if mode not in _cache:
            _cache[mode] = synthesize(mode, tmp_path_factory.mktemp(f"cdk-{mode}"))
        return _cache[mode]

    return get


@pytest.fixture(scope="session", params=sorted(MODES))
def any_mode(request: pytest.FixtureRequest, synthesized) -> Synthesized:
    return synthesized(request.param)


@pytest.fixture(scope="session")
def dev(synthesized) -> Synthesized:
    return synthesized("dev")


@pytest.fixture(scope="session")
def lab(synthesized) -> Synthesized:
    return synthesized("lab")


@pytest.fixture(scope="session")
def private(synthesized) -> Synthesized:
    return synthesized("private")


@pytest.fixture(scope="session")
def production(synthesized) -> Synthesized:
    return synthesized("production")


@pytest.fixture(scope="session")
def cognito(synthesized) -> Synthesized:
    return synthesized("cognito")


def resolve_user_data(user_data: Any) -> str:
    """The user-data script with each CloudFormation intrinsic replaced by a readable placeholder."""

    def render(value: Any) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, dict) and "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return separator.join(render(part) for part in parts)
        if isinstance(value, dict) and "Fn::Base64" in value:
            return render(value["Fn::Base64"])
        if isinstance(value, dict) and "Fn::Sub" in value:
            return value["Fn::Sub"].replace("${", "SUB_").replace("}", "")
        if isinstance(value, dict) and "Ref" in value:
            return f"REF_{value['Ref'].replace(':', '_')}"
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            return "GETATT_" + "_".join(value["Fn::GetAtt"])
        raise AssertionError(f"unexpected intrinsic in user data: {value!r}")

    return render(user_data)
