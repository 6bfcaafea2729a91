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

CONFIG_ENV = "ATS_INBOX_CONFIG"  # the configuration file, when --config is not given
IMAP_PASSWORD_ENV = "ATS_INBOX_IMAP_PASSWORD"  # noqa: S105 (a variable name, not a secret)
ATS_TOKEN_ENV = "ATS_INBOX_ATS_TOKEN"  # noqa: S105 (a variable name, not a secret)
OAUTH2_CLIENT_SECRET_ENV = "ATS_INBOX_IMAP_OAUTH2_CLIENT_SECRET"  # noqa: S105 (a variable name, not a secret)
OAUTH2_REFRESH_TOKEN_ENV = "ATS_INBOX_IMAP_OAUTH2_REFRESH_TOKEN"  # noqa: S105 (a variable name, not a secret)
MAX_IDLE_SECONDS = 25 * 60  # RFC 2177: re-issue IDLE before 29 minutes; keep a margin
SMTP_PASSWORD_ENV = "ATS_INBOX_SMTP_PASSWORD"  # noqa: S105 (a variable name, not a secret)
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

    _text("mailbox", "name", REQUIRED, "Several mailboxes: one `[[mailbox]]` table each (without any, `[imap]` is "
          "the one mailbox). Its name in `status`, `messages list`, the logs and the metrics' `mailbox` label: "
          "letters, digits, `.`, `_` or `-`, unique. Every key left out of a `[[mailbox]]` takes `[imap]`'s value "
          "(its `[ats] source`, its `[rules] path`): one account with several folders gives only `name` and "
          "`folder`; another account gives `host`, `username` and `password_file` too. Each mailbox has its own "
          "passes, backoff, IDLE connection, lease and health: one slow or unreachable mailbox never holds up "
          "the others. See docs/admin.md, \"Several mailboxes\"."),
    _text("mailbox", "host", "", "Its IMAP server; `[imap] host` when left out."),
    _int("mailbox", "port", 0, 0, 65535, "Its IMAP port ({range}); `0` or left out: `[imap]`'s (with its own `host` "
         "and no `port`: the port of `[imap] security`)."),
    _text("mailbox", "username", "", "Its login name; `[imap] username` when left out."),
    *_secret("mailbox", "password", "",
             "Its password inline; prefer `password_file`. Left out with `password_file`: `[imap]`'s password "
             "(or `ATS_INBOX_IMAP_PASSWORD`).",
             "A file holding its password. Either one given here wins over `[imap]`'s and over "
             "`ATS_INBOX_IMAP_PASSWORD`."),
    _text("mailbox", "folder", "", "The folder it watches; `[imap] folder` when left out. Two mailboxes may not "
          "watch one folder of one account."),
    _text("mailbox", "processed_folder", "", "As `[imap] processed_folder`, for this mailbox; `[imap]`'s when "
          "left out."),
    _text("mailbox", "review_folder", "", "As `[imap] review_folder`, for this mailbox; `[imap]`'s when left out."),
    _text("mailbox", "ignored_folder", "", "As `[imap] ignored_folder`, for this mailbox; `[imap]`'s when left "
          "out."),
    _text("mailbox", "source", "", "The ATS source its applicants and candidates get (as `[ats] source`); "
          "`[ats] source` when left out. An agency's or a rule's source still wins."),
    _text("mailbox", "rules", "", "Its folder of routing rule files (as `[rules] path`, relative to the "
          "configuration file); `[rules] path` when left out.", path=True),

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
    _int("database", "lease_seconds", 300, 5, 3600, "Seconds an instance holds a mailbox's lease without "
         "renewing it, and its heartbeat lasts ({range}): with several instances on one PostgreSQL, a mailbox of "
         "an instance that died is taken over by another within this time. The holder renews it after messages "
         "every tenth of it; see docs/admin.md, \"Several instances\"."),

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

    _text("web", "listen", "", "`\"HOST:PORT\"`: `ats-inbox run` also serves the review page there (`ats-inbox web` "
          "serves it alone, on `127.0.0.1:8080` when this is empty), such as `\"127.0.0.1:8080\"`. Empty: `run` "
          "serves no page."),
    Key("web", "auth", Kind.CHOICE, "accounts", '`"accounts"` (log in with a local account, `ats-inbox users '
        'add`), `"header"` (a reverse proxy that logged the person in names them in `trusted_header`; see '
        'docs/admin.md) or `"none"` (no login, everyone an admin: only with a loopback `listen`).',
        choices=("accounts", "header", "none")),
    _text("web", "trusted_header", "X-Remote-User", "With `auth = \"header\"`: the request header the proxy sets "
          "to the person's account name (the account must exist: it gives the role)."),
    _strings("web", "trusted_proxies", "With `auth = \"header\"`: the addresses the proxy connects from; the "
             "header of any other client is refused. Empty: loopback only."),
    _int("web", "session_minutes", 480, 5, 43_200, "A login lasts this long ({range}); then the person logs in "
         "again."),
    _bool("web", "secure_cookies", False, "Send the session cookie only over HTTPS (`Secure`): set it when the "
          "page is served through a TLS proxy."),

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
    _int("alerts", "oldest_waiting_hours", 48, 0, 100_000, "The `review_waiting` alert fires when the oldest "
         "set-aside or uncertain mail has waited longer than this many hours ({range}); `0`: never."),
    _int("alerts", "timeout_seconds", 10, 1, 300, "How long the command or the webhook may take ({range})."),

    _bool("replies", "receipts", False, "Mail a receipt to each internal sender (`intake.internal_senders`) and "
          "agency whose forward was submitted (\"X is now a candidate for Y\") or set aside (\"set aside: the "
          "reason; reply with the job code or title to place it, or 'ignore'\"). A reply to a receipt places or "
          "ignores the set-aside mail; it is never a candidate. Needs `host` and `from_address`. See "
          "docs/recruiters.md, \"Receipts\"."),
    _bool("replies", "acknowledgements", False, "Mail candidates who applied themselves that their application "
          "arrived, once the candidate exists in the ATS; at most once per address and job within "
          "`acknowledgement_days`, never to automatic, list or bounce mail, no-reply addresses, the daemon's own "
          "addresses, or senders whose `Authentication-Results` show no aligned pass. Needs `host` and "
          "`from_address`."),
    _text("replies", "host", "", "The SMTP relay replies are sent through (required when `receipts` or "
          "`acknowledgements` is on)."),
    _int("replies", "port", 587, 1, 65535, "The relay's port ({range}); 465 with `security = \"tls\"`."),
    Key("replies", "security", Kind.CHOICE, "starttls", '`"starttls"` (submission, then STARTTLS) or `"tls"` '
        "(TLS from the start); the relay's certificate is always checked.", choices=("starttls", "tls")),
    _text("replies", "username", "", "Login name at the relay; empty: no login."),
    *_secret("replies", "password", SMTP_PASSWORD_ENV,
             "The relay password inline. Prefer `password_file` or `ATS_INBOX_SMTP_PASSWORD`.",
             "A file holding the relay password (e.g. a systemd credential); needed with `username`."),
    _text("replies", "ca_file", "", "Extra CA bundle (PEM) to trust for the relay's certificate.", path=True),
    _int("replies", "timeout_seconds", 30, 1, 600, "How long the relay may take over one exchange ({range})."),
    _text("replies", "from_address", "", "The address replies come from, such as `jobs@acme.test` (the "
          "watched mailbox's address, so that a reply to a receipt comes back to it). Also one of the daemon's "
          "own addresses."),
    _text("replies", "from_name", "", "The display name of `from_address`, such as `Acme Recruiting`."),
    _text("replies", "company", "", "The company's name, `$company` in the templates."),
    _text("replies", "language", "en", "The templates' language when the mail answered names none we have "
          "(its `Content-Language`)."),
    _text("replies", "templates", "", "Folder of reply templates (`KIND.LANG.txt`, or `KIND.LANG.JOBCODE.txt` "
          "for one job): the first line `Subject: ...`, a blank line, the text; `$name`, `$job`, `$code`, "
          "`$company`, `$reason` are filled in. Empty: the built-in English ones. See docs/admin.md, "
          "\"Replies by mail\".", path=True),
    _text("replies", "token_key_file", "", "A file holding the key that signs receipts (at least 32 "
          "characters). Empty: a key generated once, owner-only, as `replies.key` beside the SQLite database.",
          path=True),
    _text("replies", "authserv_id", "", "The receiving server's name in `Authentication-Results` (RFC 8601): "
          "only its results count. Empty: the topmost such header."),
    _int("replies", "acknowledgement_days", 7, 1, 365, "At most one acknowledgement per address and job within "
         "this many days ({range})."),
    _int("replies", "max_per_hour", 100, 1, 100_000, "At most this many acknowledgements and answers in any "
         "hour, all senders together ({range}); receipts are not counted."),
)

TABLES: dict[str, tuple[Key, ...]] = {}
for _key in KEYS:
    TABLES.setdefault(_key.table, ())
    TABLES[_key.table] += (_key,)
del _key
DECLARED: dict[str, Key] = {key.qualified: key for key in KEYS}
LISTED_TABLES = ("mailbox",)  # [[mailbox]]: an array of tables, none or several
REQUIRED_TABLES = tuple(table for table, keys in TABLES.items()
                        if table not in LISTED_TABLES and any(k.default is REQUIRED for k in keys))
# The [imap] keys a [[mailbox]] may give for itself (all others are [imap]'s for every mailbox).
MAILBOX_IMAP_KEYS = ("host", "port", "username", "password", "password_file", "folder", "processed_folder",
                     "review_folder", "ignored_folder")


def default(qualified: str) -> Any:
    """The declared default of `table.key` (for the typed settings' own defaults)."""
    return DECLARED[qualified].default
