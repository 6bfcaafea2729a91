"""The command line: options where a user puts them, errors that say what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.cli import _parser, main
from daemon.domain import MessageKey
from daemon.store import open_store


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


# -- --config before or after the command; which commands need the secrets ---------------

NO_SECRETS = """
[imap]
host = "127.0.0.1"
port = 1
security = "none"
username = "jobs"
[ats]
base_url = "http://127.0.0.1:1"
[database]
url = "sqlite:///ats-inbox.db"
"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A configuration with no IMAP password and no ATS token anywhere, and an empty database."""
    for variable in ("ATS_INBOX_CONFIG", "ATS_INBOX_IMAP_PASSWORD", "ATS_INBOX_ATS_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    path = tmp_path / "config.toml"
    path.write_text(NO_SECRETS)
    return path


@pytest.mark.parametrize("words", [["status"], ["poll"], ["run"], ["messages", "list"], ["db", "upgrade"]],
                         ids=" ".join)
@pytest.mark.parametrize("before", [True, False], ids=["before", "after"])
def test_config_before_or_after_the_command(words, before):
    """--config PATH works as a global option and after the command, like --log-level."""
    argv = ["--config", "c.toml", *words] if before else [*words, "--config", "c.toml"]
    assert _parser().parse_args(argv).config == "c.toml"


def test_config_before_the_command_runs_it(config, capsys):
    """`ats-inbox --config F status` reads F."""
    assert main(["--config", str(config), "status"]) == 0
    assert "Messages: none yet" in capsys.readouterr().out


@pytest.mark.parametrize("words", [["status"], ["messages", "list"], ["messages", "show", "1"],
                                   ["messages", "resolve", "1", "--note", "called them"], ["db", "upgrade"]],
                         ids=" ".join)
def test_database_commands_run_without_secrets(config, capsys, words):
    """status, messages list/show/resolve and db upgrade need neither the IMAP password nor the ATS token."""
    store = open_store(f"sqlite:///{config.parent / 'ats-inbox.db'}")
    store.add_message(MessageKey("jobs@127.0.0.1:1", "INBOX", 7, 1), message_id="m1@example.org",
                      sha256="0" * 64, size=100, status="review", reason="no resume attached")
    store.close()
    assert main(["--log-level", "ERROR", *words, "--config", str(config)]) == 0, capsys.readouterr().err


@pytest.mark.parametrize("words", [["poll"], ["run"], ["messages", "retry", "1"]], ids=" ".join)
def test_mailbox_and_ats_commands_need_the_secrets(config, capsys, words):
    """poll, run and messages retry stop with exit 2, naming the missing password and where to put it."""
    assert main([*words, "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "'imap.password'" in err and "ATS_INBOX_IMAP_PASSWORD" in err and "password_file" in err


@pytest.mark.parametrize(("edit", "key"), [
    (("[ats]", '[ats]\ntokn_file = "t"'), "ats.tokn_file"),
    (("[imap]", '[imap]\nreview_foldr = "Review"'), "imap.review_foldr"),
    (("[database]", "[databse]"), "databse"),
], ids=["tokn_file", "review_foldr", "databse"])
def test_unknown_keys_are_exit_2_naming_the_key_without_traceback(config, capsys, edit, key):
    """A typo in the file is exit 2 with the key, the file and a suggestion; never a traceback."""
    config.write_text(NO_SECRETS.replace(*edit))
    assert main(["status", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"'{key}'" in err and str(config) in err and "Did you mean" in err
    assert "Traceback" not in err


def test_bad_secret_file_is_exit_2_without_traceback(config, capsys):
    """A password file that is not UTF-8 stops `poll` with exit 2 naming the key, not a UnicodeDecodeError."""
    (config.parent / "pw").write_bytes(b"\xff\xfe")
    config.write_text(NO_SECRETS.replace("[imap]", '[imap]\npassword_file = "pw"'))
    assert main(["poll", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "'imap.password_file'" in err and "Traceback" not in err
