"""The watched folder renamed or deleted away: said clearly, and never created by the daemon (Dovecot)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from daemon.errors import ConfigError
from daemon.mailbox.imap import ImapMailbox
from tests.imapserver import Dovecot
from tests.test_imap_mailbox import mail, settings

pytestmark = pytest.mark.imap


def folders(server: Dovecot) -> set[str]:
    with server.client() as imap:
        return {name for _flags, _sep, name in imap.list_folders()}


@pytest.mark.parametrize("processed", ["Processed", "Jobs.Done"], ids=["beside", "inside"])
def test_a_watched_folder_renamed_away_is_a_config_error_and_nothing_is_created(dovecot: Dovecot,
                                                                                processed: str) -> None:
    """open() on a watched folder renamed away: ConfigError naming imap.folder; no folder (nor a parent) made."""
    dovecot.append("Jobs", mail(1))
    watched = replace(settings(dovecot), folder="Jobs", processed_folder=processed)
    mailbox = ImapMailbox(watched)
    mailbox.open()
    mailbox.close()
    with dovecot.client() as imap:
        imap.rename_folder("Jobs", "Jobs-old")
    before = folders(dovecot)
    for _ in range(2):  # every pass says the same, and creates nothing
        with pytest.raises(ConfigError) as raised:
            ImapMailbox(watched).open()
        assert raised.value.key == "imap.folder"
        assert "'Jobs'" in str(raised.value) and "does not exist" in str(raised.value)
        assert folders(dovecot) == before
