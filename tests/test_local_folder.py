"""The local mail source: a folder of .eml files or a Maildir, read-only, stable UIDs."""

from __future__ import annotations

import pytest

from daemon.domain import Placement
from daemon.errors import MailboxUnavailable
from daemon.mailbox.base import MessageFacts
from daemon.mailbox.local import LocalFolder


def test_eml_folder_reads_only_eml_files(tmp_path):
    """Every .eml file is a message; other files (a README) are not."""
    (tmp_path / "a.eml").write_bytes(b"Subject: a\r\n\r\nA")
    (tmp_path / "b.eml").write_bytes(b"Subject: b\r\n\r\nB")
    (tmp_path / "README.md").write_text("not mail")
    folder = LocalFolder(tmp_path)
    folder.open()
    uids = folder.uids_after(0)
    assert sorted(folder.fetch(uids).values()) == [b"Subject: a\r\n\r\nA", b"Subject: b\r\n\r\nB"]


def test_maildir_reads_new_and_cur(tmp_path):
    """In a Maildir, every file in new/ and cur/ is a message; tmp/ is not."""
    for sub in ("new", "cur", "tmp"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / f"1.{sub}:2,").write_bytes(f"Subject: {sub}\r\n\r\n".encode())
    folder = LocalFolder(tmp_path)
    folder.open()
    bodies = folder.fetch(folder.uids_after(0))
    assert sorted(bodies.values()) == [b"Subject: cur\r\n\r\n", b"Subject: new\r\n\r\n"]


def test_uids_are_stable_across_runs_and_files_are_untouched(tmp_path):
    """The same file has the same UID next time; marking leaves the file where it is."""
    (tmp_path / "a.eml").write_bytes(b"Subject: a\r\n\r\n")
    first = LocalFolder(tmp_path)
    first.open()
    [uid] = first.uids_after(0)
    first.mark_done(uid, "Processed")
    first.set_aside(uid, "Review")
    (tmp_path / "0-new.eml").write_bytes(b"Subject: new\r\n\r\n")
    again = LocalFolder(tmp_path)
    again.open()
    assert uid in again.uids_after(0)
    assert (tmp_path / "a.eml").exists()


def test_missing_folder_is_reported(tmp_path):
    """A folder that does not exist is a clear mailbox error."""
    with pytest.raises(MailboxUnavailable, match="does not exist"):
        LocalFolder(tmp_path / "nope").open()


def test_facts_give_file_sizes_and_actions_leave_mail_in_place(tmp_path):
    """facts() reports each file's size and no keywords; both actions place the mail where it is."""
    (tmp_path / "a.eml").write_bytes(b"Subject: a\r\n\r\nA")
    folder = LocalFolder(tmp_path)
    folder.open()
    [uid] = folder.uids_after(0)
    assert folder.facts([uid, 12345]) == {uid: MessageFacts(size=len(b"Subject: a\r\n\r\nA"))}
    assert folder.mark_done(uid, "Processed") == Placement(folder.folder, uid)
    assert folder.set_aside(uid, "Review") == Placement(folder.folder, uid)
