"""The IMAP mailbox adapter against real Dovecot servers: folder checks, actions, errors, restore.

Three servers: the session's default Dovecot (MOVE, UIDPLUS, separator "."), a Courier-like
one (personal namespace "INBOX.", no MOVE) and one with neither MOVE nor UIDPLUS.
"""

from __future__ import annotations

import hashlib
import imaplib
import logging
import os
import re
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import replace

import pytest
from imapclient import IMAPClient

from daemon.config import ImapSettings
from daemon.domain import Placement
from daemon.errors import ConfigError, MailboxActionRefused, MailboxUnavailable
from daemon.mailbox.base import DONE_KEYWORD, REVIEW_KEYWORD, MessageFacts
from daemon.mailbox.imap import ImapMailbox, _allows_keywords, acting
from daemon.mailbox.restore import _move_back, move_back
from tests.imapserver import COURIER_NAMESPACE, NO_MOVE, NO_UIDPLUS, Dovecot, running
from tests.mailfactory import build_email

pytestmark = pytest.mark.imap


def mail(n: int, message_id: bool = True, padding: int = 0) -> bytes:
    """A small raw mail, unique by `n`; `padding` bytes of body make it bigger."""
    mid = f"Message-ID: <m{n}@example.org>\r\n" if message_id else ""
    return (f"From: a{n}@example.org\r\nTo: jobs@example.com\r\nSubject: mail {n}\r\n{mid}\r\n"
            f"Hello {n}.\r\n").encode() + b"x" * padding


def settings(server: Dovecot, **changes: object) -> ImapSettings:
    """Settings for `server` over plain IMAP; target folders in its personal namespace."""
    prefix = "INBOX." if COURIER_NAMESPACE in server.extra_config else ""
    base = ImapSettings(host=server.host, port=server.imap_port, security="none", username=server.user,
                        password=server.password, ca_file="", folder="INBOX",
                        processed_folder=f"{prefix}Processed", review_folder=f"{prefix}Review", ignored_folder="",
                        batch_size=50,
                        max_message_bytes=10 * 1024 * 1024, timeout_seconds=10.0, reconnect_attempts=0)
    return replace(base, **changes)


def opened(server: Dovecot, **changes: object) -> ImapMailbox:
    mailbox = ImapMailbox(settings(server, **changes))
    mailbox.open()
    return mailbox


def open_sockets() -> int:
    """How many sockets this process holds open (from /proc/self/fd)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except FileNotFoundError:  # the directory listing's own descriptor, closed meanwhile
            continue
    return count


@pytest.fixture(scope="session")
def courier_session() -> Iterator[Dovecot]:
    with running(NO_MOVE + COURIER_NAMESPACE) as server:
        yield server


@pytest.fixture(scope="session")
def no_uidplus_session() -> Iterator[Dovecot]:
    with running(NO_UIDPLUS) as server:
        yield server


@pytest.fixture
def courier(courier_session: Dovecot) -> Dovecot:
    """A Courier-IMAP look-alike: personal namespace "INBOX.", separator ".", no MOVE."""
    courier_session.reset()
    return courier_session


@pytest.fixture
def no_uidplus(no_uidplus_session: Dovecot) -> Dovecot:
    """A Dovecot announcing neither MOVE nor UIDPLUS."""
    no_uidplus_session.reset()
    return no_uidplus_session


@pytest.fixture(params=["dovecot", "courier", "no_uidplus"])
def server(request: pytest.FixtureRequest) -> Dovecot:
    """Each of the three servers in turn."""
    return request.getfixturevalue(request.param)


def test_the_look_alike_servers_announce_what_they_imitate(courier: Dovecot, no_uidplus: Dovecot) -> None:
    """The Courier look-alike has no MOVE and personal namespace "INBOX."; the other lacks MOVE and UIDPLUS."""
    with courier.client() as imap:
        assert not imap.has_capability("MOVE") and imap.has_capability("UIDPLUS")
        assert imap.namespace().personal == (("INBOX.", "."),)
    with no_uidplus.client() as imap:
        assert not imap.has_capability("MOVE") and not imap.has_capability("UIDPLUS")


# -- folders at open() ----------------------------------------------------------------------

def test_open_creates_missing_targets_once(dovecot: Dovecot) -> None:
    """open() creates the processed and review folders; a second open() keeps them as they are."""
    opened(dovecot).close()
    first = dovecot.folder_uidvalidity("Processed"), dovecot.folder_uidvalidity("Review")
    opened(dovecot).close()
    assert (dovecot.folder_uidvalidity("Processed"), dovecot.folder_uidvalidity("Review")) == first


@pytest.mark.parametrize(("watched", "target"), [("INBOX", "inbox"), ("INBOX", "Inbox"), ("inbox", "INBOX")])
def test_inbox_in_any_case_is_the_watched_folder(dovecot: Dovecot, watched: str, target: str) -> None:
    """A target that is INBOX in another case is the watched folder: nothing created, the mail stays where it is."""
    uid = dovecot.append("INBOX", mail(1))
    mailbox = opened(dovecot, folder=watched, processed_folder=target)
    try:
        assert mailbox.mark_done(uid, target) == Placement(watched, uid)
    finally:
        mailbox.close()
    assert mailbox.folder == watched  # as configured: records keep their MessageKey
    assert dovecot.uids("INBOX") == [uid]
    assert b"\\Seen" in dovecot.flags("INBOX", uid)
    with dovecot.client() as imap:
        assert sorted(name for _f, _s, name in imap.list_folders()) == ["INBOX", "Review"]


@pytest.mark.parametrize(("fixture", "configured", "suggested"), [
    ("dovecot", "INBOX/Review", "INBOX.Review"),
    ("courier", "INBOX/Review", "INBOX.Review"),
    ("courier", "Review", "INBOX.Review"),
    ("courier", "Jobs/Review", "INBOX.Jobs.Review"),
])
def test_misspelled_target_is_refused_at_open_with_the_right_spelling(
    request: pytest.FixtureRequest, fixture: str, configured: str, suggested: str
) -> None:
    """A wrong separator or a name outside the personal namespace is a ConfigError naming the key."""
    server: Dovecot = request.getfixturevalue(fixture)
    sockets = open_sockets()
    with pytest.raises(ConfigError, match=re.escape(repr(suggested))) as info:
        opened(server, review_folder=configured)
    assert info.value.key == "imap.review_folder"
    assert open_sockets() == sockets  # the refused open() closed its connection


def test_refused_create_is_a_config_error_with_the_servers_words(dovecot: Dovecot) -> None:
    """A CREATE the server refuses stops open() with ConfigError naming the key and quoting the server."""
    with pytest.raises(ConfigError, match="Begins with '~'") as info:
        opened(dovecot, processed_folder="~Processed")
    assert info.value.key == "imap.processed_folder"


def test_courier_style_prefixed_targets_work(courier: Dovecot) -> None:
    """On an "INBOX." namespace server, INBOX.Processed is created and mail is moved there."""
    uid = courier.append("INBOX", mail(1))
    mailbox = opened(courier)
    try:
        placement = mailbox.mark_done(uid, "INBOX.Processed")
    finally:
        mailbox.close()
    assert placement.folder == "INBOX.Processed"
    assert courier.uids("INBOX.Processed") == [placement.uid]


# -- actions ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("action", "flag", "keyword", "target"), [
    ("mark_done", b"\\Seen", DONE_KEYWORD, "processed_folder"),
    ("set_aside", b"\\Flagged", REVIEW_KEYWORD, "review_folder"),
])
def test_action_moves_one_copy_with_flag_and_keyword(
    server: Dovecot, action: str, flag: bytes, keyword: str, target: str
) -> None:
    """Each action sets its flag and keyword, leaves one copy in the target, none in INBOX, and gives its UID."""
    other = server.append("INBOX", mail(2))
    uid = server.append("INBOX", mail(1))
    config = settings(server)
    folder = getattr(config, target)
    mailbox = ImapMailbox(config)
    mailbox.open()
    try:
        placement = getattr(mailbox, action)(uid, folder)
    finally:
        mailbox.close()
    assert placement == Placement(folder, placement.uid) and placement.uid is not None
    assert server.uids(folder) == [placement.uid]
    assert {flag, keyword.encode()} <= set(server.flags(folder, placement.uid))
    assert server.uids("INBOX", "UNDELETED") == [other]


def test_facts_report_size_and_our_keywords(dovecot: Dovecot) -> None:
    """facts() gives RFC822.SIZE and which of our keywords each message carries, in one FETCH."""
    plain = dovecot.append("INBOX", mail(1))
    done = dovecot.append("INBOX", mail(2), flags=[b"\\Seen", DONE_KEYWORD.lower().encode()])
    mailbox = opened(dovecot, processed_folder="")
    try:
        facts = mailbox.facts([plain, done, 999])
    finally:
        mailbox.close()
    assert facts == {plain: MessageFacts(len(mail(1))), done: MessageFacts(len(mail(2)), frozenset({DONE_KEYWORD}))}


def test_mail_read_from_the_server_never_reaches_the_logs(dovecot: Dovecot, caplog: pytest.LogCaptureFixture) -> None:
    """Not even with every IMAP logger at DEBUG: imapclient turns on imaplib's debug output, which formats
    each answer, the mail's own bytes with it, for its logger (and costs a repr of every mail when dropped)."""
    body = b"Private CV text 4f1c9e " * 2_000
    uid = dovecot.append("INBOX", mail(1) + body)
    caplog.set_level(logging.DEBUG)
    mailbox = opened(dovecot, processed_folder="")
    try:
        mailbox.facts([uid])
        fetched = mailbox.fetch([uid])
    finally:
        mailbox.close()
    assert body in fetched[uid]
    assert "Hello 1." not in caplog.text
    assert "4f1c9e" not in caplog.text


def test_without_move_the_client_never_sends_move(courier: Dovecot, caplog: pytest.LogCaptureFixture) -> None:
    """On a server that does not announce MOVE, an action is UID COPY + STORE + UID EXPUNGE, never MOVE."""
    uid = courier.append("INBOX", mail(1))
    caplog.set_level(logging.DEBUG, logger="imapclient")
    mailbox = opened(courier)
    try:
        mailbox.mark_done(uid, "INBOX.Processed")
    finally:
        mailbox.close()
    sent = [r.getMessage() for r in caplog.records if "> " in r.getMessage()]
    assert any("UID COPY" in line for line in sent)
    assert any("UID EXPUNGE" in line for line in sent)
    assert not any("MOVE" in line for line in sent)


@pytest.mark.parametrize("deleted_too", [False, True], ids=["cut-after-copy", "cut-after-store"])
def test_repeat_after_a_cut_leaves_exactly_one_copy(courier: Dovecot, deleted_too: bool) -> None:
    """Without MOVE, an action repeated after a cut past COPY (or \\Deleted) finds the copy, copies nothing."""
    uid = courier.append("INBOX", mail(1, message_id=False))
    twin = courier.append("INBOX.Processed", mail(1, message_id=False).replace(b"Hello", b"Hallo"))  # same size
    with courier.client() as imap:  # the first attempt's COPY (and STORE), then the cut
        imap.select_folder("INBOX")
        imap.add_flags([uid], [b"\\Seen"])
        imap.copy([uid], "INBOX.Processed")
        if deleted_too:
            imap.add_flags([uid], [b"\\Deleted"])
    [copy] = [u for u in courier.uids("INBOX.Processed") if u != twin]
    mailbox = opened(courier)
    try:
        placement = mailbox.mark_done(uid, "INBOX.Processed")
    finally:
        mailbox.close()
    assert placement == Placement("INBOX.Processed", copy)
    assert courier.uids("INBOX.Processed") == [twin, copy]
    assert courier.uids("INBOX") == []


def test_repeat_after_the_expunge_succeeds_without_a_uid(dovecot: Dovecot) -> None:
    """An action repeated after it completed (answer lost) succeeds: the target, UID unknown."""
    uid = dovecot.append("INBOX", mail(1))
    mailbox = opened(dovecot)
    try:
        first = mailbox.mark_done(uid, "Processed")
        again = mailbox.mark_done(uid, "Processed")
    finally:
        mailbox.close()
    assert again == Placement("Processed", None)
    assert dovecot.uids("Processed") == [first.uid]


def test_without_uidplus_others_deleted_mail_survives(no_uidplus: Dovecot, caplog: pytest.LogCaptureFixture) -> None:
    """Without UIDPLUS nothing is expunged: ours is left \\Deleted (logged), another client's \\Deleted mail stays."""
    theirs = no_uidplus.append("INBOX", mail(2), flags=[b"\\Deleted"])
    uid = no_uidplus.append("INBOX", mail(1))
    caplog.set_level(logging.INFO, logger="daemon.mailbox.imap")
    mailbox = opened(no_uidplus)
    try:
        placement = mailbox.mark_done(uid, "Processed")
    finally:
        mailbox.close()
    assert no_uidplus.uids("Processed") == [placement.uid]
    assert no_uidplus.uids("INBOX", "DELETED") == [theirs, uid]
    assert "imap.left_deleted" in caplog.messages


def test_copy_into_a_folder_deleted_meanwhile_is_refused_with_the_servers_words(courier: Dovecot) -> None:
    """A NO to COPY is MailboxActionRefused carrying the server's text; the mail stays in INBOX."""
    uid = courier.append("INBOX", mail(1))
    mailbox = opened(courier)
    courier.delete_folder("INBOX.Processed")
    try:
        with pytest.raises(MailboxActionRefused) as info:
            mailbox.mark_done(uid, "INBOX.Processed")
    finally:
        mailbox.close()
    assert "doesn't exist" in info.value.server_text
    assert courier.uids("INBOX", "UNDELETED") == [uid]


def test_after_a_refused_action_the_folder_is_created_again(dovecot: Dovecot) -> None:
    """A target deleted while the daemon runs refuses one action; the next one re-creates it and succeeds."""
    uid = dovecot.append("INBOX", mail(1))
    mailbox = opened(dovecot)
    dovecot.delete_folder("Processed")
    try:
        with pytest.raises(MailboxActionRefused):
            mailbox.mark_done(uid, "Processed")
        placement = mailbox.mark_done(uid, "Processed")
    finally:
        mailbox.close()
    assert dovecot.uids("Processed") == [placement.uid]
    assert dovecot.uids("INBOX") == []


def test_move_into_a_folder_deleted_meanwhile_is_refused(dovecot: Dovecot) -> None:
    """A NO to MOVE is MailboxActionRefused, not MailboxUnavailable."""
    uid = dovecot.append("INBOX", mail(1))
    mailbox = opened(dovecot)
    dovecot.delete_folder("Review")
    try:
        with pytest.raises(MailboxActionRefused, match="doesn't exist"):
            mailbox.set_aside(uid, "Review")
    finally:
        mailbox.close()


def test_a_lost_connection_during_an_action_is_unavailable(dovecot: Dovecot) -> None:
    """A connection cut mid-session makes an action MailboxUnavailable (transient), not refused."""
    uid = dovecot.append("INBOX", mail(1))
    mailbox = opened(dovecot)
    mailbox.client.socket().shutdown(socket.SHUT_RDWR)  # the network drops the session
    try:
        with pytest.raises(MailboxUnavailable):
            mailbox.mark_done(uid, "Processed")
    finally:
        mailbox.close()
    assert dovecot.uids("INBOX") == [uid]


@pytest.mark.parametrize(("raised", "expected", "words"), [
    (imaplib.IMAP4.error("copy failed: [OVERQUOTA] Quota exceeded"), MailboxActionRefused,
     "[OVERQUOTA] Quota exceeded"),
    (imaplib.IMAP4.error("STORE command error: BAD [b'Invalid flags']"), MailboxActionRefused, "Invalid flags"),
    (imaplib.IMAP4.readonly("INBOX is not writable"), MailboxActionRefused, "INBOX is not writable"),
    (imaplib.IMAP4.abort("socket error: EOF"), MailboxUnavailable, None),
    (TimeoutError("timed out"), MailboxUnavailable, None),
    (ssl.SSLEOFError("EOF occurred in violation of protocol"), MailboxUnavailable, None),
    (ConnectionResetError(), MailboxUnavailable, None),
    (EOFError(), MailboxUnavailable, None),
], ids=["NO", "BAD", "read-only", "abort", "timeout", "tls-eof", "reset", "eof"])
def test_action_errors_are_split_into_refused_and_unavailable(
    raised: Exception, expected: type[Exception], words: str | None
) -> None:
    """NO/BAD and a read-only folder refuse the action with the server's words; abort, socket errors are transient."""
    with pytest.raises(expected) as info, acting("testing"):
        raise raised
    if words is not None:
        assert info.value.server_text == words


@pytest.mark.parametrize(("permanent", "allowed"), [
    ((b"\\Seen", b"\\Flagged", b"\\*"), True),
    ((b"\\Seen", b"\\Flagged", DONE_KEYWORD.encode(), REVIEW_KEYWORD.encode()), True),
    ((b"\\Seen", b"\\Flagged", b"\\Deleted"), False),
    ((), False),
])
def test_keywords_are_used_only_where_permanentflags_allow(permanent: tuple[bytes, ...], allowed: bool) -> None:
    """Keywords are set when PERMANENTFLAGS has \\* or lists both of ours; otherwise skipped."""
    assert _allows_keywords({b"PERMANENTFLAGS": permanent}) is allowed


# -- connecting -------------------------------------------------------------------------------

@pytest.mark.parametrize("failure", ["untrusted-starttls", "wrong-password"])
def test_a_failed_connect_closes_its_socket(dovecot: Dovecot, failure: str) -> None:
    """A STARTTLS that fails certificate checks, or a refused login, leaves no socket open."""
    changes: dict[str, object] = ({"security": "starttls"} if failure == "untrusted-starttls"
                                  else {"password": "wrong"})
    sockets = open_sockets()
    with pytest.raises(MailboxUnavailable) as info:  # `info` keeps the failed client's frames alive
        opened(dovecot, **changes)
    assert info.value.__cause__ is not None
    assert open_sockets() == sockets


def test_starttls_on_a_server_without_it_closes_the_connection() -> None:
    """security = "starttls" against a server that does not offer STARTTLS fails and hangs up at once.

    The server is a bare socket that greets and answers CAPABILITY: what is tested is our side's socket.
    """
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        accepted: list[socket.socket] = []

        def greet() -> None:
            conn, _addr = listener.accept()
            accepted.append(conn)
            conn.sendall(b"* OK IMAP4rev1 ready\r\n")
            tag = conn.recv(1000).split(b" ", 1)[0]  # CAPABILITY
            conn.sendall(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag + b" OK done\r\n")

        thread = threading.Thread(target=greet, daemon=True)
        thread.start()
        mailbox = ImapMailbox(ImapSettings(
            host="127.0.0.1", port=port, security="starttls", username="jobs", password="secret",
            ca_file="", folder="INBOX", processed_folder="", review_folder="", ignored_folder="", batch_size=50,
            max_message_bytes=1024, timeout_seconds=5.0, reconnect_attempts=0))
        with pytest.raises(MailboxUnavailable, match="STARTTLS") as info:  # `info` keeps the client alive
            mailbox.open()
        thread.join(5)
        [conn] = accepted
        with conn:
            conn.settimeout(2)
            assert conn.recv(100) == b""  # our side closed; a leaked socket would leave this waiting
    assert info.value.__cause__ is not None


# -- restore (messages retry) -----------------------------------------------------------------

def _set_aside(server: Dovecot, raw: bytes) -> int:
    """Deliver `raw` and set it aside with the adapter; its UID in the review folder."""
    uid = server.append("INBOX", raw)
    mailbox = opened(server)
    try:
        placement = mailbox.set_aside(uid, mailbox.settings.review_folder)
    finally:
        mailbox.close()
    assert placement.uid is not None
    return placement.uid


def test_move_back_unmarks_and_returns_the_new_uid(server: Dovecot) -> None:
    """move_back puts the mail back in INBOX without \\Flagged or our keywords and returns its new UID."""
    raw = mail(1)
    _set_aside(server, raw)
    config = settings(server)
    placement = move_back(config, "<m1@example.org>", hashlib.sha256(raw).hexdigest(), len(raw))
    assert placement is not None and placement.folder == "INBOX"
    assert server.uids(config.review_folder, "UNDELETED") == []
    assert server.uids("INBOX", "UNDELETED") == [placement.uid]
    flags = {f.lower() for f in server.flags("INBOX", placement.uid)}
    assert not flags & {b"\\flagged", b"\\deleted", REVIEW_KEYWORD.lower().encode(), DONE_KEYWORD.lower().encode()}


def test_move_back_repeated_after_a_cut_leaves_one_copy(courier: Dovecot) -> None:
    """A move back cut after its COPY and \\Deleted is finished by the next retry: one copy in INBOX, none left."""
    raw = mail(1, message_id=False)
    review_uid = _set_aside(courier, raw)
    with courier.client() as imap:  # the first retry's unmark, COPY and STORE, then the cut
        imap.select_folder("INBOX.Review")
        imap.remove_flags([review_uid], [b"\\Flagged", REVIEW_KEYWORD])
        imap.copy([review_uid], "INBOX")
        imap.add_flags([review_uid], [b"\\Deleted"])
    [copy] = courier.uids("INBOX", "UNDELETED")
    placement = move_back(settings(courier), "", hashlib.sha256(raw).hexdigest(), len(raw))
    assert placement == Placement("INBOX", copy)
    assert courier.uids("INBOX", "UNDELETED") == [copy]
    assert courier.uids("INBOX.Review") == []


class CountingClient(IMAPClient):
    """A real IMAPClient that counts the bytes it receives."""

    received = 0

    def _create_IMAP4(self) -> imaplib.IMAP4:
        imap = super()._create_IMAP4()
        read, readline = imap.read, imap.readline

        def counted(data: bytes) -> bytes:
            self.received += len(data)
            return data

        imap.read = lambda size: counted(read(size))  # type: ignore[method-assign]
        imap.readline = lambda: counted(readline())  # type: ignore[method-assign]
        return imap


@pytest.mark.parametrize("size_known", [True, False])
def test_move_back_downloads_only_mail_that_can_be_it(dovecot: Dovecot, size_known: bool) -> None:
    """Mail without a Message-ID is found by size (recorded, else <= max_message_bytes), then hash: big mail stays."""
    raw = mail(1, message_id=False)
    _set_aside(dovecot, raw)
    dovecot.append("Review", mail(2, message_id=False, padding=300_000))
    config = settings(dovecot, max_message_bytes=100_000)
    client = CountingClient(dovecot.host, port=dovecot.imap_port, ssl=False, timeout=10)
    mailbox = ImapMailbox(config, client_factory=lambda: client)
    mailbox.open()
    try:
        placement = _move_back(mailbox, "Review", "", hashlib.sha256(raw).hexdigest(), len(raw) if size_known else 0)
    finally:
        mailbox.close()
    assert placement is not None and dovecot.uids("INBOX") == [placement.uid]
    assert 0 < client.received < 50_000
    assert len(dovecot.uids("Review")) == 1


def test_move_back_of_mail_not_in_the_review_folder_is_none(dovecot: Dovecot) -> None:
    """A hash that matches nothing in the review folder gives None and moves nothing."""
    _set_aside(dovecot, mail(1))
    assert move_back(settings(dovecot), "<m1@example.org>", "0" * 64, len(mail(1))) is None
    assert len(dovecot.uids("Review")) == 1


@pytest.mark.imap
def test_mail_is_found_by_its_message_id(dovecot):
    """A fresh search finds the mail with a Message-ID (and only it); a Message-ID nobody has finds nothing."""
    dovecot.append("INBOX", build_email(subject="one", message_id="<one@example.org>"))
    dovecot.append("INBOX", build_email(subject="two", message_id="<two@example.org>"))
    mailbox = opened(dovecot)
    try:
        two = dovecot.uids("INBOX")[-1]
        assert mailbox.with_message_id("<two@example.org>") == {two}
        assert mailbox.with_message_id("<nobody@example.org>") == set()
        assert mailbox.with_message_id("") == set()
    finally:
        mailbox.close()
