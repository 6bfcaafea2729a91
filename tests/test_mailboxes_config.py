"""Several mailboxes from one configuration: `[[mailbox]]` tables, completed from `[imap]`."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.config import DEFAULT_MAILBOX, load_settings
from daemon.errors import ConfigError
from daemon.mailbox.imap import ImapMailbox

BASE = """
[imap]
host = "imap.example.com"
username = "jobs@example.com"
password = "shared-secret"
processed_folder = "Done"
timeout_seconds = 20
[ats]
base_url = "https://acme.skailer.com/"
token = "t"
source = "Email"
"""

TWO = BASE + """
[[mailbox]]
name = "paris"
folder = "Paris"
processed_folder = "Paris/Done"
source = "Email Paris"
rules = "rules-paris"
[[mailbox]]
name = "berlin"
host = "imap.berlin.example.com"
username = "jobs@berlin.example.com"
password_file = "berlin-password"
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "berlin-password").write_text("berlin-secret\n")
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_one_imap_table_is_one_mailbox_named_default(tmp_path):
    """A configuration without [[mailbox]] (every existing one) is one mailbox: [imap], [ats] source, [rules] path."""
    s = load_settings(write(tmp_path, BASE), environ={})
    (only,) = s.all_mailboxes()
    assert (only.name, only.imap, only.source, only.rules_path) == (DEFAULT_MAILBOX, s.imap, "Email", s.rules_path)
    assert s.for_mailbox(only) == s


def test_mailbox_tables_take_what_they_leave_out_from_imap(tmp_path):
    """Each [[mailbox]] has its own folder, account, source and rules; what it leaves out is [imap]'s."""
    s = load_settings(write(tmp_path, TWO), environ={})
    paris, berlin = s.all_mailboxes()
    assert (paris.name, paris.imap.host, paris.imap.username, paris.imap.password) == (
        "paris", "imap.example.com", "jobs@example.com", "shared-secret")
    assert (paris.imap.folder, paris.imap.processed_folder, paris.source) == ("Paris", "Paris/Done", "Email Paris")
    assert paris.rules_path == tmp_path / "rules-paris"
    assert (berlin.imap.host, berlin.imap.username, berlin.imap.password, berlin.imap.port) == (
        "imap.berlin.example.com", "jobs@berlin.example.com", "berlin-secret", 993)
    assert (berlin.imap.folder, berlin.imap.processed_folder, berlin.source) == ("INBOX", "Done", "Email")
    assert berlin.imap.timeout_seconds == 20.0 and berlin.rules_path == s.rules_path
    assert s.imap == paris.imap  # the first mailbox stands for the configuration where one is meant


def test_a_mailbox_seen_alone_is_the_settings_of_that_mailbox(tmp_path):
    """`for_mailbox` gives its IMAP settings, its source as [ats] source, its rules as [rules] path."""
    s = load_settings(write(tmp_path, TWO), environ={})
    paris = s.all_mailboxes()[0]
    alone = s.for_mailbox(paris)
    assert (alone.imap, alone.ats.source, alone.rules_path, alone.all_mailboxes()) == (
        paris.imap, "Email Paris", paris.rules_path, (paris,))
    assert alone.ats.base_url == s.ats.base_url


def test_the_other_mailboxes_logins_are_own_addresses(tmp_path):
    """Mail from one mailbox's own address to another is the daemon's own, never an application."""
    s = load_settings(write(tmp_path, TWO), environ={})
    assert "jobs@berlin.example.com" in s.intake.own_addresses


def test_a_mailbox_password_wins_over_the_variable(tmp_path):
    """A mailbox's own password_file is its password even when ATS_INBOX_IMAP_PASSWORD gives [imap]'s."""
    s = load_settings(write(tmp_path, TWO), environ={"ATS_INBOX_IMAP_PASSWORD": "from-env"})
    paris, berlin = s.all_mailboxes()
    assert (paris.imap.password, berlin.imap.password) == ("from-env", "berlin-secret")


def test_mailbox_names_map_recorded_folders_to_mailboxes(tmp_path):
    """(account, folder) of a record names its mailbox."""
    s = load_settings(write(tmp_path, TWO), environ={})
    assert s.mailbox_names() == {("jobs@example.com@imap.example.com:993", "Paris"): "paris",
                                 ("jobs@berlin.example.com@imap.berlin.example.com:993", "INBOX"): "berlin"}
    assert {ImapMailbox(m.imap).account for m in s.all_mailboxes()} == {a for a, _ in s.mailbox_names()}


REFUSED = [
    ("misspelt key", 'name = "paris"\nfoldr = "Paris"', "mailbox.foldr", "Did you mean 'mailbox.folder'?"),
    ("no name", 'folder = "Paris"', "mailbox.name", "is required"),
    ("name unfit for a label", 'name = "Paris office"\nfolder = "Paris"', "mailbox.name", "only letters"),
    ("folder not a string", 'name = "paris"\nfolder = 3', "mailbox.folder", "must be a string"),
    ("processed is watched", 'name = "paris"\nfolder = "Paris"\nprocessed_folder = "Paris"',
     "mailbox.processed_folder", "is the watched folder"),
    ("port out of range", 'name = "paris"\nport = 70000', "mailbox.port", "between 0 and 65535"),
    ("an [imap] key it cannot give", 'name = "paris"\nbatch_size = 5', "mailbox.batch_size", "unknown key"),
]


@pytest.mark.parametrize(("lines", "key", "says"), [case[1:] for case in REFUSED], ids=[case[0] for case in REFUSED])
def test_refused_mailbox_table_names_key_mailbox_and_file(tmp_path, lines, key, says):
    """A mistake in a [[mailbox]] names the key, which mailbox (by name, else by place) and the file."""
    path = write(tmp_path, f"{BASE}\n[[mailbox]]\n{lines}\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    text = str(caught.value)
    assert f"'{key}'" in text and str(path) in text and says in text
    assert "[[mailbox]] named '" in text or "[[mailbox]] number 1" in text


def test_two_mailboxes_may_not_share_a_name_or_a_folder(tmp_path):
    """Two [[mailbox]] with one name, or on one folder of one account, are refused (they would fight over it)."""
    twice = f'{BASE}\n[[mailbox]]\nname = "a"\nfolder = "X"\n[[mailbox]]\nname = "a"\nfolder = "Y"\n'
    with pytest.raises(ConfigError, match="name is taken"):
        load_settings(write(tmp_path, twice), environ={})
    shared = f'{BASE}\n[[mailbox]]\nname = "a"\nfolder = "INBOX"\n[[mailbox]]\nname = "b"\nfolder = "inbox"\n'
    with pytest.raises(ConfigError, match="as mailbox 'a' does"):
        load_settings(write(tmp_path, shared), environ={})


def test_mailbox_written_as_one_table_is_refused(tmp_path):
    """[mailbox] with one bracket pair says to write [[mailbox]]."""
    with pytest.raises(ConfigError, match=r"must be written as \[\[mailbox\]\] tables"):
        load_settings(write(tmp_path, f'{BASE}\n[mailbox]\nname = "a"\n'), environ={})
