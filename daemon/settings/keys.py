"""Every key of the configuration file, declared once: its table, name, kind, default, bounds or
choices, one-line help, and whether it holds a secret or a path.

Read from here: the loader's types, bounds, choices and defaults (`daemon.config`), the set of
known tables and keys with its "did you mean" hints, the typed settings' defaults, and the
configuration reference, docs/configuration.md (`daemon.settings.reference`, written by
`tools/config_reference.py`). What no declaration can say (secrets from a variable or a file,
URL and address checks, one key checked against another) stays in the loader.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final

IMAP_PASSWORD_ENV = "ATS_INBOX_IMAP_PASSWORD"  # noqa: S105 (a variable name, not a secret)
ATS_TOKEN_ENV = "ATS_INBOX_ATS_TOKEN"  # noqa: S105 (a variable name, not a secret)
OAUTH2_CLIENT_SECRET_ENV = "ATS_INBOX_IMAP_OAUTH2_CLIENT_SECRET"  # noqa: S105 (a variable name, not a secret)
OAUTH2_REFRESH_TOKEN_ENV = "ATS_INBOX_IMAP_OAUTH2_REFRESH_TOKEN"  # noqa: S105 (a variable name, not a secret)
MAX_IDLE_SECONDS = 25 * 60  # RFC 2177: re-issue IDLE before 29 minutes; keep a margin
IMAPS_PORT, IMAP_PORT = 993, 143  # the port's default with security = "ssl", and otherwise


class Kind(StrEnum):
    """What a key's value is in the TOML file."""

    TEXT = "string"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    STRINGS = "list of strings"
    NAMES = "table of strings"  # { "key" = "value", ... }: read as (key, value) pairs
    CHOICE = "one of its choices"
    SINCE = "days, a date or \"all\""


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Final = _Required()  # the default of a key the file must give


@dataclass(frozen=True, slots=True)
class Key:
    """One key of one table. `help` may say `{range}`, which reads "1-3600" (or "at least 1024").

    A secret key may be given by the variable `env`, and by a file named in the key `<name>_file`;
    a path is relative to the configuration file's folder. `shown` follows the default in the
    reference (e.g. "(50 MiB)")."""

    table: str
    name: str
    kind: Kind
    default: Any
    help: str
    low: int | None = None
    high: int | None = None
    choices: tuple[str, ...] = ()
    secret: bool = False
    path: bool = False
    env: str = ""
    shown: str = ""

    @property
    def qualified(self) -> str:
        return f"{self.table}.{self.name}"

    @property
    def range(self) -> str:
        """The bounds in words: "1-3600", "at least 1024", or ""."""
        if self.low is None:
            return ""
        return f"{self.low}-{self.high}" if self.high is not None else f"at least {self.low}"


def _text(table: str, name: str, default: Any, help: str, **more: Any) -> Key:
    return Key(table, name, Kind.TEXT, default, help, **more)


def _int(table: str, name: str, default: int, low: int, high: int | None, help: str,
         **more: Any) -> Key:
    return Key(table, name, Kind.INTEGER, default, help, low=low, high=high, **more)


def _bool(table: str, name: str, default: bool, help: str) -> Key:
    return Key(table, name, Kind.BOOLEAN, default, help)


def _strings(table: str, name: str, help: str) -> Key:
    return Key(table, name, Kind.STRINGS, (), help)


def _names(table: str, name: str, help: str) -> Key:
    return Key(table, name, Kind.NAMES, MappingProxyType({}), help)


def _secret(table: str, name: str, env: str, help: str, file_help: str) -> tuple[Key, Key]:
    """A secret given inline (`name`), in a file (`name_file`), or by the variable `env`."""
    return (Key(table, name, Kind.TEXT, "", help, secret=True, env=env),
            Key(table, f"{name}_file", Kind.TEXT, "", file_help, secret=True, path=True))


KEYS: tuple[Key, ...] = (
    _text("imap", "host", REQUIRED, "IMAP server name."),
    _int("imap", "port", IMAPS_PORT, 1, 65535, "IMAP port ({range}).", shown=f"with `ssl`, else `{IMAP_PORT}`"),
    Key("imap", "security", Kind.CHOICE, "ssl",
        '`"ssl"` (IMAPS, TLS from the start), `"starttls"`, or `"none"` (plain text; only for a local test server).',
        choices=("ssl", "starttls", "none")),
    _text("imap", "username", REQUIRED, "Login name."),
    *_secret("imap", "password", IMAP_PASSWORD_ENV,
             "The password inline. Prefer `password_file` or `ATS_INBOX_IMAP_PASSWORD`.",
             "A file holding the password (e.g. a systemd credential). One of `password_file`, `password` or "
             "`ATS_INBOX_IMAP_PASSWORD` is required."),
    _text("imap", "ca_file", "", "Extra CA bundle (PEM) to trust for the server certificate, added to the system's "
          "CAs. Must be a readable PEM file.", path=True),
    _text("imap", "folder", "INBOX", "The one folder that is watched."),
    _text("imap", "processed_folder", "", "Move mail here once it is in the ATS (created if missing). Empty: leave "
          "it in `folder`. Must not be `folder` itself (`INBOX` in any letter case is `INBOX`)."),
    _text("imap", "review_folder", "", "Move set-aside mail here (created if missing). Empty: leave it in "
          "`folder`. Must not be `folder` itself."),
    _text("imap", "ignored_folder", "", "Move ignored mail here (a rule's `action = \"ignore\"`; created if "
          "missing). Empty: leave it in `folder`, marked `\\Seen`. Must not be `folder` itself."),
    Key("imap", "since", Kind.SINCE, 30, "The first pass over a folder takes only mail that arrived in the last "
        "this many days ({range}; by the server's INTERNALDATE), or since a date (`\"2026-11-01\"`), or `\"all\"`. "
        "Older mail is left untouched and counted; `ats-inbox status` says how much, and "
        "`ats-inbox backfill --since DATE` takes it in later.", low=0, high=100_000),
    _bool("imap", "skip_seen", True, "The first pass also leaves out mail already read (someone dealt with it "
          "by hand)."),
    _int("imap", "batch_size", 50, 1, 1000, "Messages taken per batch ({range}): their sizes are read in one "
         "request, then their bodies are fetched together, at most 4 MiB per request."),
    _int("imap", "max_message_bytes", 50 * 1024 * 1024, 1024, None, "Larger mail is not downloaded; it is set "
         "aside ({range} bytes).", shown="(50 MiB)"),
    _int("imap", "timeout_seconds", 60, 1, 3600, "How long the IMAP server may take over one operation, its "
         "whole answer included ({range}): each read, and each search or FETCH from start to end (a FETCH of "
         "bodies gets a second more per 64 KiB of mail, a mailbox action three times as long); the connection "
         "is then dropped and tried again, and a stop (SIGTERM) cuts a waiting operation off within seconds."),
    _int("imap", "reconnect_attempts", 5, 0, 100, "Reconnects, with backoff, when the connection drops during a "
         "pass ({range})."),
    _bool("imap", "idle", True, "`ats-inbox run` also keeps a second connection in IMAP IDLE on `folder` (when "
          "the server offers IDLE) and starts a pass as soon as the server says new mail arrived, so a new "
          "application reaches the ATS in about a second. The scheduled passes (`schedule.interval_seconds`) go "
          "on as the safety net; `false`, or a server without IDLE, leaves only them."),
    _int("imap", "idle_seconds", 600, 10, MAX_IDLE_SECONDS, "IDLE is ended, the connection checked with NOOP, and "
         "IDLE issued again this often ({range}; RFC 2177 asks for less than 29 minutes). A lower value finds a "
         "connection a firewall silently dropped sooner."),
    Key("imap", "auth", Kind.CHOICE, "password", '`"password"` (IMAP LOGIN with `password`) or `"oauth2"` '
        "(XOAUTH2 with an access token from `oauth2_token_url`, for Gmail and Microsoft 365; see docs/admin.md, "
        '"Gmail and Microsoft 365 (OAuth2)").', choices=("password", "oauth2")),
    _text("imap", "oauth2_token_url", "", "The provider's token endpoint; required with `auth = \"oauth2\"`. "
          "`https://` (`http://` only to this machine)."),
    _text("imap", "oauth2_client_id", "", "The OAuth2 client (application) id; required with "
          "`auth = \"oauth2\"`."),
    *_secret("imap", "oauth2_client_secret", OAUTH2_CLIENT_SECRET_ENV,
             "The client secret inline. Prefer `oauth2_client_secret_file` or `ATS_INBOX_IMAP_OAUTH2_CLIENT_SECRET`.",
             "A file holding the client secret. None of the three: a public client (no secret is sent)."),
    *_secret("imap", "oauth2_refresh_token", OAUTH2_REFRESH_TOKEN_ENV,
             "The refresh token inline. Prefer `oauth2_refresh_token_file` or "
             "`ATS_INBOX_IMAP_OAUTH2_REFRESH_TOKEN`.",
             "A file holding the refresh token. One of `oauth2_refresh_token_file`, `oauth2_refresh_token` or "
             "`ATS_INBOX_IMAP_OAUTH2_REFRESH_TOKEN` is required with `auth = \"oauth2\"`."),
    _text("imap", "oauth2_scope", "", "The scope asked for when refreshing (space-separated); Microsoft 365 needs "
          "it, Gmail takes the scope the refresh token was granted with."),

    _text("ats", "base_url", REQUIRED, "The ATS, e.g. `https://acme.skailer.com`. `http://` is accepted for the "
          "local sandbox (`http://127.0.0.1:8025`). A host is required; no spaces, user name, query or fragment."),
    *_secret("ats", "token", ATS_TOKEN_ENV, "The API token inline. Prefer `token_file` or `ATS_INBOX_ATS_TOKEN`.",
             "A file holding the token. One of `token_file`, `token` or `ATS_INBOX_ATS_TOKEN` is required."),
    _text("ats", "source", "Email", "Name of the ATS source given to applicants and candidates, looked up in "
          "`/api/v1/sources/all`; a name the ATS does not have stops the pass with a configuration error."),
    _text("ats", "ca_file", "", "Extra CA bundle (PEM) to trust for the ATS's certificate. Must be a readable PEM "
          "file.", path=True),
    _int("ats", "timeout_seconds", 30, 1, 600, "Deadline of each HTTP request to the ATS, for the whole exchange, "
         "however slowly the answer comes ({range})."),
    _int("ats", "max_attempts", 5, 1, 1000, "Passes in which one message may fail transiently before it is set "
         "aside with the last error ({range})."),
    _int("ats", "retry_attempts", 5, 1, 10, "How often one ATS call is tried within a pass (with backoff, "
         "honouring `Retry-After`) before the message waits for a later pass ({range}). Only calls that cannot "
         "duplicate anything are tried again."),
    _int("ats", "concurrency", 4, 1, 32, "Messages whose ATS steps run at once ({range}; 1: one message at a "
         "time). Each message's steps stay in order and journalled; two mails from one sender are never in flight "
         "together; fetching, recording and mailbox actions stay one at a time, in UID order."),

    _text("database", "url", "sqlite:///ats-inbox.db", "SQLAlchemy URL of the state database. A relative SQLite "
          "path is relative to the configuration file; `sqlite:////var/lib/ats-inbox/ats-inbox.db` (four slashes) "
          "is absolute. The folder must exist; the file is created (readable by its owner only) and migrated on "
          "first use. SQLite runs in WAL mode with a busy timeout. Several instances share one PostgreSQL: "
          "`postgresql+psycopg://ats@db.example.org/ats_inbox`, with `pip install 'ats-inbox[postgresql]'` (a "
          "password is best left to `~/.pgpass` or `PGPASSWORD`; see docs/admin.md, \"Several instances\"); "
          "the same migrations run there. Another database needs its driver installed; this is checked at start-up."),
    _int("database", "retention_days", 180, 1, 36500, "Days after which the personal data of a settled message "
         "(every status but `pending`) is removed from its record: sender name and address, subject, date, "
         "attachment names, the forwarder, the note, and those values wherever a reason, error or journal entry "
         "quotes them ({range}). Ids, hashes, sizes, outcomes, the job and the journal of ATS ids stay. See "
         "docs/operations.md, \"Personal data\"."),

    _text("rules", "path", "rules", "Folder of routing rule files (`*.toml`, read in file-name order; "
          "`rules/README.md` documents every key). An empty or missing folder routes by job code, then job title, "
          "in the subject. Invalid files keep the last good rule set in force (also across a restart; health is "
          "degraded meanwhile); only a first start with invalid rules is refused (exit 2). `run` reloads the folder "
          "when it changes or on SIGHUP.", path=True),

    _int("schedule", "interval_seconds", 60, 1, 86400, "`ats-inbox run` starts a pass this often ({range}); a pass "
         "still running delays the next."),

    _strings("intake", "internal_senders", "Domains (`\"acme.test\"`, subdomains included) and addresses of people "
             "who never apply themselves, such as recruiters forwarding CVs: a mail from them is an application of "
             "the person inside it (a forwarded header or an attached message), never of the sender; with no "
             "candidate to be found in it (nor in the ATS's reading of the CV), it is set aside. A list of strings."),
    _names("intake", "agencies", "Recruiting agencies, each domain (subdomains included) or address with the ATS "
           "source to record its candidates under, such as `{ \"talentbridge.example\" = \"TalentBridge\" }`. A "
           "mail from an agency is never its recruiter's application: the candidate is the person inside it (a "
           "forwarded header or an attached message), else the person the ATS reads in the CV; with no name and "
           "address for them, it is set aside. It is submitted with the agency's source (a rule's `source` wins) "
           "and the comment names the agency. A source the ATS lacks is a problem for `check` and `rules check`, "
           "and sets the agency's mail aside. See \"Agencies\" below."),
    _strings("intake", "own_addresses", "The daemon's own addresses (besides `imap.username`): mail from them is "
             "ignored. A list of strings."),
    _int("intake", "max_per_sender_per_hour", 20, 0, 100_000, "More mails than this from one sender within an hour: "
         "those with a resume are set aside for a person (a forged sender cannot bury a real application), "
         "the others ignored (a loop or a flood), with the reason recorded ({range}); `0` turns the cap off."),

    _int("resumes", "max_bytes", 20 * 1024 * 1024, 1024, None, "A larger attachment is not uploaded ({range} bytes).",
         shown="(20 MiB)"),
    _int("resumes", "max_count", 5, 1, 50, "At most this many resumes per mail ({range}); identical files count "
         "once."),

    _int("comment", "cover_letter_chars", 1500, 0, 5000, "At most this many characters of the mail's text (the "
         "cover letter: quoted replies and signature trimmed) are quoted in the comment on the candidate "
         "({range}; 0: none)."),

    _int("health", "no_success_minutes", 15, 1, 100_000, "No successful pass for this many minutes ({range}; but at "
         "least three `interval_seconds`) is unhealthy: `/healthz` answers 503, `ats-inbox status` exits 1, and "
         "the `no_success` alert fires. A pass succeeded when it went through the folder (outcome ok or "
         "deferred; \"ats down\" and \"failed\" are not). The last pass having failed (the mailbox unreachable or "
         "refusing the login, a bug) is unhealthy at once."),

    _text("metrics", "listen", "", "`\"HOST:PORT\"` (an IPv6 host in brackets, `\"[::1]:9464\"`): `ats-inbox run` "
          "serves Prometheus metrics on `/metrics` and the health checks on `/healthz` and `/livez` there, such as "
          "`\"127.0.0.1:9464\"`. Empty: no listener."),
    _bool("metrics", "allow_remote", False, "`listen` must be a loopback address (the pages have no password, and "
          "`/healthz` names what failed) unless this is `true`."),

    _strings("alerts", "command", "A program and its arguments, such as `[\"/usr/local/bin/page-oncall\", "
             "\"--team\", \"hr\"]`, run without a shell for each alert with the alert's state (`firing`, "
             "`cleared`), kind and summary appended, and `ATS_INBOX_ALERT_STATE`, `_KIND`, `_SUMMARY`, `_SINCE` in "
             "its environment (never the secrets). A list of strings."),
    _text("alerts", "webhook_url", "", "An `https://` URL (http only to 127.0.0.1) each alert is POSTed to as "
          "JSON: `{\"service\", \"host\", \"kind\", \"state\", \"summary\", \"since\"}`; any 2xx is taken.",
          secret=True),
    _text("alerts", "webhook_url_file", "", "A file holding `webhook_url` (a webhook URL often carries a token: "
          "keep it with the credentials).", secret=True, path=True),
    _int("alerts", "review_queue_above", 25, 0, 10_000_000, "The `review_queue` alert fires when more messages "
         "than this wait for a person (review, uncertain; {range}); `0`: never."),
    _int("alerts", "login_failures", 3, 0, 10_000, "The `mailbox` alert fires when this many passes in a row "
         "could not reach the mailbox or log in ({range}); `0`: never."),
    _int("alerts", "timeout_seconds", 10, 1, 300, "How long the command or the webhook may take ({range})."),
)

TABLES: dict[str, tuple[Key, ...]] = {}
for _key in KEYS:
    TABLES.setdefault(_key.table, ())
    TABLES[_key.table] += (_key,)
del _key
DECLARED: dict[str, Key] = {key.qualified: key for key in KEYS}
REQUIRED_TABLES = tuple(table for table, keys in TABLES.items() if any(k.default is REQUIRED for k in keys))


def default(qualified: str) -> Any:
    """The declared default of `table.key` (for the typed settings' own defaults)."""
    return DECLARED[qualified].default
