"""The command line: options where a user puts them, errors that say what to do."""

from __future__ import annotations

import pytest

from daemon.cli import _parser, main


@pytest.mark.parametrize("argv", [["--log-level", "DEBUG", "poll"], ["poll", "--log-level", "DEBUG"]])
def test_log_level_before_or_after_the_command(argv):
    """--log-level works as a global option and after the command."""
    assert _parser().parse_args(argv).log_level == "DEBUG"


def test_no_configuration_is_exit_2_with_what_to_do(capsys, monkeypatch):
    """Without --config or ATS_INBOX_CONFIG: exit 2 and a message naming both."""
    monkeypatch.delenv("ATS_INBOX_CONFIG", raising=False)
    assert main(["poll"]) == 2
    err = capsys.readouterr().err
    assert "--config" in err and "ATS_INBOX_CONFIG" in err
