"""`make bench` with a BENCH_HOME it cannot create: one line, exit 1, nothing run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_an_impossible_bench_home_is_one_clear_line(tmp_path: Path) -> None:
    # Given a BENCH_HOME beneath a regular file
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    home = blocker / "bench"
    # When the benchmarks start
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.run"],
        env={**os.environ, "BENCH_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    # Then they stop at once with one line naming it
    assert run.returncode == 1
    assert run.stderr.strip() == f"bench: cannot create BENCH_HOME {home}: Not a directory"
    assert not run.stdout
