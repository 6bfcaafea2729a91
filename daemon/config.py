"""Configuration: one TOML file, loaded and validated once at start-up into typed objects.

Secrets come from `ATS_INBOX_IMAP_PASSWORD` / `ATS_INBOX_ATS_TOKEN`, or from files
(`password_file`, `token_file`; with systemd `LoadCredential=` these live under
`$CREDENTIALS_DIRECTORY`), or inline in the file. Nothing deeper in the code reads
settings or the environment.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daemon.errors import ConfigError
from daemon.resumes import ResumeLimits

CONFIG_ENV = "ATS_INBOX_CONFIG"
IMAP_PASSWORD_ENV = "ATS_INBOX_IMAP_PASSWORD"  # noqa: S105 (a variable name, not a secret)
ATS_TOKEN_ENV = "ATS_INBOX_ATS_TOKEN"  # noqa: S105 (a variable name, not a secret)
CRASH_ENV = "ATS_INBOX_TEST_CRASH_AFTER"  # test hook: kill -9 ourselves after this journal step
SECURITY_MODES = ("ssl", "starttls", "none")


@dataclass(frozen=True, slots=True)
class ImapSettings:
    host: str
    port: int
    security: str
    username: str
    password: str
    ca_file: str
    folder: str
    processed_folder: str
    review_folder: str
    batch_size: int
    max_message_bytes: int
    timeout_seconds: float
    reconnect_attempts: int

    def __repr__(self) -> str:  # never show the password
        return f"ImapSettings(host={self.host!r}, port={self.port}, username={self.username!r})"


@dataclass(frozen=True, slots=True)
class AtsSettings:
    base_url: str
    token: str
    source: str
    ca_file: str
    timeout_seconds: float
    max_attempts: int

    def __repr__(self) -> str:  # never show the token
        return f"AtsSettings(base_url={self.base_url!r}, source={self.source!r})"


@dataclass(frozen=True, slots=True)
class Settings:
    path: Path
    imap: ImapSettings
    ats: AtsSettings
    database_url: str
    rules_path: Path
    interval_seconds: int
    resumes: ResumeLimits
    test_crash_after: str = ""


class _Section:
    """Typed reads from one TOML table, with errors that name the key and the file."""

    def __init__(self, data: Mapping[str, Any], name: str, path: Path):
        if not isinstance(data, Mapping):
            raise ConfigError("must be a table", key=name, path=str(path))
        self.data, self.name, self.path = data, name, path

    def _fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(message, key=f"{self.name}.{key}", path=str(self.path))

    def str(self, key: str, default: str | None = None) -> str:
        value = self.data.get(key, default)
        if value is None:
            raise self._fail(key, "is required")
        if not isinstance(value, str):
            raise self._fail(key, f"must be a string, not {type(value).__name__}")
        return value

    def required_str(self, key: str) -> str:
        value = self.str(key)
        if not value.strip():
            raise self._fail(key, "must not be empty")
        return value.strip()

    def int(self, key: str, default: int, low: int = 0, high: int = 2**31) -> int:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._fail(key, f"must be an integer, not {type(value).__name__}")
        if not low <= value <= high:
            raise self._fail(key, f"must be between {low} and {high}, not {value}")
        return value

    def choice(self, key: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.str(key, default).lower()
        if value not in choices:
            raise self._fail(key, f"must be one of {', '.join(choices)}, not {value!r}")
        return value

    def secret(self, key: str, file_key: str, env: str, environ: Mapping[str, str]) -> str:
        if environ.get(env):
            return environ[env].strip()
        file_name = self.str(file_key, "")
        if file_name:
            return self._read_secret_file(file_key, self._resolve(file_name))
        value = self.str(key, "")
        if not value:
            raise self._fail(key, f"is required: set {self.name}.{file_key}, {self.name}.{key} or {env}")
        return value

    def _read_secret_file(self, key: str, path: Path) -> str:
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise self._fail(key, f"cannot read {path}: {exc.strerror}") from exc
        if not value:
            raise self._fail(key, f"{path} is empty")
        return value

    def _resolve(self, name: str) -> Path:
        """Relative paths are relative to the config file's folder."""
        path = Path(name).expanduser()
        return path if path.is_absolute() else self.path.parent / path


def config_path(explicit: str | None, environ: Mapping[str, str] = os.environ) -> Path:
    """The config file from --config, else $ATS_INBOX_CONFIG."""
    name = explicit or environ.get(CONFIG_ENV)
    if not name:
        raise ConfigError(f"no configuration file: pass --config PATH or set {CONFIG_ENV}")
    return Path(name)


def load_settings(path: Path, environ: Mapping[str, str] = os.environ) -> Settings:
    """Read and validate the whole configuration; raise ConfigError naming key and file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError("file not found", path=str(path)) from exc
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=str(path)) from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=str(path)) from exc
    return _settings(data, path, environ)


def _settings(data: Mapping[str, Any], path: Path, environ: Mapping[str, str]) -> Settings:
    for name in ("imap", "ats"):
        if name not in data:
            raise ConfigError(f"the [{name}] table is required", key=name, path=str(path))
    database = _Section(data.get("database", {}), "database", path)
    rules = _Section(data.get("rules", {}), "rules", path)
    schedule = _Section(data.get("schedule", {}), "schedule", path)
    return Settings(
        path=path,
        imap=_imap(_Section(data["imap"], "imap", path), environ),
        ats=_ats(_Section(data["ats"], "ats", path), environ),
        database_url=_database_url(database),
        rules_path=rules._resolve(rules.str("path", "rules")),
        interval_seconds=schedule.int("interval_seconds", 60, low=1, high=86400),
        resumes=_resumes(_Section(data.get("resumes", {}), "resumes", path)),
        test_crash_after=environ.get(CRASH_ENV, ""),
    )


def _imap(s: _Section, environ: Mapping[str, str]) -> ImapSettings:
    security = s.choice("security", "ssl", SECURITY_MODES)
    ca_file = s.str("ca_file", "")
    if ca_file and not s._resolve(ca_file).is_file():
        raise s._fail("ca_file", f"{s._resolve(ca_file)} does not exist")
    return ImapSettings(
        host=s.required_str("host"),
        port=s.int("port", 993 if security == "ssl" else 143, low=1, high=65535),
        security=security,
        username=s.required_str("username"),
        password=s.secret("password", "password_file", IMAP_PASSWORD_ENV, environ),
        ca_file=str(s._resolve(ca_file)) if ca_file else "",
        folder=s.str("folder", "INBOX") or "INBOX",
        processed_folder=s.str("processed_folder", ""),
        review_folder=s.str("review_folder", ""),
        batch_size=s.int("batch_size", 50, low=1, high=1000),
        max_message_bytes=s.int("max_message_bytes", 50 * 1024 * 1024, low=1024),
        timeout_seconds=float(s.int("timeout_seconds", 60, low=1, high=3600)),
        reconnect_attempts=s.int("reconnect_attempts", 5, low=0, high=100),
    )


def _ats(s: _Section, environ: Mapping[str, str]) -> AtsSettings:
    base_url = s.required_str("base_url").rstrip("/")
    if not base_url.startswith(("https://", "http://")):
        raise s._fail("base_url", f"must start with https:// (or http:// for a local sandbox), not {base_url!r}")
    ca_file = s.str("ca_file", "")
    return AtsSettings(
        base_url=base_url,
        token=s.secret("token", "token_file", ATS_TOKEN_ENV, environ),
        source=s.str("source", "Email").strip() or "Email",
        ca_file=str(s._resolve(ca_file)) if ca_file else "",
        timeout_seconds=float(s.int("timeout_seconds", 30, low=1, high=600)),
        max_attempts=s.int("max_attempts", 5, low=1, high=1000),
    )


def _database_url(s: _Section) -> str:
    url = s.str("url", "sqlite:///ats-inbox.db").strip()
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        url = prefix + str(s._resolve(url[len(prefix):]))  # relative to the config file
    if "://" not in url:
        raise s._fail("url", f"must be an SQLAlchemy URL such as sqlite:///ats-inbox.db, not {url!r}")
    return url


def _resumes(s: _Section) -> ResumeLimits:
    return ResumeLimits(
        max_bytes=s.int("max_bytes", 20 * 1024 * 1024, low=1024),
        max_count=s.int("max_count", 5, low=1, high=50),
    )
