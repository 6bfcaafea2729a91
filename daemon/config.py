"""Configuration: one TOML file, loaded and validated once at start-up into typed objects.

Secrets come from `ATS_INBOX_IMAP_PASSWORD` / `ATS_INBOX_ATS_TOKEN` (and, for OAuth2,
`ATS_INBOX_IMAP_OAUTH2_CLIENT_SECRET` / `ATS_INBOX_IMAP_OAUTH2_REFRESH_TOKEN`; the SMTP relay's
`ATS_INBOX_SMTP_PASSWORD`), or from files
(`password_file`, `token_file`, `oauth2_..._file`; with systemd `LoadCredential=` these live
under `$CREDENTIALS_DIRECTORY`), or inline in the file. Nothing deeper in the code reads
settings or the environment.

Each key is declared once, in `daemon.settings.keys` (kind, default, bounds or choices, help);
`_Table` reads and checks a table by that declaration, and the builders below add what is this
project's own: the secrets, CA bundles, URLs, the metrics address, and folders checked
against the watched one.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import ssl
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from daemon.errors import ConfigError
from daemon.mail.resumes import ResumeLimits
from daemon.settings.keys import ATS_TOKEN_ENV as ATS_TOKEN_ENV  # imported from here by other modules
from daemon.settings.keys import CONFIG_ENV as CONFIG_ENV
from daemon.settings.keys import (
    DECLARED,
    IMAP_PORT,
    LISTED_TABLES,
    MAILBOX_IMAP_KEYS,
    OAUTH2_CLIENT_SECRET_ENV,
    OAUTH2_REFRESH_TOKEN_ENV,
    REQUIRED,
    REQUIRED_TABLES,
    TABLES,
    Key,
    Kind,
    default,
)
from daemon.settings.keys import IMAP_PASSWORD_ENV as IMAP_PASSWORD_ENV
from daemon.settings.keys import MAX_IDLE_SECONDS as MAX_IDLE_SECONDS

SECURITY_MODES = DECLARED["imap.security"].choices
AUTH_MODES = DECLARED["imap.auth"].choices
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
# Every table and its keys, as declared; anything else in the file is a mistake (a typo).
KNOWN_KEYS: dict[str, tuple[str, ...]] = {table: tuple(k.name for k in keys) for table, keys in TABLES.items()}


@dataclass(frozen=True, slots=True)
class FirstPass:
    """Which mail the first pass over a folder takes: what arrived since a date or in the
    last `days` days (both None: all of it), and only unread mail when `unseen_only`."""

    days: int | None = default("imap.since")
    on_or_after: date | None = None
    unseen_only: bool = default("imap.skip_seen")

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

    no_success_minutes: int = default("health.no_success_minutes")  # (at least three schedule intervals)


@dataclass(frozen=True, slots=True)
class MetricsSettings:
    """The HTTP listener for /metrics and /healthz; off when `host` is ""."""

    host: str = ""
    port: int = 0


@dataclass(frozen=True, slots=True)
class WebSettings:
    """The review page: where it listens (`host` "": not served by `run`), and who may use it."""

    host: str = ""
    port: int = 0
    auth: str = default("web.auth")  # accounts, header or none
    trusted_header: str = default("web.trusted_header")
    trusted_proxies: tuple[str, ...] = ()  # empty: loopback only
    session_minutes: int = default("web.session_minutes")
    secure_cookies: bool = default("web.secure_cookies")


@dataclass(frozen=True, slots=True)
class AlertSettings:
    """Where alerts go (neither: they are only logged) and when an incident opens."""

    command: tuple[str, ...] = ()  # argv; the alert's state, kind and summary are appended
    webhook_url: str = ""
    review_queue_above: int = default("alerts.review_queue_above")  # 0: no alert on the review queue
    login_failures: int = default("alerts.login_failures")  # passes in a row that cannot use the mailbox; 0: none
    oldest_waiting_hours: int = default("alerts.oldest_waiting_hours")  # 0: no alert on the oldest set-aside mail
    timeout_seconds: float = float(default("alerts.timeout_seconds"))

    def __repr__(self) -> str:  # the webhook URL may carry a secret
        return f"AlertSettings(command={self.command!r}, webhook={'set' if self.webhook_url else 'unset'})"


@dataclass(frozen=True, slots=True)
class IntakeSettings:
    """Who is who in the mail: people who never apply themselves (recruiters forwarding CVs),
    agencies (who never apply either; their candidates get the agency's source), the daemon's
    own addresses (its mail is never an application), and a flood cap."""

    internal_senders: tuple[str, ...] = ()  # domains ("acme.test") and addresses
    # domain or address -> the ATS source of its candidates (a read-only mapping, so given by a factory)
    agencies: Mapping[str, str] = field(default_factory=lambda: default("intake.agencies"))
    own_addresses: tuple[str, ...] = ()
    max_per_sender_per_hour: int = default("intake.max_per_sender_per_hour")  # more in an hour are ignored; 0: no cap


@dataclass(frozen=True, slots=True)
class ReplySettings:
    """Mail the daemon sends ([replies]): receipts to forwarders, acknowledgements to candidates. Off when
    neither switch is on; then nothing else here is used."""

    receipts: bool = False
    acknowledgements: bool = False
    host: str = ""
    port: int = default("replies.port")
    security: str = default("replies.security")  # "starttls" or "tls"; certificates are always checked
    username: str = ""
    password: str = ""
    ca_file: str = ""
    timeout_seconds: float = float(default("replies.timeout_seconds"))
    from_address: str = ""
    from_name: str = ""
    company: str = ""
    language: str = default("replies.language")
    templates: str = ""  # a folder; "" the built-in ones
    token_key_file: str = ""  # "" a key generated beside the SQLite database
    authserv_id: str = ""
    acknowledgement_days: int = default("replies.acknowledgement_days")
    max_per_hour: int = default("replies.max_per_hour")

    @property
    def on(self) -> bool:
        return self.receipts or self.acknowledgements

    def __repr__(self) -> str:  # never show the password
        return f"ReplySettings(on={self.on}, host={self.host!r}, from_address={self.from_address!r})"


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
    idle: bool = default("imap.idle")  # wait for news of new mail with IMAP IDLE between the scheduled passes
    idle_seconds: int = default("imap.idle_seconds")  # IDLE is ended and re-issued this often
    auth: str = default("imap.auth")  # or "oauth2" (XOAUTH2 with `oauth2`)
    oauth2: OAuth2Settings | None = None

    @property
    def account(self) -> str:
        """The account as records name it (`ImapMailbox.account`): login, server and port."""
        return f"{self.username}@{self.host}:{self.port}"

    @property
    def lease_name(self) -> str:
        """The mailbox as its lease and the spread over instances name it: the account and the watched folder."""
        return f"{self.account}/{self.folder}"

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
    retry_attempts: int = default("ats.retry_attempts")
    concurrency: int = default("ats.concurrency")  # messages whose ATS steps run at once (1: one at a time)

    def __repr__(self) -> str:  # never show the token
        return f"AtsSettings(base_url={self.base_url!r}, source={self.source!r})"


DEFAULT_MAILBOX = "default"  # the name of the one mailbox of a configuration without [[mailbox]] tables


@dataclass(frozen=True, slots=True)
class MailboxSettings:
    """One mailbox the daemon serves: its name, its IMAP account and folders, its ATS source and rules."""

    name: str
    imap: ImapSettings
    source: str
    rules_path: Path


@dataclass(frozen=True, slots=True)
class Settings:
    path: Path
    imap: ImapSettings  # the first mailbox's (the only one without [[mailbox]] tables)
    ats: AtsSettings
    database_url: str
    rules_path: Path
    interval_seconds: int
    resumes: ResumeLimits
    retention_days: int = default("database.retention_days")  # settled messages' personal data is kept this long
    lease_seconds: int = default("database.lease_seconds")  # a mailbox's lease and an instance's heartbeat last this
    cover_letter_chars: int = default("comment.cover_letter_chars")  # of the mail's text quoted in the comment
    intake: IntakeSettings = IntakeSettings()
    health: HealthSettings = HealthSettings()
    metrics: MetricsSettings = MetricsSettings()
    alerts: AlertSettings = AlertSettings()
    replies: ReplySettings = ReplySettings()
    web: WebSettings = WebSettings()
    mailboxes: tuple[MailboxSettings, ...] = ()  # empty only in settings built by hand: `imap` is the one

    def all_mailboxes(self) -> tuple[MailboxSettings, ...]:
        """Every mailbox served, in the file's order; `[imap]` alone is one, named "default"."""
        return self.mailboxes or (MailboxSettings(DEFAULT_MAILBOX, self.imap, self.ats.source, self.rules_path),)

    def for_mailbox(self, mailbox: MailboxSettings) -> Settings:
        """These settings as one mailbox sees them: its IMAP account and folders, its source, its rules."""
        return replace(self, imap=mailbox.imap, ats=replace(self.ats, source=mailbox.source),
                       rules_path=mailbox.rules_path, mailboxes=(mailbox,))

    def mailbox_names(self) -> dict[tuple[str, str], str]:
        """(account, folder) -> the mailbox's name: which mailbox a recorded message came from."""
        return {(m.imap.account, m.imap.folder): m.name for m in self.all_mailboxes()}


class _Table:
    """One TOML table read by its declaration: every declared key typed, bounded and defaulted
    (`table["port"]`), with errors that name the key and the file. Paths come back resolved."""

    def __init__(self, data: Mapping[str, Any], name: str, path: Path, shown_as: str = "", where: str = ""):
        # How errors name its keys: "imap.folder"; a [[mailbox]]'s as "mailbox.folder", `where` saying which one.
        self.shown_as, self.where = shown_as or name, where
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where}must be a table", key=self.shown_as, path=str(path))
        self.data, self.name, self.path = data, name, path
        self.values = {key.name: self._read(key) for key in TABLES[name]}

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def _fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.where}{message}", key=f"{self.shown_as}.{key}", path=str(self.path))

    def _read(self, key: Key) -> Any:
        offered = None if key.default is REQUIRED else list(key.default) if key.kind is Kind.STRINGS else key.default
        value = self.data.get(key.name, offered)
        if key.kind is Kind.INTEGER:
            return self._int(key, value)
        if key.kind is Kind.BOOLEAN:
            if not isinstance(value, bool):
                raise self._fail(key.name, f"must be true or false, not {type(value).__name__}")
            return value
        if key.kind is Kind.STRINGS:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise self._fail(key.name, f"must be a list of strings, such as [\"acme.test\"], not {value!r}")
            return tuple(value)
        if key.kind is Kind.SINCE:
            return self._since(key, value)
        if key.kind is Kind.NAMES:
            return self._names(key, value)
        return self._text(key, value)

    def _text(self, key: Key, value: Any) -> str:
        if value is None:
            raise self._fail(key.name, "is required")
        if not isinstance(value, str):
            raise self._fail(key.name, f"must be a string, not {type(value).__name__}")
        if key.default is REQUIRED:
            if not value.strip():
                raise self._fail(key.name, "must not be empty")
            return value.strip()
        if key.kind is Kind.CHOICE:
            if value.lower() not in key.choices:
                raise self._fail(key.name, f"must be one of {', '.join(key.choices)}, not {value.lower()!r}")
            return value.lower()
        return str(self.resolve(value.strip())) if key.path and value.strip() else value

    def _int(self, key: Key, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._fail(key.name, f"must be an integer, not {type(value).__name__}")
        low, high = key.low or 0, key.high if key.high is not None else 2**31
        if not low <= value <= high:
            raise self._fail(key.name, f"must be between {low} and {high}, not {value}")
        return value

    def _names(self, key: Key, value: Any) -> tuple[tuple[str, str], ...]:
        """A table of non-empty strings, such as { "talentbridge.example" = "TalentBridge" }, as pairs."""
        example = '{ "talentbridge.example" = "TalentBridge" }'
        if not isinstance(value, Mapping):
            raise self._fail(key.name, f"must be a table of strings, such as {example}, not {value!r}")
        for name, text in value.items():
            if not isinstance(text, str) or not text.strip() or not name.strip():
                raise self._fail(key.name, f"{name!r} must name a non-empty string, such as {example}")
        return tuple((str(name), text) for name, text in value.items())

    def _since(self, key: Key, value: Any) -> tuple[int | None, date | None]:
        """A number of days, a date (YYYY-MM-DD), or "all" (no limit): as (days, date)."""
        example = "a number of days, a date such as 2026-11-01, or \"all\""
        if isinstance(value, bool):
            raise self._fail(key.name, f"must be {example}")
        if isinstance(value, int):
            if not key.low <= value <= key.high:  # type: ignore[operator] (declared with bounds)
                raise self._fail(key.name, f"must be between {key.low} and {key.high} days, not {value}")
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
        raise self._fail(key.name, f"must be {example}, not {value!r}")

    def secret(self, name: str, environ: Mapping[str, str], *, needed: bool) -> str:
        """The secret from its variable, else the file named by `<name>_file`, else `name` inline; "" if
        not needed. A secret that is used must be non-blank printable ASCII (an HTTP header and IMAP
        LOGIN carry nothing else)."""
        if not needed:
            return ""
        key, file_key = name, f"{name}_file"
        env = DECLARED[f"{self.name}.{name}"].env
        if env in environ:
            value, origin = environ[env].strip(), f"from {env}"
            if not value:
                raise self._fail(key, f"{env} is set but blank: unset it, or set it to the secret")
        elif self[file_key]:
            value, origin = self.read_secret_file(file_key), "from the file"
            key = file_key
        elif key in self.data:
            value, origin = self[key].strip(), "inline"
            if not value:
                raise self._fail(key, f"is empty: give it, or set {self.name}.{file_key} or {env}")
        else:
            raise self._fail(key, f"is required by this command: set {self.name}.{file_key}, "
                                  f"{self.name}.{key} or {env} (status and messages list/show run without it)")
        return self._printable_ascii(key, value, origin)

    def read_secret_file(self, key: str) -> str:
        """The stripped text of the file named by the path key `key`, which must not be empty."""
        path = Path(self[key])
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
        if not self[key]:
            return ""
        path = Path(self[key])
        if not path.is_file():
            raise self._fail(key, f"{path} does not exist (or is not a file)")
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=str(path))  # no system CAs: a check
        except PermissionError as exc:
            raise self._fail(key, f"cannot read {path}: {exc.strerror}") from exc
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise self._fail(key, f"{path} is not a PEM bundle of CA certificates ({exc}): "
                                  "give the CA certificate in PEM form (-----BEGIN CERTIFICATE-----)") from exc
        return str(path)

    def resolve(self, name: str) -> Path:
        """Relative paths are relative to the config file's folder; the result is absolute (it must
        not change meaning, or read differently, when the current directory changes)."""
        path = Path(name).expanduser()
        return path if path.is_absolute() else (self.path.parent / path).absolute()


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
    table = {name: _Table(data[name] if name in REQUIRED_TABLES else data.get(name, {}), name, path)
             for name in TABLES if name not in LISTED_TABLES}
    database = table["database"]
    imap, ats = _imap(table["imap"], environ, need_secrets), _ats(table["ats"], environ, need_secrets)
    rules_path = table["rules"].resolve(table["rules"]["path"])
    mailboxes = _mailboxes(data, path, environ, need_secrets, MailboxSettings(DEFAULT_MAILBOX, imap, ats.source,
                                                                               rules_path))
    intake = _intake(table["intake"])
    # every mailbox's login is an own address of every lane (the first's too: a lane sees only its own [imap])
    logins = tuple(dict.fromkeys(m.imap.username.lower() for m in mailboxes)) if len(mailboxes) > 1 else ()
    return Settings(
        path=path,
        imap=mailboxes[0].imap,
        mailboxes=mailboxes,
        ats=ats,
        database_url=_database_url(database),
        rules_path=rules_path,
        interval_seconds=table["schedule"]["interval_seconds"],
        resumes=ResumeLimits(max_bytes=table["resumes"]["max_bytes"], max_count=table["resumes"]["max_count"]),
        retention_days=database["retention_days"],
        lease_seconds=database["lease_seconds"],
        cover_letter_chars=table["comment"]["cover_letter_chars"],
        intake=replace(intake, own_addresses=intake.own_addresses + logins),  # the other mailboxes' own mail
        health=HealthSettings(no_success_minutes=table["health"]["no_success_minutes"]),
        metrics=_metrics(table["metrics"]),
        alerts=_alerts(table["alerts"], need_secrets),
        replies=_replies(table["replies"], environ, need_secrets),
        web=_web(table["web"]),
    )


def _metrics(t: _Table) -> MetricsSettings:
    """`listen`: "HOST:PORT" (an IPv6 host in brackets); a host other than loopback only with
    `allow_remote = true`: the pages have no password, and /healthz names what failed."""
    listen = t["listen"].strip()
    if not listen:
        return MetricsSettings()
    host, number = _address(t, listen, example_port=9464)
    if not ipaddress.ip_address(host).is_loopback and not t["allow_remote"]:
        raise t._fail("listen", f"{host} is reachable from other machines and the pages have no password: "
                                "listen on 127.0.0.1 (and scrape through a proxy), or set "
                                "metrics.allow_remote = true")
    return MetricsSettings(host=host, port=number)


def _web(t: _Table) -> WebSettings:
    """`listen` as [metrics] reads it; no login (`auth = "none"`) only on a loopback address."""
    host, port = "", 0
    listen = t["listen"].strip()
    if listen:
        host, port = _address(t, listen)
    if t["auth"] == "none" and host and not ipaddress.ip_address(host).is_loopback:
        raise t._fail("auth", f'"none" lets anyone who reaches {host} change the queue: beyond loopback a login is '
                              'required (auth = "accounts" or "header")')
    proxies = tuple(p.strip() for p in t["trusted_proxies"])
    for proxy in proxies:
        try:
            ipaddress.ip_address(proxy)
        except ValueError:
            raise t._fail("trusted_proxies", f"must be IP addresses, not {proxy!r}") from None
    header = t["trusted_header"].strip()
    if t["auth"] == "header" and not header:
        raise t._fail("trusted_header", 'must name a header with auth = "header"')
    return WebSettings(host=host, port=port, auth=t["auth"], trusted_header=header, trusted_proxies=proxies,
                       session_minutes=t["session_minutes"], secure_cookies=t["secure_cookies"])


def _address(t: _Table, listen: str, example_port: int = 8080) -> tuple[str, int]:
    """"HOST:PORT" (an IPv6 host in brackets; localhost is 127.0.0.1) as an address and a port, for [metrics] and
    [web]; `example_port` is the one the error message's example names."""
    example = f'such as "127.0.0.1:{example_port}" or "[::1]:{example_port}"'
    host, colon, port = listen.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    host = "127.0.0.1" if host == "localhost" else host
    try:
        address = ipaddress.ip_address(host)
        number = int(port)
    except ValueError:
        raise t._fail("listen", f"must be an IP address and a port, {example}, not {listen!r}") from None
    if not colon or not 1 <= number <= 65535:
        raise t._fail("listen", f"must end in a port from 1 to 65535, {example}, not {listen!r}")
    return str(address), number


def _alerts(t: _Table, need_secrets: bool) -> AlertSettings:
    command = t["command"]
    if command and not command[0].strip():
        raise t._fail("command", 'must start with the program, such as ["/usr/local/bin/page-me"]')
    from_file = bool(t["webhook_url_file"].strip())
    url = t.read_secret_file("webhook_url_file") if from_file and need_secrets else t["webhook_url"].strip()
    if url:
        _webhook_url(t, "webhook_url_file" if from_file else "webhook_url", url)
    return AlertSettings(command=command, webhook_url=url, review_queue_above=t["review_queue_above"],
                         login_failures=t["login_failures"], oldest_waiting_hours=t["oldest_waiting_hours"],
                         timeout_seconds=float(t["timeout_seconds"]))


def _replies(t: _Table, environ: Mapping[str, str], need_secrets: bool) -> ReplySettings:
    """[replies]: with either switch on, a relay and a From address are required; the password with a login."""
    on = t["receipts"] or t["acknowledgements"]
    if not on:
        return ReplySettings()
    for key in ("host", "from_address"):
        if not t[key].strip():
            raise t._fail(key, "is required when replies.receipts or replies.acknowledgements is on")
    address = t["from_address"].strip().lower()
    if address.count("@") != 1 or not all(address.split("@")) or any(c.isspace() or c in "<>,;\"" for c in address):
        raise t._fail("from_address", f"must be one address such as jobs@acme.test, not {address!r}")
    username = t["username"].strip()
    return ReplySettings(
        receipts=t["receipts"], acknowledgements=t["acknowledgements"], host=t["host"].strip(), port=t["port"],
        security=t["security"], username=username,
        password=t.secret("password", environ, needed=need_secrets and bool(username)),
        ca_file=t.ca_file(), timeout_seconds=float(t["timeout_seconds"]), from_address=address,
        from_name=t["from_name"].strip(), company=t["company"].strip(),
        language=t["language"].strip().lower() or "en", templates=t["templates"].strip(),
        token_key_file=t["token_key_file"].strip(), authserv_id=t["authserv_id"].strip().lower(),
        acknowledgement_days=t["acknowledgement_days"], max_per_hour=t["max_per_hour"])


def _webhook_url(t: _Table, key: str, url: str) -> None:
    """An https URL (http only to this machine); the URL itself is never shown (it may hold a token)."""
    try:
        parts = httpx.URL(url)
    except (httpx.InvalidURL, ValueError):
        raise t._fail(key, "is not a valid URL: give one such as https://hooks.example.org/...") from None
    if not parts.host or (parts.scheme != "https" and not (parts.scheme == "http" and parts.host in LOOPBACK_HOSTS)):
        raise t._fail(key, "must be an https:// URL with a host (http:// only to 127.0.0.1)")


def _intake(t: _Table) -> IntakeSettings:
    return IntakeSettings(
        internal_senders=tuple(v.strip().lower().lstrip("@") for v in t["internal_senders"] if v.strip()),
        agencies=_agencies(t),
        own_addresses=tuple(v.strip().lower() for v in t["own_addresses"] if v.strip()),
        max_per_sender_per_hour=t["max_per_sender_per_hour"],
    )


def _agencies(t: _Table) -> Mapping[str, str]:
    """Each agency's domain or address (lower case, a leading "@" dropped) -> its ATS source's name."""
    agencies: dict[str, str] = {}
    for where, source in t["agencies"]:
        entry = where.strip().lower().lstrip("@")
        if not entry or any(c.isspace() for c in entry) or entry.count("@") > 1 or entry.endswith("@"):
            raise t._fail("agencies", f"{where!r} is neither a domain (\"talentbridge.example\") nor an address")
        agencies[entry] = " ".join(source.split())
    return MappingProxyType(agencies)


def _check_known(data: Mapping[str, Any], path: Path) -> None:
    """The required tables are there, and every table and key is a declared one."""
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
        if name in LISTED_TABLES:
            _check_listed(data[name], name, path)
        elif isinstance(data[name], Mapping):
            _check_keys(data[name], name, path)


def _check_keys(table: Mapping[str, Any], name: str, path: Path, where: str = "") -> None:
    for key in table:
        if key not in KNOWN_KEYS[name]:
            hint = _nearest(key, list(KNOWN_KEYS[name]), f"{name}.{{}}")
            raise ConfigError(f"{where}unknown key.{hint} Fix its name or remove it.", key=f"{name}.{key}",
                              path=str(path))


def _check_listed(tables: Any, name: str, path: Path) -> None:
    """`[[name]]`: an array of tables, each with declared keys only."""
    if isinstance(tables, Mapping):  # [name], one bracket: its keys first (a typo is the likelier mistake)
        _check_keys(tables, name, path)
    if not isinstance(tables, list) or not all(isinstance(t, Mapping) for t in tables):
        raise ConfigError(f"must be written as [[{name}]] tables, one per {name}", key=name, path=str(path))
    for number, table in enumerate(tables, 1):
        _check_keys(table, name, path, _where(name, number, table))


def _where(name: str, number: int, table: Mapping[str, Any]) -> str:
    """Which [[name]] table an error is about: by its name when it has one, else by its place."""
    given = table.get("name")
    which = f"named {given!r}" if isinstance(given, str) and given.strip() else f"number {number}"
    return f"in the [[{name}]] {which}: "


MAILBOX_NAME = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def _mailboxes(data: Mapping[str, Any], path: Path, environ: Mapping[str, str], need_secrets: bool,
               only: MailboxSettings) -> tuple[MailboxSettings, ...]:
    """The [[mailbox]] tables, each completed from [imap] (and [ats] source, [rules] path); none: [imap] alone."""
    tables = data.get("mailbox", [])
    if not tables:
        return (only,)
    mailboxes: list[MailboxSettings] = []
    for number, raw in enumerate(tables, 1):
        where = _where("mailbox", number, raw)
        mailbox = _mailbox(_Table(raw, "mailbox", path, where=where), data.get("imap", {}), environ, need_secrets,
                           only)
        _distinct(mailbox, mailboxes, path, where)
        mailboxes.append(mailbox)
    return tuple(mailboxes)


def _mailbox(t: _Table, imap: Mapping[str, Any], environ: Mapping[str, str], need_secrets: bool,
             only: MailboxSettings) -> MailboxSettings:
    name = t["name"]
    if not set(name) <= MAILBOX_NAME:
        raise t._fail("name", f"may hold only letters, digits, '.', '_' and '-' (it is a metrics label), "
                              f"not {name!r}")
    merged = {**imap, **{key: t.data[key] for key in MAILBOX_IMAP_KEYS if key in t.data}}
    if "host" in t.data and "port" not in t.data:
        merged.pop("port", None)  # another server: the port of its security
    if merged.get("port") == 0:
        merged.pop("port")
    own_secret = "password" in t.data or "password_file" in t.data
    if own_secret:  # its own password wins over [imap]'s and over the variable
        merged = {k: v for k, v in merged.items() if k not in ("password", "password_file") or k in t.data}
        environ = {k: v for k, v in environ.items() if k != IMAP_PASSWORD_ENV}
    settings = _imap(_Table(merged, "imap", t.path, shown_as="mailbox", where=t.where), environ, need_secrets)
    return MailboxSettings(name=name, imap=settings, source=t["source"].strip() or only.source,
                           rules_path=Path(t["rules"]) if t["rules"] else only.rules_path)


def _distinct(mailbox: MailboxSettings, before: list[MailboxSettings], path: Path, where: str) -> None:
    """No two mailboxes share a name, or watch one folder of one account (they would take turns at its lease)."""
    for other in before:
        if other.name == mailbox.name:
            raise ConfigError(f"{where}the name is taken by an earlier [[mailbox]]: give each its own",
                              key="mailbox.name", path=str(path))
        a, b = other.imap, mailbox.imap
        if (a.host.lower(), a.username, a.port) == (b.host.lower(), b.username, b.port) and \
                same_folder(a.folder, b.folder):
            raise ConfigError(f"{where}it watches {b.folder!r} of {b.username} at {b.host}, as mailbox "
                              f"{other.name!r} does: give it another folder or account", key="mailbox.folder",
                              path=str(path))


def _nearest(word: str, known: list[str], form: str) -> str:
    """" Did you mean 'x'?" for the closest known name, or the table the key belongs in; else ""."""
    close = difflib.get_close_matches(word, known, n=1)
    if close:
        return f" Did you mean '{form.format(close[0])}'?"
    home = [table for table, keys in KNOWN_KEYS.items() if word in keys]
    return f" '{word}' belongs in the [{home[0]}] table." if home else ""


def _imap(t: _Table, environ: Mapping[str, str], need_secrets: bool) -> ImapSettings:
    security, auth, folder = t["security"], t["auth"], t["folder"] or default("imap.folder")
    oauth2 = _oauth2(t, environ, need_secrets and auth == "oauth2")
    if not t["username"].isascii():
        raise t._fail("username", "has non-ASCII characters, which IMAP LOGIN cannot carry")
    return ImapSettings(
        host=t["host"],
        port=t["port"] if "port" in t.data or security == "ssl" else IMAP_PORT,
        security=security,
        username=t["username"],
        password=t.secret("password", environ, needed=need_secrets and auth == "password"),
        ca_file=t.ca_file(),
        folder=folder,
        processed_folder=_other_folder(t, "processed_folder", folder),
        review_folder=_other_folder(t, "review_folder", folder),
        ignored_folder=_other_folder(t, "ignored_folder", folder),
        batch_size=t["batch_size"],
        max_message_bytes=t["max_message_bytes"],
        timeout_seconds=float(t["timeout_seconds"]),
        reconnect_attempts=t["reconnect_attempts"],
        first_pass=FirstPass(*t["since"], unseen_only=t["skip_seen"]),
        idle=t["idle"],
        idle_seconds=t["idle_seconds"],
        auth=auth,
        oauth2=oauth2,
    )


def _oauth2(t: _Table, environ: Mapping[str, str], needed: bool) -> OAuth2Settings | None:
    """The OAuth2 settings, required, and the secrets read, only when `needed`."""
    has_secret = (OAUTH2_CLIENT_SECRET_ENV in environ or bool(t["oauth2_client_secret_file"])
                  or bool(t["oauth2_client_secret"]))
    secret = t.secret("oauth2_client_secret", environ,
                      needed=needed and has_secret)  # a public client (Microsoft's device flow) has none
    refresh = t.secret("oauth2_refresh_token", environ, needed=needed)
    if not needed:
        return None
    for key in ("oauth2_token_url", "oauth2_client_id"):
        if not t[key].strip():
            raise t._fail(key, 'is required with auth = "oauth2"')
    origin = (OAUTH2_REFRESH_TOKEN_ENV if OAUTH2_REFRESH_TOKEN_ENV in environ else
              "imap.oauth2_refresh_token_file" if t["oauth2_refresh_token_file"] else
              "imap.oauth2_refresh_token")
    return OAuth2Settings(token_url=_token_url(t, t["oauth2_token_url"].strip()),
                          client_id=t["oauth2_client_id"].strip(), client_secret=secret, refresh_token=refresh,
                          scope=" ".join(t["oauth2_scope"].split()), refresh_token_key=origin)


def _token_url(t: _Table, url: str) -> str:
    """An https URL (http only to this machine, for a local test endpoint)."""
    example = "such as https://oauth2.googleapis.com/token"
    try:
        parts = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        raise t._fail("oauth2_token_url", f"is not a valid URL ({exc}): give one {example}") from exc
    local = parts.scheme == "http" and parts.host in LOOPBACK_HOSTS
    if parts.scheme != "https" and not local:
        raise t._fail("oauth2_token_url", f"must start with https:// (the refresh token travels in it), "
                                          f"{example}, not {url!r}")
    if not parts.host:
        raise t._fail("oauth2_token_url", f"has no host name: give a URL {example}")
    return url


def same_folder(a: str, b: str) -> bool:
    """Whether two IMAP folder names are one folder: INBOX is case-insensitive (RFC 3501 5.1)."""
    return a == b or a.upper() == b.upper() == "INBOX"


def _other_folder(t: _Table, key: str, folder: str) -> str:
    """A folder mail is moved to: empty, or another folder than the watched one."""
    value = t[key]
    if value and same_folder(value, folder):
        raise t._fail(key, f"is the watched folder ({folder!r}; INBOX in any case is INBOX): moving mail "
                           "into the folder it came from never ends; leave it empty to keep the mail where it is")
    return value


def _ats(t: _Table, environ: Mapping[str, str], need_secrets: bool) -> AtsSettings:
    return AtsSettings(
        base_url=_base_url(t),
        token=t.secret("token", environ, needed=need_secrets),
        source=t["source"].strip() or default("ats.source"),
        ca_file=t.ca_file(),
        timeout_seconds=float(t["timeout_seconds"]),
        max_attempts=t["max_attempts"],
        retry_attempts=t["retry_attempts"],
        concurrency=t["concurrency"],
    )


def _base_url(t: _Table) -> str:
    """An http(s) URL with a host, a valid port, no spaces, no credentials, query or fragment."""
    base_url = t["base_url"].rstrip("/")
    example = "such as https://acme.skailer.com (or http://127.0.0.1:8025 for the local sandbox)"
    if not base_url.startswith(("https://", "http://")):
        raise t._fail("base_url", f"must start with https:// (or http:// for a local sandbox), not {base_url!r}")
    if not base_url.isprintable() or any(c.isspace() for c in base_url):
        raise t._fail("base_url", f"has a space or control character: give a URL {example}")
    parts = urlsplit(base_url)
    problem = ("has no host name" if not parts.hostname else
               "carries a user name or password: give the token in ats.token_file" if "@" in parts.netloc else
               "has a query or fragment (?, #): give only the address" if parts.query or parts.fragment else "")
    if problem:
        raise t._fail("base_url", f"{problem}; give a URL {example}, not {base_url!r}")
    try:
        port = parts.port
        httpx.URL(base_url)
    except (ValueError, httpx.InvalidURL) as exc:
        raise t._fail("base_url", f"is not a valid URL ({exc}): give one {example}") from exc
    if port == 0:
        raise t._fail("base_url", f"port 0 is not a port: give a URL {example}")
    return base_url


def _database_url(t: _Table) -> str:
    url = t["url"].strip()
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        url = prefix + str(t.resolve(url[len(prefix):]))  # relative to the config file
    example = "such as sqlite:///ats-inbox.db"
    if "://" not in url:
        raise t._fail("url", f"must be an SQLAlchemy URL {example}, not {url!r}")
    try:
        make_url(url).get_dialect().import_dbapi()
    except NoSuchModuleError as exc:  # before ArgumentError, its base
        raise t._fail("url", f"names a database SQLAlchemy does not know ({url.split(':', 1)[0]!r}): "
                             f"use one {example}") from exc
    except (ArgumentError, ValueError) as exc:  # ValueError: a port that is not a number
        raise t._fail("url", f"is not a valid SQLAlchemy URL: give one {example}") from exc
    except ImportError as exc:
        raise t._fail("url", f"needs the Python package {exc.name!r}, which is not installed: install it "
                             "into the daemon's environment, or use SQLite") from exc
    return url
