"""Without MOVE, on a server whose SEARCH counts sizes unlike its RFC822.SIZE (Courier-IMAP): one copy.

Courier-IMAP keeps mail with LF line ends and its SEARCH LARGER/SMALLER counts those bytes, while
RFC822.SIZE counts CRLF. `CourierSizes` makes the Courier look-alike Dovecot (no MOVE, namespace
"INBOX.") answer the same way: on the wire, every LARGER and SMALLER of a search is shifted, so
the server sees each message `SHIFT` bytes smaller than its RFC822.SIZE.
"""

from __future__ import annotations

import imaplib
import re
from dataclasses import replace

import pytest
from imapclient import IMAPClient

from daemon.domain import Placement
from daemon.mailbox.imap import ImapMailbox
from tests.imapserver import Dovecot
from tests.test_imap_mailbox import courier, courier_session, mail, settings  # noqa: F401 (fixtures)

pytestmark = pytest.mark.imap
SHIFT = 20
_SIZE = re.compile(rb"\b(LARGER|SMALLER) (\d+)")


class CourierSizes(IMAPClient):
    """A real IMAPClient whose searches by size are answered as Courier-IMAP answers them."""

    searched_by_size = 0

    def _create_IMAP4(self) -> imaplib.IMAP4:
        imap = super()._create_IMAP4()
        send = imap.send

        def shifted(data: bytes) -> None:
            if b"SEARCH" in data and _SIZE.search(data):
                self.searched_by_size += 1
                data = _SIZE.sub(lambda m: m.group(1) + b" " + str(int(m.group(2)) + SHIFT).encode(), data)
            send(data)

        imap.send = shifted  # type: ignore[method-assign]
        return imap


def courier_mailbox(server: Dovecot) -> ImapMailbox:
    s = replace(settings(server), security="none")
    return ImapMailbox(s, client_factory=lambda: CourierSizes(s.host, port=s.port, ssl=False, timeout=10))


def test_the_look_alike_searches_sizes_as_courier(courier: Dovecot) -> None:  # noqa: F811
    """Through CourierSizes, SEARCH by a message's exact RFC822.SIZE finds nothing, as on Courier-IMAP."""
    uid = courier.append("INBOX", mail(1))
    with CourierSizes(courier.host, port=courier.imap_port, ssl=False, timeout=10) as imap:
        imap.login(courier.user, courier.password)
        imap.select_folder("INBOX")
        size = imap.fetch([uid], ["RFC822.SIZE"])[uid][b"RFC822.SIZE"]
        assert imap.search(["LARGER", str(size - 1), "SMALLER", str(size + 1)]) == []


@pytest.mark.parametrize("message_id", [True, False], ids=["message-id", "no-message-id"])
@pytest.mark.parametrize("deleted_too", [False, True], ids=["cut-after-copy", "cut-after-store"])
def test_repeat_after_a_cut_leaves_one_copy_when_search_counts_sizes_otherwise(
        courier: Dovecot, deleted_too: bool, message_id: bool) -> None:  # noqa: F811
    """No MOVE, sizes searched as Courier does: a repeat after a cut past COPY finds the copy, copies nothing."""
    uid = courier.append("INBOX", mail(1, message_id=message_id))
    twin = courier.append("INBOX.Processed", mail(1, message_id=message_id).replace(b"Hello", b"Hallo"))
    with courier.client() as imap:  # the first attempt's flags and COPY, then the cut
        imap.select_folder("INBOX")
        imap.add_flags([uid], [b"\\Seen", b"$AtsInboxDone"])
        imap.copy([uid], "INBOX.Processed")
        if deleted_too:
            imap.add_flags([uid], [b"\\Deleted"])
    [copy] = [u for u in courier.uids("INBOX.Processed") if u != twin]
    mailbox = courier_mailbox(courier)
    mailbox.open()
    try:
        placement = mailbox.mark_done(uid, "INBOX.Processed")
    finally:
        mailbox.close()
    assert placement == Placement("INBOX.Processed", copy)
    assert courier.uids("INBOX.Processed") == [twin, copy]
    assert courier.uids("INBOX") == []
