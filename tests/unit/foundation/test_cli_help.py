"""A bare `pipeline` or `pipeline db` prints its help as `--help` does; `pipeline --version` its version."""

from __future__ import annotations

from importlib.metadata import version

import pytest

from cli.main import run_cli
from pipeline.outcomes import EXIT_OK, EXIT_USAGE


@pytest.mark.parametrize(("argv", "command"), [([], "ingest"), (["db"], "migrate")])
def test_a_bare_group_prints_its_help_on_several_lines(capsys, argv, command):
    assert run_cli(argv) == EXIT_USAGE
    out, err = capsys.readouterr()
    assert err == ""
    assert out.startswith("Usage: pipeline")
    assert "\nCommands:\n" in out
    assert any(line.strip().startswith(command) for line in out.splitlines())


def test_version_prints_the_installed_version(capsys):
    assert run_cli(["--version"]) == EXIT_OK
    assert capsys.readouterr().out.strip() == f"pipeline, version {version('market-weather-pipeline')}"
