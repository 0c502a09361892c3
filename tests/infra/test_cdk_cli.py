"""The real CDK CLI synthesizes both modes with no AWS credentials at all, and reports bad context."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CDK = REPO / "node_modules" / ".bin" / "cdk"


def _credential_free_environment() -> dict[str, str]:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    environment["PATH"] = os.pathsep.join(
        [str(Path(sys.executable).parent), str(CDK.parent), environment["PATH"]]
    )
    environment["CDK_DISABLE_VERSION_CHECK"] = "1"
    environment["HOME"] = environment.get("HOME", str(REPO))
    return environment


def _synth(outdir: Path, *context: str) -> subprocess.CompletedProcess[str]:
    command = [str(CDK), "synth", "--quiet", "--no-notices", "--output", str(outdir), *context]
    return subprocess.run(
        command,
        cwd=REPO,
        env=_credential_free_environment(),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.mark.parametrize("context", [(), ("-c", "lab=true")], ids=["dev", "lab"])
def test_cdk_synth_needs_no_credentials(tmp_path: Path, context: tuple[str, ...]) -> None:
    completed = _synth(tmp_path, *context)
    assert completed.returncode == 0, completed.stderr[-2000:]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    stacks = [
        name
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    ]
    assert stacks == ["MarketWeatherPipeline-dev"]
    template = json.loads((tmp_path / "MarketWeatherPipeline-dev.template.json").read_text())
    has_iam = any(resource["Type"].startswith("AWS::IAM::") for resource in template["Resources"].values())
    assert has_iam is (not context)


def test_cdk_synth_reports_a_bad_context_value_in_one_line(tmp_path: Path) -> None:
    completed = _synth(tmp_path, "-c", "allowed_cidr=everyone")
    assert completed.returncode != 0
    assert "error: invalid context key 'allowed_cidr'" in completed.stderr
