"""Configuration: one TOML file, loaded and validated once at start-up into typed objects.

Secrets come from `ATS_INBOX_IMAP_PASSWORD` / `ATS_INBOX_ATS_TOKEN` (and, for OAuth2,
`ATS_INBOX_IMAP_OAUTH2_CLIENT_SECRET` / `ATS_INBOX_IMAP_OAUTH2_REFRESH_TOKEN`), or from files
(`password_file`, `token_file`, `oauth2_..._file`; with systemd `LoadCredential=` these live
under `$CREDENTIALS_DIRECTORY`), or inline in the file. Nothing deeper in the code reads
settings or the environment.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import ssl
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from daemon.errors import ConfigError
from daemon.mail.resumes import ResumeLimits

CONFIG_ENV = "ATS_INBOX_CONFIG"
IMAP_PASSWORD_ENV = "ATS_INBOX_IMAP_PASSWORD"  # noqa: S105 (a variable name, not a secret)
ATS_TOKEN_ENV = "ATS_INBOX_ATS_TOKEN"  # noqa: S105 (a variable name, not a secret)
OAUTH2_CLIENT_SECRET_ENV = "ATS_INBOX_IMAP_OAUTH2_CLIENT_SECRET"  # noqa: S105 (a variable name, not a secret)
OAUTH2_REFRESH_TOKEN_ENV = "ATS_INBOX_IMAP_OAUTH2_REFRESH_TOKEN"  # noqa: S105 (a variable name, not a secret)
CRASH_ENV = "ATS_INBOX_TEST_CRASH_AFTER"  # test hook: kill -9 ourselves after this journal step
SECURITY_MODES = ("ssl", "starttls", "none")
AUTH_MODES = ("password", "oauth2")
MAX_IDLE_SECONDS = 25 * 60  # RFC 2177: re-issue IDLE before 29 minutes; keep a margin
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
# Every table and key the loader reads; anything else in the file is a mistake (a typo).
KNOWN_KEYS: dict[str, tuple[str, ...]] = {
    "imap": ("host", "port", "security", "username", "password", "password_file", "ca_file", "folder",
             "processed_folder", "review_folder", "ignored_folder", "batch_size", "max_message_bytes",
             "timeout_seconds", "reconnect_attempts", "since", "skip_seen", "idle", "idle_seconds", "auth",
             "oauth2_token_url", "oauth2_client_id", "oauth2_client_secret", "oauth2_client_secret_file",
             "oauth2_refresh_token", "oauth2_refresh_token_file", "oauth2_scope"),
    "ats": ("base_url", "token", "token_file", "source", "ca_file", "timeout_seconds", "max_attempts",
            "retry_attempts", "concurrency"),
    "database": ("url", "retention_days"),
    "rules": ("path",),
    "schedule": ("interval_seconds",),
    "resumes": ("max_bytes", "max_count"),
    "intake": ("internal_senders", "own_addresses", "max_per_sender_per_hour"),
    "comment": ("cover_letter_chars",),
    "health": ("no_success_minutes",),
    "metrics": ("listen", "allow_remote"),
    "alerts": ("command", "webhook_url", "webhook_url_file", "review_queue_above", "login_failures",
               "timeout_seconds"),
}
REQUIRED_TABLES = ("imap", "ats")


@dataclass(frozen=True, slots=True)
class FirstPass:
    """Which mail the first pass over a folder takes: what arrived since a date or in the
    last `days` days (both None: all of it), and only unread mail when `unseen_only`."""

    days: int | None = 30
    on_or_after: date | None = None
    unseen_only: bool = True

    def since(self, today: date) -> date | None:
        if self.on_or_after is not None:
            return self.on_or_after
        return today - timedelta(days=self.days) if self.days is not None else None

    def describe(self) -> str:
        when = (f"since {self.on_or_after}" if self.on_or_after else
                f"of the last {self.days} days" if self.days is not None else "of any date")
        return f"mail {when}{', unread only' if self.unseen_only else ''}"


@dataclass(frozen=True, slots=True)
class HealthSettings:
    """When the daemon counts as unhealthy (/healthz 503, `status` exit 1, the no_success alert)."""

    no_success_minutes: int = 15  # no successful pass for this long (at least three schedule intervals)


@dataclass(frozen=True, slots=True)
class MetricsSettings:
    """The HTTP listener for /metrics and /healthz; off when `host` is ""."""

    host: str = ""
    port: int = 0


@dataclass(frozen=True, slots=True)
class AlertSettings:
    """Where alerts go (neither: they are only logged) and when an incident opens."""

    command: tuple[str, ...] = ()  # argv; the alert's state, kind and summary are appended
    webhook_url: str = ""
    review_queue_above: int = 25  # 0: no alert on the review queue
    login_failures: int = 3  # passes in a row that cannot use the mailbox; 0: no alert
    timeout_seconds: float = 10.0

    def __repr__(self) -> str:  # the webhook URL may carry a secret
        return f"AlertSettings(command={self.command!r}, webhook={'set' if self.webhook_url else 'unset'})"


@dataclass(frozen=True, slots=True)
class IntakeSettings:
    """Who is who in the mail: people who never apply themselves (recruiters forwarding CVs),
    the daemon's own addresses (its mail is never an application), and a flood cap."""

    internal_senders: tuple[str, ...] = ()  # domains ("acme.test") and addresses
    own_addresses: tuple[str, ...] = ()
    max_per_sender_per_hour: int = 20  # more mails than this from one sender in an hour are ignored; 0: no cap


@dataclass(frozen=True, slots=True)
class OAuth2Settings:
    """The refresh-token grant (RFC 6749 6) that gives the access tokens for XOAUTH2 logins.

    `refresh_token_key` is where the refresh token came from (a key or a variable): the
    thing to fix when the provider says the token is revoked."""

    token_url: str
    client_id: str
    client_secret: str  # "" for a public client (no secret)
    refresh_token: str
    scope: str
    refresh_token_key: str = "imap.oauth2_refresh_token_file"  # noqa: S105 (a key's name, not a secret)

    def __repr__(self) -> str:  # never show the secrets
        return f"OAuth2Settings(token_url={self.token_url!r}, client_id={self.client_id!r})"


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
    ignored_folder: str
    batch_size: int
    max_message_bytes: int
    timeout_seconds: float
    reconnect_attempts: int
    first_pass: FirstPass = FirstPass()
    idle: bool = True  # wait for news of new mail with IMAP IDLE between the scheduled passes
    idle_seconds: int = 600  # IDLE is ended and re-issued this often
    auth: str = "password"  # or "oauth2" (XOAUTH2 with `oauth2`)
    oauth2: OAuth2Settings | None = None

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
    retry_attempts: int = 5
    concurrency: int = 4  # messages whose ATS steps run at once (1: one message at a time)

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
    retention_days: int = 180  # personal data of settled messages is removed after this many days
    cover_letter_chars: int = 1500  # of the mail's text quoted in the confirmation comment (0: none)
    intake: IntakeSettings = IntakeSettings()
    health: HealthSettings = HealthSettings()
    metrics: MetricsSettings = MetricsSettings()
    alerts: AlertSettings = AlertSettings()


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

    def bool(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise self._fail(key, f"must be true or false, not {type(value).__name__}")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._fail(key, f"must be a list of strings, such as [\"acme.test\"], not {value!r}")
        return tuple(value)

    def choice(self, key: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.str(key, default).lower()
        if value not in choices:
            raise self._fail(key, f"must be one of {', '.join(choices)}, not {value!r}")
        return value

    def secret(self, key: str, file_key: str, env: str, environ: Mapping[str, str], *, needed: bool) -> str:
        """The secret from `env`, else the file named by `file_key`, else `key` inline; "" if not needed.

        Both keys are type-checked either way; a secret that is used must be non-blank printable ASCII
        (an HTTP header and IMAP LOGIN carry nothing else).
        """
        inline, file_name = self.str(key, ""), self.str(file_key, "")
        if not needed:
            return ""
        if env in environ:
            value, origin = environ[env].strip(), f"from {env}"
            if not value:
                raise self._fail(key, f"{env} is set but blank: unset it, or set it to the secret")
        elif file_name:
            value, origin = self._read_secret_file(file_key, self._resolve(file_name)), "from the file"
            key = file_key
        elif key in self.data:
            value, origin = inline.strip(), "inline"
            if not value:
                raise self._fail(key, f"is empty: give it, or set {self.name}.{file_key} or {env}")
        else:
            raise self._fail(key, f"is required by this command: set {self.name}.{file_key}, "
                                  f"{self.name}.{key} or {env} (status and messages list/show run without it)")
        return self._printable_ascii(key, value, origin)

    def _read_secret_file(self, key: str, path: Path) -> str:
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise self._fail(key, f"cannot read {path}: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise self._fail(key, f"{path} is not UTF-8 text: write the secret as plain ASCII text") from exc
        if not value:
            raise self._fail(key, f"{path} is empty")
        return value

    def _printable_ascii(self, key: str, value: str, origin: str) -> str:
        if not value.isascii():
            raise self._fail(key, f"the secret ({origin}) has non-ASCII characters, which an HTTP header or "
                                  "IMAP LOGIN cannot carry: check the value and the file's encoding")
        if not value.isprintable():
            raise self._fail(key, f"the secret ({origin}) has a line break or control character: "
                                  "keep it on one line")
        return value

    def ca_file(self, key: str = "ca_file") -> str:
        """The CA bundle's resolved path, checked to be a readable PEM bundle; "" when unset."""
        name = self.str(key, "")
        if not name:
            return ""
        path = self._resolve(name)
        if not path.is_file():
            raise self._fail(key, f"{path} does not exist (or is not a file)")
        try:
            ssl.create_default_context().load_verify_locations(cafile=str(path))
        except PermissionError as exc:
            raise self._fail(key, f"cannot read {path}: {exc.strerror}") from exc
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise self._fail(key, f"{path} is not a PEM bundle of CA certificates ({exc}): "
                                  "give the CA certificate in PEM form (-----BEGIN CERTIFICATE-----)") from exc
        return str(path)

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


def load_settings(path: Path, environ: Mapping[str, str] = os.environ, *, need_secrets: bool = True) -> Settings:
    """Read and validate the whole configuration; raise ConfigError naming key and file.

    With `need_secrets=False` (commands that only read the database) the IMAP password and
    the ATS token are not looked up and are "" in the settings.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError("file not found", path=str(path)) from exc
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=str(path)) from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=str(path)) from exc
    return _settings(data, path, environ, need_secrets=need_secrets)


def _settings(data: Mapping[str, Any], path: Path, environ: Mapping[str, str], *,
              need_secrets: bool = True) -> Settings:
    _check_known(data, path)
    database = _Section(data.get("database", {}), "database", path)
    rules = _Section(data.get("rules", {}), "rules", path)
    schedule = _Section(data.get("schedule", {}), "schedule", path)
    return Settings(
        path=path,
        imap=_imap(_Section(data["imap"], "imap", path), environ, need_secrets),
        ats=_ats(_Section(data["ats"], "ats", path), environ, need_secrets),
        database_url=_database_url(database),
        rules_path=rules._resolve(rules.str("path", "rules")),
        interval_seconds=schedule.int("interval_seconds", 60, low=1, high=86400),
        resumes=_resumes(_Section(data.get("resumes", {}), "resumes", path)),
        test_crash_after=environ.get(CRASH_ENV, ""),
        retention_days=database.int("retention_days", 180, low=1, high=36500),
        cover_letter_chars=_Section(data.get("comment", {}), "comment", path).int(
            "cover_letter_chars", 1500, low=0, high=5000),
        intake=_intake(_Section(data.get("intake", {}), "intake", path)),
        health=_health(_Section(data.get("health", {}), "health", path)),
        metrics=_metrics(_Section(data.get("metrics", {}), "metrics", path)),
        alerts=_alerts(_Section(data.get("alerts", {}), "alerts", path), need_secrets),
    )


def _health(s: _Section) -> HealthSettings:
    return HealthSettings(no_success_minutes=s.int("no_success_minutes", 15, low=1, high=100_000))


def _metrics(s: _Section) -> MetricsSettings:
    """`listen`: "HOST:PORT" (an IPv6 host in brackets); a host other than loopback only with
    `allow_remote = true`: the pages have no password, and /healthz names what failed."""
    listen, allow_remote = s.str("listen", "").strip(), s.bool("allow_remote", False)
    if not listen:
        return MetricsSettings()
    example = 'such as "127.0.0.1:9464" or "[::1]:9464"'
    host, colon, port = listen.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    host = "127.0.0.1" if host == "localhost" else host
    try:
        address = ipaddress.ip_address(host)
        number = int(port)
    except ValueError:
        raise s._fail("listen", f"must be an IP address and a port, {example}, not {listen!r}") from None
    if not colon or not 1 <= number <= 65535:
        raise s._fail("listen", f"must end in a port from 1 to 65535, {example}, not {listen!r}")
    if not address.is_loopback and not allow_remote:
        raise s._fail("listen", f"{host} is reachable from other machines and the pages have no password: "
                                "listen on 127.0.0.1 (and scrape through a proxy), or set "
                                "metrics.allow_remote = true")
    return MetricsSettings(host=str(address), port=number)


def _alerts(s: _Section, need_secrets: bool) -> AlertSettings:
    command = s.strings("command")
    if command and not command[0].strip():
        raise s._fail("command", 'must start with the program, such as ["/usr/local/bin/page-me"]')
    inline, file_name = s.str("webhook_url", "").strip(), s.str("webhook_url_file", "").strip()
    url = s._read_secret_file("webhook_url_file", s._resolve(file_name)) if file_name and need_secrets else inline
    if url:
        _webhook_url(s, "webhook_url_file" if file_name else "webhook_url", url)
    return AlertSettings(command=command, webhook_url=url,
                         review_queue_above=s.int("review_queue_above", 25, low=0, high=10_000_000),
                         login_failures=s.int("login_failures", 3, low=0, high=10_000),
                         timeout_seconds=float(s.int("timeout_seconds", 10, low=1, high=300)))


def _webhook_url(s: _Section, key: str, url: str) -> None:
    """An https URL (http only to this machine); the URL itself is never shown (it may hold a token)."""
    try:
        parts = httpx.URL(url)
    except (httpx.InvalidURL, ValueError):
        raise s._fail(key, "is not a valid URL: give one such as https://hooks.example.org/...") from None
    if not parts.host or (parts.scheme != "https" and not (parts.scheme == "http" and parts.host in LOOPBACK_HOSTS)):
        raise s._fail(key, "must be an https:// URL with a host (http:// only to 127.0.0.1)")


def _intake(s: _Section) -> IntakeSettings:
    return IntakeSettings(
        internal_senders=tuple(v.strip().lower().lstrip("@") for v in s.strings("internal_senders") if v.strip()),
        own_addresses=tuple(v.strip().lower() for v in s.strings("own_addresses") if v.strip()),
        max_per_sender_per_hour=s.int("max_per_sender_per_hour", 20, low=0, high=100_000),
    )


def _check_known(data: Mapping[str, Any], path: Path) -> None:
    """The required tables are there, and every table and key is one the loader reads."""
    for name in REQUIRED_TABLES:
        if name not in data:
            typo = difflib.get_close_matches(name, [n for n in data if n not in KNOWN_KEYS], n=1)
            hint = f" ([{typo[0]}] looks like a misspelling of it)" if typo else ""
            raise ConfigError(f"the [{name}] table is required{hint}", key=name, path=str(path))
    for name in data:
        if name not in KNOWN_KEYS:
            what = "table" if isinstance(data[name], Mapping) else "key outside any table"
            tables = ", ".join(f"[{n}]" for n in KNOWN_KEYS)
            raise ConfigError(f"unknown {what}.{_nearest(name, list(KNOWN_KEYS), '[{}]')} The tables are {tables}.",
                              key=name, path=str(path))
        if isinstance(data[name], Mapping):
            for key in data[name]:
                if key not in KNOWN_KEYS[name]:
                    hint = _nearest(key, list(KNOWN_KEYS[name]), f"{name}.{{}}")
                    raise ConfigError(f"unknown key.{hint} Fix its name or remove it.",
                                      key=f"{name}.{key}", path=str(path))


def _nearest(word: str, known: list[str], form: str) -> str:
    """" Did you mean 'x'?" for the closest known name, or the table the key belongs in; else ""."""
    close = difflib.get_close_matches(word, known, n=1)
    if close:
        return f" Did you mean '{form.format(close[0])}'?"
    home = [table for table, keys in KNOWN_KEYS.items() if word in keys]
    return f" '{word}' belongs in the [{home[0]}] table." if home else ""


def _imap(s: _Section, environ: Mapping[str, str], need_secrets: bool) -> ImapSettings:
    security = s.choice("security", "ssl", SECURITY_MODES)
    folder = s.str("folder", "INBOX") or "INBOX"
    auth = s.choice("auth", "password", AUTH_MODES)
    oauth2 = _oauth2(s, environ, need_secrets and auth == "oauth2")
    settings = ImapSettings(
        host=s.required_str("host"),
        port=s.int("port", 993 if security == "ssl" else 143, low=1, high=65535),
        security=security,
        username=s.required_str("username"),
        password=s.secret("password", "password_file", IMAP_PASSWORD_ENV, environ,
                          needed=need_secrets and auth == "password"),
        ca_file=s.ca_file(),
        folder=folder,
        processed_folder=_other_folder(s, "processed_folder", folder),
        review_folder=_other_folder(s, "review_folder", folder),
        ignored_folder=_other_folder(s, "ignored_folder", folder),
        batch_size=s.int("batch_size", 50, low=1, high=1000),
        max_message_bytes=s.int("max_message_bytes", 50 * 1024 * 1024, low=1024),
        timeout_seconds=float(s.int("timeout_seconds", 60, low=1, high=3600)),
        reconnect_attempts=s.int("reconnect_attempts", 5, low=0, high=100),
        first_pass=FirstPass(*_since(s), unseen_only=s.bool("skip_seen", True)),
        idle=s.bool("idle", True),
        idle_seconds=s.int("idle_seconds", 600, low=10, high=MAX_IDLE_SECONDS),
        auth=auth,
        oauth2=oauth2,
    )
    if not settings.username.isascii():
        raise s._fail("username", "has non-ASCII characters, which IMAP LOGIN cannot carry")
    return settings


def _oauth2(s: _Section, environ: Mapping[str, str], needed: bool) -> OAuth2Settings | None:
    """The OAuth2 keys, type-checked always; required, and the secrets read, only when `needed`."""
    token_url, client_id = s.str("oauth2_token_url", ""), s.str("oauth2_client_id", "")
    scope = s.str("oauth2_scope", "")
    has_secret = OAUTH2_CLIENT_SECRET_ENV in environ or bool(s.str("oauth2_client_secret_file", "")) or bool(
        s.str("oauth2_client_secret", ""))
    secret = s.secret("oauth2_client_secret", "oauth2_client_secret_file", OAUTH2_CLIENT_SECRET_ENV, environ,
                      needed=needed and has_secret)  # a public client (Microsoft's device flow) has none
    refresh = s.secret("oauth2_refresh_token", "oauth2_refresh_token_file", OAUTH2_REFRESH_TOKEN_ENV, environ,
                       needed=needed)
    if not needed:
        return None
    for key, value in (("oauth2_token_url", token_url), ("oauth2_client_id", client_id)):
        if not value.strip():
            raise s._fail(key, 'is required with auth = "oauth2"')
    origin = (OAUTH2_REFRESH_TOKEN_ENV if OAUTH2_REFRESH_TOKEN_ENV in environ else
              "imap.oauth2_refresh_token_file" if s.str("oauth2_refresh_token_file", "") else
              "imap.oauth2_refresh_token")
    return OAuth2Settings(token_url=_token_url(s, token_url.strip()), client_id=client_id.strip(),
                          client_secret=secret, refresh_token=refresh, scope=" ".join(scope.split()),
                          refresh_token_key=origin)


def _token_url(s: _Section, url: str) -> str:
    """An https URL (http only to this machine, for a local test endpoint)."""
    example = "such as https://oauth2.googleapis.com/token"
    try:
        parts = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        raise s._fail("oauth2_token_url", f"is not a valid URL ({exc}): give one {example}") from exc
    local = parts.scheme == "http" and parts.host in LOOPBACK_HOSTS
    if parts.scheme != "https" and not local:
        raise s._fail("oauth2_token_url", f"must start with https:// (the refresh token travels in it), "
                                          f"{example}, not {url!r}")
    if not parts.host:
        raise s._fail("oauth2_token_url", f"has no host name: give a URL {example}")
    return url


def _since(s: _Section) -> tuple[int | None, date | None]:
    """`since`: a number of days, a date (YYYY-MM-DD), or "all"; default 30 days."""
    value = s.data.get("since", 30)
    if isinstance(value, bool):
        raise s._fail("since", "must be a number of days, a date such as 2026-11-01, or \"all\"")
    if isinstance(value, int):
        if not 0 <= value <= 100_000:
            raise s._fail("since", f"must be between 0 and 100000 days, not {value}")
        return value, None
    if isinstance(value, date) and not isinstance(value, datetime):
        return None, value
    if isinstance(value, str) and value.strip().lower() == "all":
        return None, None
    if isinstance(value, str):
        try:
            return None, date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise s._fail("since", f"must be a number of days, a date such as 2026-11-01, or \"all\", not {value!r}")


def same_folder(a: str, b: str) -> bool:
    """Whether two IMAP folder names are one folder: INBOX is case-insensitive (RFC 3501 5.1)."""
    return a == b or a.upper() == b.upper() == "INBOX"


def _other_folder(s: _Section, key: str, folder: str) -> str:
    """A folder mail is moved to: empty, or another folder than the watched one."""
    value = s.str(key, "")
    if value and same_folder(value, folder):
        raise s._fail(key, f"is the watched folder ({folder!r}; INBOX in any case is INBOX): moving mail "
                           "into the folder it came from never ends; leave it empty to keep the mail where it is")
    return value


def _ats(s: _Section, environ: Mapping[str, str], need_secrets: bool) -> AtsSettings:
    return AtsSettings(
        base_url=_base_url(s),
        token=s.secret("token", "token_file", ATS_TOKEN_ENV, environ, needed=need_secrets),
        source=s.str("source", "Email").strip() or "Email",
        ca_file=s.ca_file(),
        timeout_seconds=float(s.int("timeout_seconds", 30, low=1, high=600)),
        max_attempts=s.int("max_attempts", 5, low=1, high=1000),
        retry_attempts=s.int("retry_attempts", 5, low=1, high=10),
        concurrency=s.int("concurrency", 4, low=1, high=32),
    )


def _base_url(s: _Section) -> str:
    """An http(s) URL with a host, a valid port, no spaces, no credentials, query or fragment."""
    base_url = s.required_str("base_url").rstrip("/")
    example = "such as https://acme.skailer.com (or http://127.0.0.1:8025 for the local sandbox)"
    if not base_url.startswith(("https://", "http://")):
        raise s._fail("base_url", f"must start with https:// (or http:// for a local sandbox), not {base_url!r}")
    if not base_url.isprintable() or any(c.isspace() for c in base_url):
        raise s._fail("base_url", f"has a space or control character: give a URL {example}")
    parts = urlsplit(base_url)
    problem = ("has no host name" if not parts.hostname else
               "carries a user name or password: give the token in ats.token_file" if "@" in parts.netloc else
               "has a query or fragment (?, #): give only the address" if parts.query or parts.fragment else "")
    if problem:
        raise s._fail("base_url", f"{problem}; give a URL {example}, not {base_url!r}")
    try:
        port = parts.port
        httpx.URL(base_url)
    except (ValueError, httpx.InvalidURL) as exc:
        raise s._fail("base_url", f"is not a valid URL ({exc}): give one {example}") from exc
    if port == 0:
        raise s._fail("base_url", f"port 0 is not a port: give a URL {example}")
    return base_url


def _database_url(s: _Section) -> str:
    url = s.str("url", "sqlite:///ats-inbox.db").strip()
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        url = prefix + str(s._resolve(url[len(prefix):]))  # relative to the config file
    example = "such as sqlite:///ats-inbox.db"
    if "://" not in url:
        raise s._fail("url", f"must be an SQLAlchemy URL {example}, not {url!r}")
    try:
        make_url(url).get_dialect().import_dbapi()
    except NoSuchModuleError as exc:  # before ArgumentError, its base
        raise s._fail("url", f"names a database SQLAlchemy does not know ({url.split(':', 1)[0]!r}): "
                             f"use one {example}") from exc
    except (ArgumentError, ValueError) as exc:  # ValueError: a port that is not a number
        raise s._fail("url", f"is not a valid SQLAlchemy URL: give one {example}") from exc
    except ImportError as exc:
        raise s._fail("url", f"needs the Python package {exc.name!r}, which is not installed: install it "
                             "into the daemon's environment, or use SQLite") from exc
    return url


def _resumes(s: _Section) -> ResumeLimits:
    return ResumeLimits(
        max_bytes=s.int("max_bytes", 20 * 1024 * 1024, low=1024),
        max_count=s.int("max_count", 5, low=1, high=50),
    )
