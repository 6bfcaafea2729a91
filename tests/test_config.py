"""Configuration: the public keys, secrets from env/files, and errors that name key and file."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.config import config_path, load_settings
from daemon.errors import ConfigError

VALID = """
[imap]
host = "imap.example.com"
username = "jobs@example.com"
password_file = "imap-password"
processed_folder = "Processed"
[ats]
base_url = "https://acme.skailer.com/"
token = "inline-token"
[database]
url = "sqlite:///state/ats-inbox.db"
[schedule]
interval_seconds = 30
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "imap-password").write_text("from-file\n")
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_valid_file_gives_typed_settings_with_defaults(tmp_path):
    """A valid file loads; defaults fill the rest; relative paths resolve next to the file."""
    s = load_settings(write(tmp_path, VALID), environ={})
    assert (s.imap.port, s.imap.security, s.imap.folder) == (993, "ssl", "INBOX")
    assert s.imap.password == "from-file"
    assert s.imap.processed_folder == "Processed"
    assert s.ats.base_url == "https://acme.skailer.com"
    assert (s.ats.token, s.ats.source) == ("inline-token", "Email")
    assert s.database_url == f"sqlite:///{tmp_path}/state/ats-inbox.db"
    assert s.interval_seconds == 30
    assert s.rules_path == tmp_path / "rules"


def test_environment_overrides_secrets(tmp_path):
    """ATS_INBOX_IMAP_PASSWORD and ATS_INBOX_ATS_TOKEN win over the file."""
    env = {"ATS_INBOX_IMAP_PASSWORD": "env-pw", "ATS_INBOX_ATS_TOKEN": "env-token"}
    s = load_settings(write(tmp_path, VALID), environ=env)
    assert (s.imap.password, s.ats.token) == ("env-pw", "env-token")


def test_secrets_never_show_in_repr(tmp_path):
    """Printing the settings does not reveal the password or the token."""
    s = load_settings(write(tmp_path, VALID), environ={})
    assert "from-file" not in repr(s) and "inline-token" not in repr(s)


@pytest.mark.parametrize(("text", "key"), [
    (VALID.replace('host = "imap.example.com"', ""), "imap.host"),
    (VALID.replace('host = "imap.example.com"', "host = 42"), "imap.host"),
    (VALID.replace('[imap]', '[imap]\nsecurity = "tls13"'), "imap.security"),
    (VALID.replace('[imap]', '[imap]\nport = 70000'), "imap.port"),
    (VALID.replace('base_url = "https://acme.skailer.com/"', 'base_url = "ftp://x"'), "ats.base_url"),
    (VALID.replace('token = "inline-token"', ""), "ats.token"),
    (VALID.replace('password_file = "imap-password"', 'password_file = "missing"'), "imap.password_file"),
    (VALID.replace("interval_seconds = 30", "interval_seconds = 0"), "schedule.interval_seconds"),
    (VALID.replace("interval_seconds = 30", 'interval_seconds = "often"'), "schedule.interval_seconds"),
    (VALID.replace("[ats]", "[nope]"), "ats"),
])
def test_invalid_key_is_named_with_the_file(tmp_path, text, key):
    """A missing or invalid key stops start-up with a message naming the key and the file."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    assert f"'{key}'" in str(caught.value)
    assert str(path) in str(caught.value)


def test_broken_toml_names_the_file(tmp_path):
    """A file that is not TOML is reported with its path."""
    path = write(tmp_path, "[imap\nhost=")
    with pytest.raises(ConfigError, match="not valid TOML") as caught:
        load_settings(path, environ={})
    assert str(path) in str(caught.value)


def test_config_path_comes_from_flag_or_environment(tmp_path):
    """--config wins; otherwise ATS_INBOX_CONFIG; otherwise a clear error."""
    assert config_path("a.toml", {"ATS_INBOX_CONFIG": "b.toml"}) == Path("a.toml")
    assert config_path(None, {"ATS_INBOX_CONFIG": "b.toml"}) == Path("b.toml")
    with pytest.raises(ConfigError, match="ATS_INBOX_CONFIG"):
        config_path(None, {})
