"""Shared plumbing of the deployment scripts (lab_bootstrap, teardown): context arguments and errors.

These scripts run before `cdk deploy` or `cdk destroy`, with the operator's AWS credentials; the CDK app
itself never calls AWS.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

from stacks.application import cdk_json_context
from stacks.config import ConfigError, PipelineConfig, load_config


class ToolError(RuntimeError):
    """An expected failure of a deployment script: printed as one line, exit status 1."""


def parse_context_arguments(arguments: Sequence[str]) -> dict[str, Any]:
    """cdk.json's context with the ``-c key=value`` / ``--context key=value`` overrides the CDK CLI takes."""
    context = cdk_json_context()
    remaining = list(arguments)
    while remaining:
        flag = remaining.pop(0)
        if flag not in {"-c", "--context"} or not remaining or "=" not in remaining[0]:
            raise ConfigError(f"unexpected argument {flag!r}: expected -c key=value")
        key, value = remaining.pop(0).split("=", 1)
        context[key] = value
    return context


def config_from_arguments(arguments: Sequence[str]) -> PipelineConfig:
    """The deployment's configuration, exactly as `cdk` would build it from the same arguments."""
    return load_config(parse_context_arguments(arguments))


def run_tool(main: Callable[[Sequence[str]], int], arguments: Sequence[str] | None = None) -> int:
    """Run a script's `main`, turning expected failures (and missing credentials) into one line."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return main(sys.argv[1:] if arguments is None else arguments)
    except (ConfigError, ToolError) as error:
        print(f"error: {error}", file=sys.stderr)
    except (BotoCoreError, ClientError) as error:
        print(f"error: AWS: {' '.join(str(error).split())}", file=sys.stderr)
    return 1
