"""The IMAP mailbox (imapclient). Translates imaplib/socket/ssl errors into MailboxUnavailable."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from daemon.config import ImapSettings
from daemon.errors import MailboxUnavailable
from daemon.mailbox.base import FolderInfo

log = logging.getLogger(__name__)
T = TypeVar("T")
SEEN = b"\\Seen"
FLAGGED = b"\\Flagged"


def tls_context(ca_file: str) -> ssl.SSLContext:
    """Certificate and host name checks on; `ca_file` adds to the system's trusted CAs."""
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


@contextmanager
def _translated(action: str) -> Iterator[None]:
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


class ImapMailbox:
    """One folder of one IMAP account."""

    def __init__(self, settings: ImapSettings, client_factory: Callable[[], IMAPClient] | None = None):
        self.settings = settings
        self.account = f"{settings.username}@{settings.host}:{settings.port}"
        self.folder = settings.folder
        self._client: IMAPClient | None = None
        self._factory = client_factory or self._connect
        self._can_move = False

    def _connect(self) -> IMAPClient:
        s = self.settings
        context = tls_context(s.ca_file)
        client = IMAPClient(s.host, port=s.port, ssl=s.security == "ssl",
                            ssl_context=context if s.security == "ssl" else None,
                            timeout=s.timeout_seconds)
        if s.security == "starttls":
            client.starttls(context)
        return client

    def open(self) -> FolderInfo:
        with _translated("connecting"):
            self._client = self._factory()
            self._client.login(self.settings.username, self.settings.password)
            # Re-read capabilities after login: some servers announce MOVE only then.
            self._can_move = self._client.has_capability("MOVE")
            selected = self._client.select_folder(self.folder)
        uidvalidity = int(selected[b"UIDVALIDITY"])
        log.info("imap.opened", extra={"folder": self.folder, "uidvalidity": uidvalidity})
        return FolderInfo(uidvalidity=uidvalidity, ordered_uids=True)

    @property
    def client(self) -> IMAPClient:
        if self._client is None:
            raise MailboxUnavailable("the mailbox is not open")
        return self._client

    def uids_after(self, uid: int) -> list[int]:
        with _translated("searching for new mail"):
            found = self.client.search(["UID", f"{uid + 1}:*"])
        return sorted(u for u in found if u > uid)  # "n:*" always includes the last message

    def sizes(self, uids: Sequence[int]) -> dict[int, int]:
        if not uids:
            return {}
        with _translated("reading message sizes"):
            data = self.client.fetch(list(uids), ["RFC822.SIZE"])
        return {uid: int(item[b"RFC822.SIZE"]) for uid, item in data.items() if b"RFC822.SIZE" in item}

    def fetch(self, uids: Sequence[int]) -> dict[int, bytes]:
        if not uids:
            return {}
        with _translated("fetching mail"):
            data = self.client.fetch(list(uids), ["BODY.PEEK[]"])  # PEEK: do not set \Seen
        return {uid: item[b"BODY[]"] for uid, item in data.items() if b"BODY[]" in item}

    def mark_done(self, uid: int, move_to: str) -> None:
        with _translated("marking mail as processed"):
            self.client.add_flags([uid], [SEEN])
            self._move(uid, move_to)

    def set_aside(self, uid: int, move_to: str) -> None:
        with _translated("setting mail aside"):
            self.client.add_flags([uid], [FLAGGED])
            self._move(uid, move_to)

    def _move(self, uid: int, folder: str) -> None:
        if not folder or folder == self.folder:
            return
        if not self.client.folder_exists(folder):
            self.client.create_folder(folder)
        if self._can_move:
            self.client.move([uid], folder)
            return
        # Without MOVE: COPY, then expunge only this UID (UIDPLUS) so others' deletions stay.
        self.client.copy([uid], folder)
        self.client.delete_messages([uid])
        self.client.uid_expunge([uid])

    def close(self) -> None:
        if self._client is None:
            return
        client, self._client = self._client, None
        try:
            client.logout()
        except (IMAPClientError, OSError, EOFError):
            log.debug("imap.logout_failed")
