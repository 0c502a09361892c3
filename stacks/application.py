"""Builds the CDK app: configuration from context, the stack, and the cdk-nag checks.

app.py calls `build_app()`; the tests call it with their own context and output folder. Nothing here
calls AWS: the stack is environment-agnostic (account and region resolve at deploy time).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import App

from stacks.config import PipelineConfig, config_from_node
from stacks.lab import lab_synthesizer
from stacks.nag import add_nag_checks
from stacks.pipeline_stack import PipelineStack

CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"


def cdk_json_context() -> dict[str, Any]:
    """The context of cdk.json, as the CDK CLI would pass it."""
    return dict(json.loads(CDK_JSON.read_text(encoding="utf-8")).get("context", {}))


def build_app(
    context: Mapping[str, Any] | None = None, outdir: str | None = None
) -> tuple[App, PipelineStack]:
    """The app and its stack. `context` replaces the CLI's (tests pass cdk.json's plus overrides)."""
    app = App(context=dict(context) if context is not None else None, outdir=outdir)
    config: PipelineConfig = config_from_node(app.node)
    stack = PipelineStack(
        app,
        config.stack_name,
        config=config,
        description=f"Market weather data pipeline ({config.environment}{', lab mode' if config.lab else ''})",
        synthesizer=lab_synthesizer() if config.lab else None,
    )
    add_nag_checks(app)
    return app, stack
