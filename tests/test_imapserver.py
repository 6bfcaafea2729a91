"""The test Dovecot itself: logins, TLS trust, delivery, restarts and UIDVALIDITY changes."""

from __future__ import annotations

import imaplib
import socket
import ssl
from pathlib import Path

import pytest
from imapclient import IMAPClient

from tests.imapserver import INSTALL_HINT, Dovecot, DovecotUnavailable, _executable

SAMPLES = sorted((Path(__file__).parent.parent / "daemon" / "samples").glob("*.eml"))

RAW = (
    b"From: Ada Example <ada@example.org>\r\n"
    b"To: jobs@example.com\r\n"
    b"Subject: Smoke test\r\n"
    b"Message-ID: <smoke-1@example.org>\r\n"
    b"Date: Mon, 02 Mar 2026 09:00:00 +0000\r\n"
    b"\r\n"
    b"Hello.\r\n"
)


def _connect(server: Dovecot, transport: str, context: ssl.SSLContext) -> IMAPClient:
    if transport == "imaps":
        return IMAPClient(server.host, port=server.imaps_port, ssl=True, ssl_context=context,
                          timeout=5)
    imap = IMAPClient(server.host, port=server.imap_port, ssl=False, timeout=5)
    imap.starttls(context)
    return imap


@pytest.mark.imap
def test_plain_append_search_and_peek_leaves_message_unseen(dovecot: Dovecot) -> None:
    """A message delivered by APPEND is found by UID SEARCH and BODY.PEEK[] keeps it unseen."""
    uid = dovecot.append("INBOX", RAW)
    imap = dovecot.client()
    try:
        imap.select_folder("INBOX")
        assert imap.search(["UNSEEN"]) == [uid]
        body = imap.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"]
    finally:
        imap.logout()
    assert body == RAW
    assert b"\\Seen" not in dovecot.flags("INBOX", uid)
    assert dovecot.uids("INBOX", "UNSEEN") == [uid]


@pytest.mark.imap
def test_append_with_flags_and_to_a_missing_folder(dovecot: Dovecot) -> None:
    """append() creates a missing folder, returns the new UID and sets the given flags."""
    first = dovecot.append("Applications", RAW, flags=[b"\\Seen"])
    second = dovecot.append("Applications", RAW)
    assert second > first
    assert dovecot.uids("Applications") == [first, second]
    assert dovecot.uids("Applications", "SEEN") == [first]
    assert b"\\Seen" in dovecot.flags("Applications", first)


@pytest.mark.imap
@pytest.mark.parametrize("sample", SAMPLES, ids=lambda path: path.name)
def test_demo_samples_survive_delivery_byte_for_byte(dovecot: Dovecot, sample: Path) -> None:
    """Each shipped sample .eml is accepted by APPEND and fetched back unchanged."""
    raw = sample.read_bytes()
    uid = dovecot.append("INBOX", raw)
    imap = dovecot.client()
    try:
        imap.select_folder("INBOX", readonly=True)
        assert imap.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"] == raw
    finally:
        imap.logout()


def test_there_are_nine_demo_samples() -> None:
    """The package ships the nine demo emails the sample README describes."""
    assert len(SAMPLES) == 9


@pytest.mark.imap
@pytest.mark.parametrize("transport", ["imaps", "starttls"])
def test_tls_with_the_trusted_certificate_logs_in(dovecot: Dovecot, transport: str) -> None:
    """IMAPS and STARTTLS succeed when the client trusts the server's certificate file."""
    imap = _connect(dovecot, transport, ssl.create_default_context(cafile=str(dovecot.cert_path)))
    try:
        imap.login(dovecot.user, dovecot.password)
        assert imap.select_folder("INBOX", readonly=True)[b"EXISTS"] == 0
    finally:
        imap.logout()


@pytest.mark.imap
@pytest.mark.parametrize("transport", ["imaps", "starttls"])
def test_tls_with_the_default_context_rejects_the_certificate(
    dovecot: Dovecot, transport: str
) -> None:
    """The self-signed certificate is refused by a default TLS context (checks are real)."""
    with pytest.raises(ssl.SSLCertVerificationError):
        _connect(dovecot, transport, ssl.create_default_context())


@pytest.mark.imap
def test_client_over_imaps_is_logged_in(dovecot: Dovecot) -> None:
    """client(ssl=True) returns a logged-in session over implicit TLS."""
    imap = dovecot.client(ssl=True)
    try:
        assert imap.folder_exists("INBOX")
        assert imap.has_capability("MOVE")
    finally:
        imap.logout()


@pytest.mark.imap
def test_restart_keeps_mail_and_ports(dovecot: Dovecot) -> None:
    """After restart() the same ports answer and the delivered mail is still there."""
    uid = dovecot.append("INBOX", RAW)
    ports = (dovecot.imap_port, dovecot.imaps_port)
    dovecot.restart()
    assert (dovecot.imap_port, dovecot.imaps_port) == ports
    assert dovecot.uids("INBOX") == [uid]


@pytest.mark.imap
def test_kill_drops_open_sessions_and_start_serves_again(dovecot: Dovecot) -> None:
    """kill() cuts a live session like a crash; start() serves the same mail on the same port."""
    uid = dovecot.append("INBOX", RAW)
    imap = dovecot.client()
    imap.select_folder("INBOX")
    dovecot.kill()
    assert not dovecot.running
    with pytest.raises((imaplib.IMAP4.abort, OSError)):
        imap.noop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((dovecot.host, dovecot.imap_port), timeout=1).close()
    dovecot.start()
    assert dovecot.uids("INBOX") == [uid]


@pytest.mark.imap
def test_recreating_a_folder_changes_uidvalidity(dovecot: Dovecot) -> None:
    """Deleting and re-creating a folder gives it a new UIDVALIDITY."""
    dovecot.create_folder("Processed")
    before = dovecot.folder_uidvalidity("Processed")
    dovecot.delete_folder("Processed")
    dovecot.create_folder("Processed")
    assert dovecot.folder_uidvalidity("Processed") != before


@pytest.mark.imap
def test_reset_empties_inbox_and_removes_other_folders(dovecot: Dovecot) -> None:
    """reset() (what the `dovecot` fixture runs) leaves only an empty INBOX."""
    dovecot.append("INBOX", RAW)
    dovecot.append("Quarantine", RAW)
    dovecot.create_folder("Processed")
    dovecot.create_folder("Processed.2026")
    dovecot.reset()
    assert dovecot.uids("INBOX") == []
    imap = dovecot.client()
    try:
        names = [name for _flags, _sep, name in imap.list_folders()]
    finally:
        imap.logout()
    assert names == ["INBOX"]


def test_a_missing_tool_names_the_install_command() -> None:
    """A missing executable is reported with the apt-get command that installs Dovecot."""
    with pytest.raises(DovecotUnavailable, match=INSTALL_HINT):
        _executable("dovecot-that-is-not-installed")


def test_ports_are_unknown_before_start(tmp_path: Path) -> None:
    """A server that never started has no ports to offer."""
    with pytest.raises(RuntimeError, match="start"):
        _ = Dovecot(tmp_path).imap_port
