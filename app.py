#!/usr/bin/env python3
"""The CDK app: `cdk synth`, `cdk deploy --all`, `cdk destroy --all` (see docs/deploy.md)."""

import sys

from stacks.application import build_app
from stacks.config import ConfigError

try:
    app, _ = build_app()
except ConfigError as error:
    sys.exit(f"error: {error}")
app.synth()
