"""A bare `pipeline` or `pipeline db` prints its help as `--help` does; `pipeline --version` its version."""

from __future__ import annotations

from importlib.metadata import version

import pytest

from cli.main import run_cli
from pipeline.outcomes import EXIT_OK, EXIT_USAGE
from pipeline.settings import get_settings


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


def test_a_pipeline_home_that_is_a_file_is_one_settings_line_and_exit_2(monkeypatch, tmp_path, capsys):
    not_a_folder = tmp_path / "pipeline-home-file"
    not_a_folder.write_text("a file\n")
    monkeypatch.setenv("PIPELINE_HOME", str(not_a_folder))
    get_settings.cache_clear()

    assert run_cli(["status"]) == EXIT_USAGE

    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"invalid setting PIPELINE_HOME: {not_a_folder} is a file, not a folder" in err
    assert not_a_folder.read_text() == "a file\n", "nothing written over it"
