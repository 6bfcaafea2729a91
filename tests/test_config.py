"""Configuration: the public keys and their declaration, secrets from env/files, and errors that name key and file."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import certifi
import pytest

from daemon import config
from daemon.config import config_path, load_settings
from daemon.errors import ConfigError
from daemon.mail.resumes import ResumeLimits
from daemon.settings import keys as declared
from daemon.settings.keys import Key

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


# -- refused at load: unknown keys, bad secrets, URLs, CA files, folders (exit 2 via ConfigError) --

TOKEN = 'token = "inline-token"'
BASE_URL = 'base_url = "https://acme.skailer.com/"'
PEM_CA = certifi.where()


def _case(key: str, says: str, *, replace: tuple[str, str] = ("", ""),
          env: dict[str, str] | None = None, files: dict[str, bytes] | None = None, name: str):
    return pytest.param(key, says, replace, env or {}, files or {}, id=name)


REFUSED = [
    _case("imap.review_foldr", "Did you mean 'imap.review_folder'?",
          replace=("[imap]", '[imap]\nreview_foldr = "Review"'), name="unknown-key"),
    _case("schedul", "Did you mean '[schedule]'?", replace=("[schedule]", "[schedul]"), name="unknown-table"),
    _case("ats.tokn_file", "Did you mean 'ats.token_file'?", replace=(TOKEN, 'tokn_file = "t"'),
          name="unknown-key-before-missing-token"),
    _case("ats.review_folder", "belongs in the [imap] table", replace=(TOKEN, f'{TOKEN}\nreview_folder = "R"'),
          name="key-in-the-wrong-table"),
    _case("imap", "looks like a misspelling", replace=("[imap]", "[imapp]"), name="required-table-misspelt"),
    _case("folder", "belongs in the [imap] table", replace=("[imap]", 'folder = "Jobs"\n[imap]'),
          name="key-outside-any-table"),
    _case("imap.password_file", "not UTF-8", files={"imap-password": b"caf\xe9\n"}, name="secret-file-not-utf8"),
    _case("imap.password_file", "non-ASCII", files={"imap-password": "café\n".encode()},
          name="secret-file-non-ascii"),
    _case("ats.token", "non-ASCII", replace=(TOKEN, 'token = "tökén"'), name="token-non-ascii"),
    _case("ats.token", "non-ASCII", env={"ATS_INBOX_ATS_TOKEN": "tökén"}, name="token-env-non-ascii"),
    _case("imap.password", "non-ASCII", env={"ATS_INBOX_IMAP_PASSWORD": "pässword"}, name="password-env-non-ascii"),
    _case("ats.token", "line break", replace=(TOKEN, r'token = "a\nb"'), name="token-two-lines"),
    _case("imap.password", "set but blank", env={"ATS_INBOX_IMAP_PASSWORD": "  "}, name="password-env-blank"),
    _case("ats.token", "set but blank", env={"ATS_INBOX_ATS_TOKEN": ""}, name="token-env-empty"),
    _case("ats.token", "is empty", replace=(TOKEN, 'token = ""'), name="token-inline-empty"),
    _case("ats.token", "is empty", replace=(TOKEN, 'token = "   "'), name="token-inline-blank"),
    _case("imap.password_file", "is empty", files={"imap-password": b" \n"}, name="password-file-blank"),
    _case("imap.username", "non-ASCII", replace=('"jobs@example.com"', '"jöbs@example.com"'),
          name="username-non-ascii"),
    _case("database.url", "not installed", replace=("sqlite:///state/ats-inbox.db", "postgresql+pg8000://u@db/ats"),
          name="db-driver-missing"),
    _case("database.url", "does not know", replace=("sqlite:///state/ats-inbox.db", "nosuchdb://x/y"),
          name="db-unknown-kind"),
    _case("database.url", "not a valid SQLAlchemy URL",
          replace=("sqlite:///state/ats-inbox.db", "postgresql://u@db:port/ats"), name="db-url-bad-port"),
    _case("database.url", "not a valid SQLAlchemy URL", replace=("sqlite:///state/ats-inbox.db", "://"),
          name="db-url-unparseable"),
    _case("ats.base_url", "no host", replace=(BASE_URL, 'base_url = "https:///api"'), name="base-url-no-host"),
    _case("ats.base_url", "space", replace=(BASE_URL, 'base_url = "https://acme skailer.com"'),
          name="base-url-space"),
    _case("ats.base_url", "not a valid URL", replace=(BASE_URL, 'base_url = "https://acme.skailer.com:99999"'),
          name="base-url-port-too-big"),
    _case("ats.base_url", "not a valid URL", replace=(BASE_URL, 'base_url = "https://acme.skailer.com:https"'),
          name="base-url-port-not-a-number"),
    _case("ats.base_url", "token_file", replace=(BASE_URL, 'base_url = "https://me:pw@acme.skailer.com"'),
          name="base-url-credentials"),
    _case("ats.base_url", "query", replace=(BASE_URL, 'base_url = "https://acme.skailer.com/?a=1"'),
          name="base-url-query"),
    _case("imap.ca_file", "not a PEM bundle", replace=("[imap]", '[imap]\nca_file = "ca.pem"'),
          files={"ca.pem": b"not a certificate\n"}, name="imap-ca-not-pem"),
    _case("ats.ca_file", "not a PEM bundle", replace=(TOKEN, f'{TOKEN}\nca_file = "ca.der"'),
          files={"ca.der": b"\x30\x82\x01\x0a\x02\x82"}, name="ats-ca-not-pem"),
    _case("ats.ca_file", "does not exist", replace=(TOKEN, f'{TOKEN}\nca_file = "missing.pem"'),
          name="ats-ca-missing"),
    _case("imap.ca_file", "not a file", replace=("[imap]", '[imap]\nca_file = "."'), name="imap-ca-a-folder"),
    _case("imap.processed_folder", "leave it empty", replace=('"Processed"', '"inbox"'),
          name="processed-is-inbox-lowercase"),
    _case("imap.review_folder", "leave it empty",
          replace=("[imap]", '[imap]\nfolder = "Inbox"\nreview_folder = "INBOX"'),
          name="review-is-inbox-other-case"),
    _case("imap.review_folder", "leave it empty",
          replace=("[imap]", '[imap]\nfolder = "Jobs"\nreview_folder = "Jobs"'),
          name="review-is-the-watched-folder"),
]


@pytest.mark.parametrize(("key", "says", "replace", "env", "files"), REFUSED)
def test_refused_configuration_names_key_file_and_problem(tmp_path, key, says, replace, env, files):
    """Each mistake stops loading with a ConfigError naming the key, the file and what is wrong."""
    path = write(tmp_path, VALID.replace(*replace))
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ=env)
    assert f"key '{key}'" in str(caught.value)
    assert str(path) in str(caught.value)
    assert says in str(caught.value)


def test_secret_values_never_appear_in_errors(tmp_path):
    """A refused secret is described, never quoted."""
    path = write(tmp_path, VALID.replace(TOKEN, 'token = "sécret-value"'))
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    assert "sécret" not in str(caught.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
@pytest.mark.parametrize("table", ["imap", "ats"])
def test_unreadable_ca_file_is_refused(tmp_path, table):
    """A CA bundle that exists but cannot be read is a configuration error naming the key."""
    ca = tmp_path / "ca.pem"
    ca.write_bytes(Path(PEM_CA).read_bytes())
    ca.chmod(0)
    path = write(tmp_path, VALID.replace(f"[{table}]", f'[{table}]\nca_file = "ca.pem"'))
    with pytest.raises(ConfigError, match="cannot read") as caught:
        load_settings(path, environ={})
    assert f"'{table}.ca_file'" in str(caught.value)


@pytest.mark.parametrize(("replace", "check"), [
    pytest.param(("[imap]", f'[imap]\nca_file = "{PEM_CA}"'), lambda s: s.imap.ca_file == PEM_CA, id="imap-ca"),
    pytest.param((TOKEN, f'{TOKEN}\nca_file = "{PEM_CA}"'), lambda s: s.ats.ca_file == PEM_CA, id="ats-ca"),
    pytest.param((BASE_URL, 'base_url = "http://[::1]:8025/ats/"'),
                 lambda s: s.ats.base_url == "http://[::1]:8025/ats", id="base-url-ipv6-port-path"),
    pytest.param(("[imap]", '[imap]\nfolder = "Jobs"\nreview_folder = "INBOX"'),
                 lambda s: s.imap.review_folder == "INBOX", id="inbox-as-review-of-another-folder"),
    pytest.param(('"Processed"', '"processed"'), lambda s: s.imap.processed_folder == "processed",
                 id="other-folders-are-case-sensitive"),
    pytest.param(("sqlite:///state/ats-inbox.db", "sqlite://"), lambda s: s.database_url == "sqlite://",
                 id="sqlite-in-memory"),
    pytest.param((TOKEN, f"{TOKEN}\nretry_attempts = 2"), lambda s: s.ats.retry_attempts == 2, id="retry-attempts"),
])
def test_accepted_configuration(tmp_path, replace, check):
    """Valid CA bundles, URLs with a port and a path, and distinct folders load."""
    assert check(load_settings(write(tmp_path, VALID.replace(*replace)), environ={}))


NO_SECRETS = VALID.replace('password_file = "imap-password"\n', "").replace(f"{TOKEN}\n", "")


def test_database_commands_load_without_secrets(tmp_path):
    """need_secrets=False loads a file with no password and no token; the secrets are empty."""
    settings = load_settings(write(tmp_path, NO_SECRETS), environ={}, need_secrets=False)
    assert (settings.imap.password, settings.ats.token) == ("", "")


def test_database_commands_do_not_read_secret_files(tmp_path):
    """need_secrets=False does not open the credential files (they exist only for the service)."""
    path = write(tmp_path, VALID.replace('"imap-password"', '"/run/credentials/nope/imap-password"'))
    assert load_settings(path, environ={}, need_secrets=False).imap.password == ""


def test_database_commands_still_check_secret_keys(tmp_path):
    """need_secrets=False still refuses a secret key of the wrong type."""
    with pytest.raises(ConfigError, match=r"'ats\.token'"):
        load_settings(write(tmp_path, VALID.replace(TOKEN, "token = 42")), environ={}, need_secrets=False)


@pytest.mark.parametrize(("key", "variable"), [("imap.password", "ATS_INBOX_IMAP_PASSWORD"),
                                               ("ats.token", "ATS_INBOX_ATS_TOKEN")])
def test_missing_secret_says_where_to_put_it(tmp_path, key, variable):
    """Without a secret, the commands that need it name the key, the variable and the commands that run without."""
    other = {v: "secret" for v in ("ATS_INBOX_IMAP_PASSWORD", "ATS_INBOX_ATS_TOKEN") if v != variable}
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, NO_SECRETS), environ=other)
    message = str(caught.value)
    assert f"'{key}'" in message and variable in message and "status" in message


# -- the declaration of the keys: consistent with itself, the typed settings and the hints --

BOUNDED = [key for key in declared.KEYS if key.low is not None]


@pytest.mark.parametrize("key", BOUNDED, ids=lambda key: key.qualified)
def test_declared_default_is_within_its_bounds_and_stated(key: Key):
    """A bounded key's default lies within its bounds, and its help states them ({range})."""
    assert key.low <= key.default <= (key.high if key.high is not None else key.default)
    assert "{range}" in key.help


@pytest.mark.parametrize("key", [k for k in declared.KEYS if k.choices], ids=lambda key: key.qualified)
def test_declared_choice_default_is_a_choice_and_each_is_explained(key: Key):
    """A key of choices defaults to one of them, and its help names each."""
    assert key.default in key.choices
    assert all(f'"{choice}"' in key.help for choice in key.choices)


@pytest.mark.parametrize("key", [k for k in declared.KEYS if k.env], ids=lambda key: key.qualified)
def test_secret_with_a_variable_has_a_file_key(key: Key):
    """A secret that a variable may give can also be given by a file (`<key>_file`), a declared path."""
    companion = declared.DECLARED[f"{key.qualified}_file"]
    assert key.secret and companion.secret and companion.path


SETTINGS_OF_TABLES = [(config.ImapSettings, "imap", {}), (config.AtsSettings, "ats", {}),
                      (config.FirstPass, "imap", {"days": "since", "unseen_only": "skip_seen"}),
                      (config.IntakeSettings, "intake", {}), (config.HealthSettings, "health", {}),
                      (config.AlertSettings, "alerts", {}), (ResumeLimits, "resumes", {}),
                      (config.Settings, "database", {}), (config.Settings, "comment", {})]


@pytest.mark.parametrize(("cls", "table", "renamed"), SETTINGS_OF_TABLES,
                         ids=[f"{c.__name__}-{t}" for c, t, _ in SETTINGS_OF_TABLES])
def test_typed_settings_default_to_the_declared_defaults(cls: type, table: str, renamed: dict[str, str]):
    """A field of the typed settings named after a key (or standing for one) defaults to the key's default."""
    keys = declared.TABLES[table]
    names = {field.name: renamed.get(field.name, field.name) for field in dataclasses.fields(cls)}
    defaults = {field.name: field.default for field in dataclasses.fields(cls)
                if field.default is not dataclasses.MISSING and names[field.name] in {k.name for k in keys}}
    assert defaults, f"{cls.__name__} has no defaulted field of [{table}]"
    assert defaults == {name: declared.default(f"{table}.{names[name]}") for name in defaults}


def _with_key(table: str, line: str) -> str:
    """VALID with `line` added to `table` (the table added when VALID has none)."""
    if f"[{table}]" in VALID:
        return VALID.replace(f"[{table}]", f"[{table}]\n{line}")
    return f"{VALID}[{table}]\n{line}\n"


@pytest.mark.parametrize("key", declared.KEYS, ids=lambda key: key.qualified)
def test_misspelt_key_is_answered_with_the_declared_name(tmp_path, key: Key):
    """Any declared key misspelt (its last letter lost) is refused with "Did you mean" that key."""
    path = write(tmp_path, _with_key(key.table, f"{key.name[:-1]} = 1"))
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    assert f"Did you mean '{key.qualified}'?" in str(caught.value)


MISPLACED = [("ats", "skip_seen", "imap"), ("imap", "retention_days", "database"), ("schedule", "max_count", "resumes"),
             ("metrics", "command", "alerts")]


@pytest.mark.parametrize(("table", "key", "home"), MISPLACED)
def test_key_in_another_table_is_sent_to_its_declared_table(tmp_path, table, key, home):
    """A declared key written in the wrong table is refused, naming the table it belongs in."""
    path = write(tmp_path, _with_key(table, f"{key} = 1"))
    with pytest.raises(ConfigError, match=rf"belongs in the \[{home}\] table") as caught:
        load_settings(path, environ={})
    assert f"'{table}.{key}'" in str(caught.value)


def test_each_declared_table_is_listed_when_one_is_unknown(tmp_path):
    """An unknown table is refused with the list of the declared tables."""
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, VALID + "[nothing_like_it]\n"), environ={})
    assert all(f"[{table}]" in str(caught.value) for table in declared.TABLES)


@pytest.mark.parametrize("security", ["starttls", "none"])
def test_port_defaults_to_143_without_ssl(tmp_path, security):
    """Without security = "ssl" and with no port given, IMAP's own port 143 is taken."""
    settings = load_settings(write(tmp_path, _with_key("imap", f'security = "{security}"')), environ={})
    assert settings.imap.port == 143
