"""The rehearsal catches what it is there to catch: a broken template, a broken first-boot script.

Each test runs the real rehearsal (emulator, CDK CLI) on a copy with one deliberate defect and expects
exit status 1 with the one check that names the defect failing. `make rehearse` runs these after the
rehearsal itself (marker ``rehearsal``; `make test` leaves them to it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.rehearsal.run import BREAKS

REPO = Path(__file__).resolve().parents[2]


def _rehearse(*arguments: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
    }
    return subprocess.run(
        [sys.executable, "-m", "tests.rehearsal.run", "--only", "normal", "--skip-update", *arguments],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


@pytest.mark.rehearsal
@pytest.mark.timeout(900)
def test_a_publicly_accessible_database_fails_the_rehearsal() -> None:
    completed = _rehearse("--skip-first-boot", "--break", "template")

    assert completed.returncode == 1, completed.stdout[-3000:]
    assert f"FAIL  {BREAKS['template'][3]}" in completed.stdout
    assert "PASS  make deploy" in completed.stdout  # the deploy itself went through: the check caught it


@pytest.mark.rehearsal
@pytest.mark.timeout(900)
def test_a_first_boot_script_that_cannot_install_fails_the_rehearsal() -> None:
    completed = _rehearse("--break", "first-boot")

    assert completed.returncode == 1, completed.stdout[-3000:]
    assert f"FAIL  {BREAKS['first-boot'][3]}" in completed.stdout
    # The instance would have told CloudFormation, naming the step: the deploy fails instead of hanging.
    assert (
        "PASS  first boot: the failed step is signalled to CloudFormation as FAILURE, named"
        in completed.stdout
    )
