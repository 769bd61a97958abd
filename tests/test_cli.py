"""The ``sharedlm`` command's dispatch: every subcommand present, a broken one loud, one version everywhere."""

from __future__ import annotations

import argparse
import importlib.metadata

import pytest

from sharedlm import _cli
from sharedlm._version import __version__


def test_every_subcommand_is_registered() -> None:
    parser = _cli.build_parser()
    commands = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    assert {"run", "demo", "simulate", "bench", "lint"} <= set(commands.choices)


def test_a_subcommand_that_fails_to_import_is_an_error_not_a_missing_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_cli, "COMMAND_MODULES", (*_cli.COMMAND_MODULES, "sharedlm._no_such_command"))
    with pytest.raises(ModuleNotFoundError, match="_no_such_command"):
        _cli.build_parser()


def test_version_option_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        _cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"sharedlm {__version__}"


def test_installed_metadata_reads_the_version_from_its_one_place() -> None:
    assert importlib.metadata.version("sharedlm") == __version__
