"""The IMAP mailbox (imapclient): one watched folder of one account.

Errors. Losing the connection (imaplib's abort, OSError with socket timeouts and TLS errors,
EOF) is MailboxUnavailable: try again later. A NO or BAD answer to an action on one message
(STORE, COPY, MOVE, EXPUNGE, CREATE) is MailboxActionRefused with the server's own words:
about that message, not the mailbox. imaplib's `abort` is a subclass of its `error`
(imapclient's IMAPClientAbortError / IMAPClientError), so abort is tested first.

Folders, checked by `open()` against NAMESPACE and the hierarchy separator (LIST "" ""):
- INBOX is case-insensitive: "inbox" is INBOX; a target that is the watched folder means
  "leave the mail where it is".
- A "/" in a name on a server whose separator is not "/" is refused (ConfigError naming the
  key, with the name spelled with the server's separator).
- On a server whose personal namespace has a prefix (Courier-IMAP: "INBOX."), a name outside
  every namespace is refused at start-up, suggesting the prefixed name. It is not placed
  there silently: the configured name stays the name the mail admin sees in every other
  client, in the logs and in the records, and `messages retry` looks in the same place.
- The watched folder is never created: missing (renamed or deleted away) or not selectable, it
  is a ConfigError naming imap.folder, checked before any target folder is created (a target
  inside it would bring it back as an empty parent).
- A missing target folder is created once, at start-up; a refused CREATE is a ConfigError.
  After an action is refused (a folder deleted meanwhile: NO [TRYCREATE]) the folder is
  checked again, and created again, on the next action.

Moving (`relocate`). With MOVE (RFC 6851): UID MOVE. Without it: COPY, STORE \\Deleted, then
UID EXPUNGE of that one UID when the server has UIDPLUS (RFC 4315); without UIDPLUS the
original is left \\Deleted (a plain EXPUNGE would also remove other clients' deleted mail)
and the log says so. The COPY is skipped when the target already holds the message (same
RFC822.SIZE, not \\Deleted, same SHA-256 of its bytes), so a repeat after a cut between COPY
and EXPUNGE never leaves two copies. The copy is looked for by its Message-ID (any age) or among
the target's newest messages, by the RFC822.SIZE each of them is fetched with, and by SEARCH
LARGER/SMALLER: Courier-IMAP's search counts sizes otherwise than its RFC822.SIZE. The new UID
comes from COPYUID, when the server sends it.

Logging in (`log_in`): IMAP LOGIN with the password, or with `auth = "oauth2"` AUTHENTICATE
XOAUTH2 with an access token from daemon.mailbox.oauth2; a refused token is refreshed and tried once
more before the login counts as refused.

Listening (`IdleConnection`): a connection of its own, in IDLE (RFC 2177) on the watched
folder, that only says whether the server announced new mail; the IDLE watcher
(daemon/ops/idle.py) drives it.
"""

from __future__ import annotations

import hashlib
import logging
import re
import selectors
import ssl
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from functools import partial

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, IMAPClientReadOnlyError, LoginError

from daemon.config import ImapSettings
from daemon.domain import Placement
from daemon.errors import ConfigError, MailboxActionRefused, MailboxUnavailable
from daemon.mail.spool import SPOOL_OVER_BYTES, Spooler
from daemon.mailbox import oauth2
from daemon.mailbox.base import DONE_KEYWORD, REVIEW_KEYWORD, Fetched, FolderInfo, MessageFacts
from daemon.mailbox.deadline import Watchdog

log = logging.getLogger(__name__)
SEEN = b"\\Seen"
FLAGGED = b"\\Flagged"
DELETED = b"\\Deleted"
OUR_KEYWORDS = (DONE_KEYWORD, REVIEW_KEYWORD)
SCAN_LIMIT = 500  # newest same-size messages of a folder compared by hash when looking for a copy
FETCH_BYTES = 8 * 1024 * 1024  # bodies fetched per FETCH while comparing hashes
BYTES_PER_SECOND = 64 * 1024  # a body FETCH's deadline grows a second per this many bytes asked for
ACTION_EXCHANGES = 3  # a mailbox action's deadline, in `timeout_seconds` (flags, the copy check, the move)
LEFT_OUT = "the IMAP server left it out of its answer to FETCH"
PARTIAL_BYTES = 1024 * 1024  # a spooled mail is fetched this much at a time (BODY.PEEK[]<offset.length>)
_COPYUID = re.compile(rb"\[COPYUID \d+ [\d:,]+ ([\d:,]+)\]", re.IGNORECASE)
_BAD = re.compile(r"command error: BAD \[b?(['\"])(.*)\1\]$", re.DOTALL)


def tls_context(ca_file: str) -> ssl.SSLContext:
    """Certificate and host name checks on; `ca_file` adds to the system's trusted CAs."""
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


def server_words(exc: BaseException) -> str:
    """The server's own text in an imapclient/imaplib NO or BAD error."""
    text = str(exc)
    bad = _BAD.search(text)
    if bad:
        return bad.group(2)
    return text.split(" failed: ", 1)[-1]


@contextmanager
def reading(action: str) -> Iterator[None]:
    """Connecting and reading: every failure means the mailbox cannot be used now."""
    try:
        yield
    except LoginError as exc:
        raise MailboxUnavailable(f"IMAP login refused while {action}: check imap.username and the password") from exc
    except ssl.SSLCertVerificationError as exc:
        raise MailboxUnavailable(
            f"the IMAP server's certificate is not trusted ({exc.verify_message}); "
            "set imap.ca_file to its CA bundle") from exc
    except (IMAPClientError, OSError, EOFError) as exc:  # OSError covers socket and ssl errors
        raise MailboxUnavailable(f"IMAP error while {action}: {type(exc).__name__}: {exc}") from exc


@contextmanager
def acting(action: str) -> Iterator[None]:
    """Acting on one message: NO/BAD is MailboxActionRefused, a lost connection MailboxUnavailable."""
    try:
        yield
    except IMAPClientReadOnlyError as exc:  # a subclass of abort, but about the folder's rights
        raise MailboxActionRefused(f"the IMAP server refused {action}: the folder is read-only",
                                   server_text=str(exc)) from exc
    except IMAPClientAbortError as exc:  # before IMAPClientError: abort is a subclass of it
        raise MailboxUnavailable(f"IMAP connection lost while {action}: {exc}") from exc
    except (OSError, EOFError) as exc:
        raise MailboxUnavailable(f"IMAP connection lost while {action}: {type(exc).__name__}: {exc}") from exc
    except IMAPClientError as exc:
        words = server_words(exc)
        raise MailboxActionRefused(f"the IMAP server refused {action}: {words}", server_text=words) from exc


def connect(settings: ImapSettings) -> IMAPClient:
    """A connection to the server (TLS as configured; `timeout_seconds` on every read), not logged in."""
    s = settings
    context = tls_context(s.ca_file)
    client = IMAPClient(s.host, port=s.port, ssl=s.security == "ssl",
                        ssl_context=context if s.security == "ssl" else None,
                        timeout=s.timeout_seconds)
    # imapclient sets imaplib's debug level to 5, at which imaplib formats every answer, each mail's bytes
    # included, for its debug logger: personal data in the logs at DEBUG, and a repr of each mail (about
    # 3 ms a 300 KB mail) even when the logger drops it. At 4 it logs the commands and the answers' lines,
    # never a literal (a mail's bytes).
    client._imap.debug = 4
    if s.security == "starttls":
        try:
            client.starttls(context)
        except BaseException:
            _drop(client)  # a failed STARTTLS must not leak its socket
            raise
    return client


def access_tokens(settings: ImapSettings) -> oauth2.AccessTokens | None:
    """The process's access tokens for this account when it logs in with OAuth2, else None."""
    if settings.auth != "oauth2" or settings.oauth2 is None:
        return None
    return oauth2.tokens_for(settings.oauth2)


def log_in(client: IMAPClient, settings: ImapSettings, tokens: oauth2.AccessTokens | None) -> None:
    """LOGIN with the password, or AUTHENTICATE XOAUTH2 (tried again once with a fresh token if refused).

    Raises LoginError for a refused password; MailboxUnavailable for a refused token (the
    token endpoint's own errors come from daemon.mailbox.oauth2: ConfigError or MailboxUnavailable).
    """
    if tokens is None:
        client.login(settings.username, settings.password)
        return
    try:
        client.oauth2_login(settings.username, tokens.token())
        return
    except LoginError:
        log.info("imap.xoauth2_refused", extra={"then": "refreshing the access token and trying once more"})
    try:
        client.oauth2_login(settings.username, tokens.refreshed())
    except LoginError as exc:
        raise MailboxUnavailable(
            "IMAP XOAUTH2 login refused with a fresh access token: check imap.username (the mailbox the "
            "token was granted for), imap.oauth2_scope, and that IMAP access is enabled for the account") from exc


def _drop(client: IMAPClient) -> None:
    """Close the socket without a LOGOUT (the session may not be usable); never raises."""
    try:
        client.shutdown()
    except (IMAPClientError, OSError, EOFError):
        log.debug("imap.shutdown_failed")


# -- folders --------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Layout:
    """How the server names folders: its hierarchy separator and namespace prefixes."""

    separator: str
    personal: tuple[str, ...]  # personal namespace prefixes, e.g. ("",) or ("INBOX.",)
    others: tuple[str, ...] = ()  # other users' and shared prefixes

    @classmethod
    def read(cls, client: IMAPClient) -> Layout:
        """NAMESPACE (RFC 2342) when offered, and the separator from LIST "" ""."""
        listed = client.list_folders("", "")
        separator = listed[0][1] if listed and listed[0][1] else b"/"
        sep = separator.decode() if isinstance(separator, bytes) else separator
        if not client.has_capability("NAMESPACE"):
            return cls(sep, ("",))
        personal, other, shared = client.namespace()
        return cls(sep, tuple(p for p, _s in personal or ()) or ("",),
                   tuple(p for p, _s in (other or ()) + (shared or ()) if p))


def canonical(name: str) -> str:
    """INBOX in any case is INBOX (RFC 3501 5.1); other names are kept as they are."""
    return "INBOX" if name.upper() == "INBOX" else name


def check_folder_name(name: str, key: str, layout: Layout) -> str:
    """The folder name to use for configuration key `key`, or ConfigError saying how to spell it."""
    name = canonical(name)
    if name == "INBOX":
        return name
    sep, problems = layout.separator, []
    spelled = name
    if "/" in name and sep != "/":
        problems.append(f"it uses '/' but this IMAP server separates folders with {sep!r}")
        spelled = name.replace("/", sep)
    prefixes = layout.personal + layout.others
    if not any(spelled.upper().startswith(p.upper()) for p in prefixes):
        problems.append(f"it is outside this IMAP server's personal namespace {layout.personal[0]!r}")
        spelled = layout.personal[0] + spelled
    if problems:
        raise ConfigError(f"folder {name!r} cannot be used: {'; '.join(problems)}: write {spelled!r}", key=key)
    return name


# -- moving ---------------------------------------------------------------------------------

def _uid_set(text: bytes) -> int | None:
    """The one UID of a COPYUID destination set, or None when it is not a single UID."""
    return int(text) if text.isdigit() else None


def copyuid(client: IMAPClient, tagged: Sequence[bytes | None]) -> int | None:
    """The destination UID from COPYUID: in the tagged OK (COPY), or untagged (MOVE, RFC 6851)."""
    untagged = client._imap.untagged_responses.pop("COPYUID", [])
    for text in [t for t in tagged if t]:
        found = _COPYUID.search(text)
        if found:
            return _uid_set(found.group(1))
    return _uid_set(untagged[-1].split()[-1]) if untagged else None


def uid_copy_or_move(client: IMAPClient, command: str, uid: int, folder: str) -> int | None:
    """UID COPY or UID MOVE of one message; its UID in `folder` when the server says (COPYUID).

    imapclient's copy() and move() drop the tagged response that carries COPYUID (its issue
    #365), so the command is sent through imaplib directly.
    """
    imap = client._imap
    imap.untagged_responses.pop("COPYUID", None)  # nothing stale from an earlier command
    typ, data = imap._simple_command("UID", command, str(uid), client._normalise_folder(folder))
    if typ != "OK":
        text = b" ".join(d for d in data if d).decode("utf-8", "replace")
        raise IMAPClientError(f"{command.lower()} failed: {text}")
    return copyuid(client, data)


def same_size(client: IMAPClient, size: int, criteria: Sequence[str] = (), charset: str | None = None,
              *, undeleted: bool = True) -> list[int]:
    """UIDs of the selected folder's messages matching `criteria` whose RFC822.SIZE is `size` (not
    \\Deleted), newest first: those SEARCH LARGER/SMALLER finds, and those of the newest matching
    ones whose RFC822.SIZE, fetched, is `size` (Courier-IMAP's search counts sizes otherwise than its
    RFC822.SIZE, and finds nothing)."""
    wanted = [*criteria, *(["UNDELETED"] if undeleted else [])]
    by_search = client.search([*wanted, "LARGER", str(size - 1), "SMALLER", str(size + 1)], charset=charset)
    newest = sorted(client.search(wanted or ["ALL"], charset=charset), reverse=True)[:SCAN_LIMIT]
    sizes = client.fetch(newest, ["RFC822.SIZE"]) if newest else {}
    by_size = [uid for uid in newest if int(sizes.get(uid, {}).get(b"RFC822.SIZE", -1)) == size]
    return sorted(set(by_search) | set(by_size), reverse=True)[:SCAN_LIMIT]


def hashes(client: IMAPClient, uids: Sequence[int], size: int) -> Iterator[tuple[int, str]]:
    """(UID, SHA-256 of the raw bytes) of each of `uids` (all about `size` bytes), a bounded batch at a time."""
    per_batch = max(1, FETCH_BYTES // max(size, 1))
    for start in range(0, len(uids), per_batch):
        batch = list(uids[start:start + per_batch])
        data = client.fetch(batch, ["BODY.PEEK[]"])  # PEEK: do not set \Seen
        for uid in batch:
            raw = data.get(uid, {}).get(b"BODY[]")
            if raw is not None:
                yield uid, hashlib.sha256(raw).hexdigest()


def first_with_hash(client: IMAPClient, uids: Sequence[int], size: int, sha256: str) -> int | None:
    """The first of `uids` whose bytes hash to `sha256`."""
    return next((uid for uid, digest in hashes(client, uids, size) if digest == sha256), None)


_MESSAGE_ID_FIELD = "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"
_MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)


def _message_id_criteria(item: dict[bytes, object]) -> tuple[list[str], str | None]:
    """SEARCH criteria for the Message-ID in a FETCH of `_MESSAGE_ID_FIELD` (none without one), and the charset."""
    header = next((v for k, v in item.items() if k.startswith(b"BODY[HEADER.FIELDS")), b"")
    found = _MESSAGE_ID.search(header) if isinstance(header, bytes) else None
    if found is None:
        return [], None
    return by_message_id(found.group(1).decode("utf-8", "replace"))


def by_message_id(message_id: str) -> tuple[list[str], str | None]:
    """SEARCH criteria for mail with this Message-ID, and the charset they need (UTF-8 when not ASCII)."""
    return ["HEADER", "Message-ID", message_id], None if message_id.isascii() else "UTF-8"


class Relocation:
    """Moves one message of the selected folder `source` to `target`; safe to repeat after a cut."""

    def __init__(self, client: IMAPClient, source: str, uidvalidity: int, *, can_move: bool, uidplus: bool):
        self.client, self.source, self.uidvalidity = client, source, uidvalidity
        self.can_move, self.uidplus = can_move, uidplus

    def __call__(self, uid: int, target: str) -> Placement:
        if self.can_move:
            return Placement(target, uid_copy_or_move(self.client, "MOVE", uid, target))
        copied = self.copy_in_target(uid, target)
        if copied is None:
            copied = uid_copy_or_move(self.client, "COPY", uid, target)
        else:
            log.info("imap.copy_already_there", extra={"uid": uid, "folder": target, "copy_uid": copied})
        self.client.add_flags([uid], [DELETED], silent=True)
        if self.uidplus:
            self.client.uid_expunge([uid])
        else:
            log.warning("imap.left_deleted", extra={"uid": uid, "folder": self.source,
                                                    "why": "no UIDPLUS: EXPUNGE would remove others' deleted mail"})
        return Placement(target, copied)

    def copy_in_target(self, uid: int, target: str) -> int | None:
        """The UID in `target` of a copy of `uid` made before (same size and SHA-256), else None;
        looked for by its Message-ID when it has one, else among the newest messages there."""
        sizes = self.client.fetch([uid], ["RFC822.SIZE", _MESSAGE_ID_FIELD])
        if uid not in sizes:
            return None  # gone from the source: a repeat after the EXPUNGE; COPY finds nothing
        size = int(sizes[uid][b"RFC822.SIZE"])
        criteria, charset = _message_id_criteria(sizes[uid])
        self.client.select_folder(target, readonly=True)
        try:
            theirs = dict(hashes(self.client, same_size(self.client, size, criteria, charset), size))
        finally:
            reselected = self.client.select_folder(self.source)
        if int(reselected[b"UIDVALIDITY"]) != self.uidvalidity:  # our UIDs no longer mean anything
            raise MailboxUnavailable(f"the UIDVALIDITY of {self.source!r} changed during a mailbox action")
        if not theirs:
            return None
        mine = dict(hashes(self.client, [uid], size)).get(uid)
        return next((other for other, digest in theirs.items() if digest == mine), None)


# -- the mailbox ----------------------------------------------------------------------------

class FolderProblems(ConfigError):
    """More than one configured folder cannot be used: each problem (a ConfigError naming its key)."""

    def __init__(self, problems: Sequence[ConfigError]):
        self.problems = tuple(problems)
        super().__init__("; ".join(str(p) for p in problems))


class ImapMailbox:
    """One folder of one IMAP account."""

    def __init__(self, settings: ImapSettings, client_factory: Callable[[], IMAPClient] | None = None, *,
                 read_only: bool = False, tokens: oauth2.AccessTokens | None = None,
                 should_stop: Callable[[], bool] = lambda: False, spool_over: int = SPOOL_OVER_BYTES):
        """`read_only`: look, never change (a dry run): the folder is EXAMINEd, missing target
        folders are not created, and the actions refuse. `tokens`: the OAuth2 access tokens
        (default: the process's own for this account, when `auth = "oauth2"`). `should_stop`:
        once true, an operation still waiting for the server is cut off within seconds. `spool_over`:
        a mail whose RFC822.SIZE is larger is fetched in parts into a spool file (daemon.mail.spool)."""
        self.settings = settings
        self.spool_over = spool_over
        self._watchdog = Watchdog(should_stop)
        self._sizes: dict[int, int] = {}  # RFC822.SIZE read by facts(): a body FETCH's deadline grows with it
        self._tokens = tokens or access_tokens(settings)
        self.read_only = read_only
        self.account = f"{settings.username}@{settings.host}:{settings.port}"
        self.folder = settings.folder  # as configured: it is part of every record's MessageKey
        self._client: IMAPClient | None = None
        self._factory = client_factory or self._connect
        self._can_move = False
        self._uidplus = False
        self._keywords = False
        self._layout: Layout | None = None
        self._ready: set[str] = set()  # target folders checked and existing
        self.missing: list[str] = []  # read-only: target folders found missing at open (not created)
        self._uidvalidity = 0

    def _connect(self) -> IMAPClient:
        return connect(self.settings)

    def open(self) -> FolderInfo:
        with reading("connecting"):
            client = self._factory()
        try:
            with self._deadline("logging in", self.settings.timeout_seconds, client):
                selected = self._log_in_and_check(client)
        except BaseException:
            _drop(client)
            raise
        self._client, self._sizes = client, {}
        self._uidvalidity = uidvalidity = int(selected[b"UIDVALIDITY"])
        log.info("imap.opened", extra={"folder": self.folder, "uidvalidity": uidvalidity,
                                       "move": self._can_move, "uidplus": self._uidplus})
        return FolderInfo(uidvalidity=uidvalidity, ordered_uids=True)

    def _log_in_and_check(self, client: IMAPClient) -> dict[bytes, object]:
        s = self.settings
        with reading("logging in"):
            log_in(client, s, self._tokens)
            # Re-read capabilities after login: some servers announce MOVE only then.
            self._can_move = client.has_capability("MOVE")
            self._uidplus = client.has_capability("UIDPLUS")
            self._layout = Layout.read(client)
        self._ready, self.missing = set(), []
        problems = _problems(partial(check_folder_name, s.folder, "imap.folder", self._layout),
                             partial(self._require_watched, client))
        targets = [(key, name) for key, name in (("imap.processed_folder", s.processed_folder),
                                                  ("imap.review_folder", s.review_folder),
                                                  ("imap.ignored_folder", s.ignored_folder))
                   if name and canonical(name) != canonical(self.folder)]
        # every folder is checked, all their problems said at once; none is created while the watched one is wrong
        problems += _problems(*(partial(check_folder_name, name, key, self._layout) if problems else
                                partial(self._prepare, client, name, key) for key, name in targets))
        if problems:
            raise problems[0] if len(problems) == 1 else FolderProblems(problems)
        with reading(f"selecting {self.folder!r}"):
            selected = client.select_folder(self.folder, readonly=self.read_only)
        # EXAMINE answers PERMANENTFLAGS () on every server (nothing can be changed in a read-only folder,
        # RFC 3501 6.3.2): it says nothing of keywords, and a read-only mailbox sets none.
        self._keywords = False if self.read_only else _allows_keywords(selected)
        return selected

    def _require_watched(self, client: IMAPClient) -> None:
        """The watched folder exists and can be selected; it is never created (one renamed or deleted
        away must not come back empty, nor as the parent of a target folder inside it)."""
        name = canonical(self.folder)
        if name == "INBOX":
            return
        with reading(f"looking for folder {name!r}"):
            listed = client.list_folders("", name)
        if any(found == name and not _unselectable(flags) for flags, _sep, found in listed):
            return
        raise ConfigError(f"the watched folder {name!r} does not exist on the IMAP server (renamed or deleted?); "
                          "set imap.folder to the folder the mail is in now, or create it", key="imap.folder")

    def _prepare(self, client: IMAPClient, name: str, key: str) -> str:
        """The target folder for `name` ("" for no move), checked and created once; ConfigError if impossible."""
        if not name or canonical(name) == canonical(self.folder):
            return ""
        assert self._layout is not None
        name = check_folder_name(name, key, self._layout)
        if name in self._ready:
            return name
        with reading(f"looking for folder {name!r}"):
            exists = any(listed == name for _f, _s, listed in client.list_folders("", name))
        if not exists and self.read_only:
            log.info("imap.folder_missing", extra={"folder": name, "key": key})
            self.missing.append(name)
            return name
        if not exists:
            try:
                with acting(f"creating folder {name!r}"):
                    client.create_folder(name)
            except MailboxActionRefused as exc:
                raise ConfigError(f"the IMAP server refused to create folder {name!r}: {exc.server_text}",
                                  key=key) from exc
            log.info("imap.folder_created", extra={"folder": name})
        self._ready.add(name)
        return name

    def target(self, name: str) -> str:
        """The folder `name` as the actions use it ("" for none); MailboxActionRefused if impossible."""
        try:
            return self._prepare(self.client, name, "move_to")
        except ConfigError as exc:
            raise MailboxActionRefused(str(exc), server_text="") from exc

    @property
    def client(self) -> IMAPClient:
        if self._client is None:
            raise MailboxUnavailable("the mailbox is not open")
        return self._client

    def _deadline(self, action: str, seconds: float, client: IMAPClient | None = None):
        """One operation on the connection, cut off after `seconds` or soon after a stop (daemon.mailbox.deadline)."""
        client = client or self.client
        return self._watchdog.exchange(action, seconds, client.socket)

    def relocation(self, source: str, uidvalidity: int) -> Relocation:
        """The move of messages of the selected folder `source`, with this server's capabilities."""
        return Relocation(self.client, source, uidvalidity, can_move=self._can_move, uidplus=self._uidplus)

    def uids_after(self, uid: int) -> list[int]:
        with self._deadline("searching for new mail", self.settings.timeout_seconds), reading("searching for new mail"):
            found = self.client.search(["UID", f"{uid + 1}:*"])
        return sorted(u for u in found if u > uid)  # "n:*" always includes the last message

    def window(self, since: date | None, unseen_only: bool) -> set[int]:
        criteria: list[object] = ["SINCE", since] if since is not None else ["ALL"]
        if unseen_only:
            criteria.append("UNSEEN")
        action = "searching for mail in the first pass's window"
        with self._deadline(action, self.settings.timeout_seconds), reading(action):
            return set(self.client.search(criteria))

    def with_message_id(self, message_id: str) -> set[int]:
        if not message_id.strip():
            return set()
        action = "searching the folder for a Message-ID"
        with self._deadline(action, self.settings.timeout_seconds), reading(action):
            return set(self.client.search(*by_message_id(message_id)))

    def facts(self, uids: Sequence[int]) -> dict[int, MessageFacts]:
        if not uids:
            return {}
        action = "reading message sizes and flags"
        with self._deadline(action, self.settings.timeout_seconds), reading(action):
            data = self.client.fetch(list(uids), ["RFC822.SIZE", "FLAGS"])
        found = {uid: MessageFacts(int(item[b"RFC822.SIZE"]), _ours(item.get(b"FLAGS", ())))
                 for uid, item in data.items() if b"RFC822.SIZE" in item}
        self._sizes.update((uid, fact.size) for uid, fact in found.items())
        return found

    def arrival_days(self, uids: Sequence[int]) -> dict[int, date]:
        """INTERNALDATE's date in the offset the server gives it (imapclient would move it to this
        machine's time zone, and the day could change)."""
        if not uids:
            return {}
        action = "reading arrival dates"
        client = self.client
        normalise, client.normalise_times = client.normalise_times, False
        try:
            with self._deadline(action, self.settings.timeout_seconds), reading(action):
                data = client.fetch(list(uids), ["INTERNALDATE"])
        finally:
            client.normalise_times = normalise
        return {uid: item[b"INTERNALDATE"].date() for uid, item in data.items() if b"INTERNALDATE" in item}

    def fetch(self, uids: Sequence[int]) -> Fetched:
        """The bodies; a NO to the batch is narrowed down one UID at a time, and a UID missing from
        an OK answer is looked for with a fresh UID SEARCH: still there, it is undelivered, else gone.
        A mail larger than `spool_over` (by the RFC822.SIZE `facts` read) is spooled (`_spooled`)."""
        if not uids:
            return Fetched()
        large = [uid for uid in uids if self._sizes.get(uid, 0) > self.spool_over]
        if large:
            fetched = self.fetch([uid for uid in uids if uid not in large])
            for uid in large:
                one = self._spooled(uid)
                fetched.update(one)
                fetched.undelivered.update(one.undelivered)
            return fetched
        bodies, refused = self._bodies(uids)
        if refused and len(uids) > 1:
            log.warning("imap.fetch_refused", extra={"messages": len(uids), "then": "one message at a time"})
            return self._one_at_a_time(uids)
        if refused:
            return Fetched(undelivered={uids[0]: f"the IMAP server refused to send it: {refused}"})
        missing = [uid for uid in uids if uid not in bodies]
        return Fetched(bodies, dict.fromkeys(self._still_there(missing), LEFT_OUT))

    def _one_at_a_time(self, uids: Sequence[int]) -> Fetched:
        fetched = Fetched()
        for uid in uids:
            one = self.fetch([uid])
            fetched.update(one)
            fetched.undelivered.update(one.undelivered)
        return fetched

    def _bodies(self, uids: Sequence[int]) -> tuple[dict[int, bytes], str]:
        """One body FETCH: the bodies, or the server's words when it answered NO or BAD."""
        seconds = self.settings.timeout_seconds + sum(self._sizes.get(uid, 0) for uid in uids) / BYTES_PER_SECOND
        with self._deadline("fetching mail", seconds), reading("fetching mail"):
            try:
                data = self.client.fetch(list(uids), ["BODY.PEEK[]"])  # PEEK: do not set \Seen
            except IMAPClientAbortError:
                raise
            except IMAPClientError as exc:  # NO or BAD: about the messages asked for, not the connection
                self.client._imap.untagged_responses.pop("FETCH", None)  # what came before the NO: asked again
                return {}, server_words(exc)
        return {uid: item[b"BODY[]"] for uid, item in data.items() if b"BODY[]" in item}, ""

    def _spooled(self, uid: int) -> Fetched:
        """One large mail fetched PARTIAL_BYTES at a time into a spool file, hashed as it is written: the
        whole mail is never one bytes object. The file is closed on any error (and so gone)."""
        seconds = self.settings.timeout_seconds + self._sizes.get(uid, 0) / BYTES_PER_SECOND
        with self._deadline("fetching mail", seconds), reading("fetching mail"), Spooler() as spooler:
            while True:
                try:
                    data = self.client.fetch([uid], [f"BODY.PEEK[]<{spooler.size}.{PARTIAL_BYTES}>"])
                except IMAPClientAbortError:
                    raise
                except IMAPClientError as exc:  # NO or BAD: about this message, not the connection
                    self.client._imap.untagged_responses.pop("FETCH", None)
                    spooler.discard()
                    return Fetched(undelivered={uid: f"the IMAP server refused to send it: {server_words(exc)}"})
                piece = next((value for key, value in data.get(uid, {}).items() if key.startswith(b"BODY[]")), None)
                if piece is None and not spooler.size:
                    spooler.discard()
                    return Fetched(undelivered=dict.fromkeys(self._still_there([uid]), LEFT_OUT))
                spooler.write(piece or b"")
                if not piece or len(piece) < PARTIAL_BYTES:
                    return Fetched({uid: spooler.finish()})

    def _still_there(self, uids: Sequence[int]) -> list[int]:
        """Of `uids`, those a fresh UID SEARCH still finds in the folder."""
        if not uids:
            return []
        action = "looking for mail left out of a FETCH answer"
        with self._deadline(action, self.settings.timeout_seconds), reading(action):
            found = set(self.client.search(["UID", ",".join(map(str, uids))]))
        return [uid for uid in uids if uid in found]

    def mark_done(self, uid: int, move_to: str) -> Placement:
        with self._deadline("marking mail as processed", ACTION_EXCHANGES * self.settings.timeout_seconds):
            return self._act(uid, move_to, SEEN, DONE_KEYWORD, "marking mail as processed")

    def set_aside(self, uid: int, move_to: str) -> Placement:
        with self._deadline("setting mail aside", ACTION_EXCHANGES * self.settings.timeout_seconds):
            return self._act(uid, move_to, FLAGGED, REVIEW_KEYWORD, "setting mail aside")

    def _act(self, uid: int, move_to: str, flag: bytes, keyword: str, action: str) -> Placement:
        if self.read_only:
            raise MailboxActionRefused(f"{action}: the mailbox was opened read-only (a dry run)")
        target = self.target(move_to)
        flags = [flag, keyword.encode()] if self._keywords else [flag]
        try:
            with acting(action):
                self.client.add_flags([uid], flags, silent=True)
                if not target:
                    return Placement(self.folder, uid)
                placement = self.relocation(self.folder, self._uidvalidity)(uid, target)
        except MailboxActionRefused:
            self._ready.discard(target)  # deleted meanwhile? look again (and create it) next time
            raise
        log.info("imap.moved", extra={"uid": uid, "folder": target, "new_uid": placement.uid})
        return placement

    def close(self) -> None:
        if self._client is None:
            return
        client, self._client = self._client, None
        try:
            with self._deadline("logging out", self.settings.timeout_seconds, client):
                client.logout()
        except (IMAPClientError, OSError, EOFError, MailboxUnavailable):
            log.debug("imap.logout_failed")
            _drop(client)


def _problems(*checks: Callable[[], object]) -> list[ConfigError]:
    """The ConfigError of each check that raised one, in order; every check is run."""
    problems = []
    for check in checks:
        try:
            check()
        except ConfigError as exc:
            problems.append(exc)
    return problems


def _unselectable(flags: Sequence[bytes | str]) -> bool:
    """A LIST answer's flags say the name cannot be selected (a mere parent, or no folder at all)."""
    said = {(f.decode() if isinstance(f, bytes) else f).lower() for f in flags}
    return bool(said & {"\\noselect", "\\nonexistent"})


def _allows_keywords(selected: dict[bytes, object]) -> bool:
    """Whether the selected folder keeps keywords: PERMANENTFLAGS has \\* (or lists ours)."""
    permanent = {bytes(f).lower() for f in selected.get(b"PERMANENTFLAGS", ())}  # type: ignore[union-attr]
    if b"\\*" in permanent or all(k.lower().encode() in permanent for k in OUR_KEYWORDS):
        return True
    log.warning("imap.keywords_unsupported", extra={"keywords": list(OUR_KEYWORDS)})
    return False


def _ours(flags: Sequence[bytes]) -> frozenset[str]:
    """Which of our keywords are among a message's flags (keywords are case-insensitive)."""
    present = {bytes(f).lower() for f in flags}
    return frozenset(k for k in OUR_KEYWORDS if k.lower().encode() in present)


# -- listening ------------------------------------------------------------------------------

NEWS = (b"EXISTS", b"RECENT")  # untagged answers that mean mail arrived in the selected folder


class IdleConnection:
    """A connection of its own to the watched folder that only listens for new mail (IDLE, RFC 2177).

    It reads no mail and changes nothing: the folder is EXAMINEd. The socket keeps
    `timeout_seconds` as its read timeout, so a DONE or NOOP that a dead connection never
    answers ends in MailboxUnavailable instead of hanging. Every failure is MailboxUnavailable,
    except the OAuth2 token endpoint's ConfigError.
    """

    def __init__(self, settings: ImapSettings, client_factory: Callable[[], IMAPClient] | None = None, *,
                 tokens: oauth2.AccessTokens | None = None):
        self.settings = settings
        self._factory = client_factory or (lambda: connect(settings))
        self._tokens = tokens or access_tokens(settings)
        self._client: IMAPClient | None = None
        self._selector: selectors.BaseSelector | None = None
        self._empty_reads = 0  # readable, yet nothing read: EOF, or half a TLS record

    def open(self) -> bool:
        """Connect, log in and EXAMINE the folder; whether the server offers IDLE."""
        with reading("connecting to listen for new mail"):
            client = self._factory()
        try:
            with reading("logging in to listen for new mail"):
                log_in(client, self.settings, self._tokens)
                client.select_folder(self.settings.folder, readonly=True)
                offered = client.has_capability("IDLE")
        except BaseException:
            _drop(client)
            raise
        self._client = client
        return offered

    @property
    def client(self) -> IMAPClient:
        if self._client is None:
            raise MailboxUnavailable("the IDLE connection is not open")
        return self._client

    def start(self) -> bool:
        """IDLE: from now on the server tells of changes to the folder unasked. Whether it told
        of new mail on the way in (answers before its "+ idling", which imaplib files away)."""
        with reading("starting IDLE"):
            self.client.idle()
            self._selector = selectors.DefaultSelector()
            self._selector.register(self.client.socket(), selectors.EVENT_READ)
        self._empty_reads = 0
        filed = self.client._imap.untagged_responses
        told = [name for name in ("EXISTS", "RECENT") if filed.pop(name, None)]
        return bool(told)

    def wait(self, seconds: float) -> bool:
        """Listen up to `seconds`; whether the server announced new mail (EXISTS or RECENT).

        A socket that is readable twice in a row with nothing to read was closed (once may be
        half a TLS record); BYE means the server is going away: both are MailboxUnavailable.
        """
        sock = self.client.socket()
        pending = getattr(sock, "pending", lambda: 0)()  # TLS bytes already decrypted: select() cannot see them
        if not pending and (self._selector is None or not self._selector.select(max(0.0, seconds))):
            return False
        with reading("listening in IDLE"):
            answers = self.client.idle_check(timeout=0)
        self._empty_reads = 0 if answers else self._empty_reads + 1
        if self._empty_reads >= 2:
            raise MailboxUnavailable("the IMAP server closed the IDLE connection")
        if any(a and a[0] == b"BYE" for a in answers):
            raise MailboxUnavailable("the IMAP server ended the IDLE connection (BYE)")
        return any(len(a) > 1 and a[1] in NEWS for a in answers)

    def finish(self) -> bool:
        """DONE, then NOOP, both answered (the connection is alive); whether either told of new mail."""
        self._forget_selector()
        with reading("ending IDLE"):
            _text, during = self.client.idle_done()
            _text, after = self.client.noop()
        return any(len(a) > 1 and a[1] in NEWS for a in [*during, *after])

    def close(self) -> None:
        """Drop the connection at once (no DONE, no LOGOUT: a dead server must not delay a stop)."""
        self._forget_selector()
        client, self._client = self._client, None
        if client is not None:
            _drop(client)

    def _forget_selector(self) -> None:
        if self._selector is not None:
            self._selector.close()
            self._selector = None
