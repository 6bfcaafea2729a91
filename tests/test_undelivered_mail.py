"""Mail the IMAP server will not deliver, or delivers slowly, stops nothing and loses nothing.

A proxy in front of Dovecot (tests/imapproxy.py) refuses one message's body FETCH with NO,
leaves one out of an OK answer, or trickles the answer a byte at a time; `ats-inbox poll`
and `run` go through it as through any server.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.config import ImapSettings
from daemon.mailbox.imap import ImapMailbox
from tests.e2e import cli, imap_settings, run_cli, wait_for, write_config
from tests.imapproxy import ImapProxy
from tests.invariant import records
from tests.world import World, application

pytestmark = pytest.mark.imap
WORDS = "[SERVERBUG] Internal error occurred. Refer to server log for more information."


@pytest.fixture
def proxy(dovecot) -> Iterator[ImapProxy]:
    relay = ImapProxy(dovecot.imap_port)
    yield relay
    relay.stop()


def proxied(world: World, proxy: ImapProxy, *, max_attempts: int = 5, **imap: object) -> Path:
    """A config whose [imap] goes through `proxy` (plain IMAP, no reconnects, mail left in INBOX)."""
    settings = {**imap_settings(world.dovecot, security="none", trust=False, reconnect_attempts=0,
                                processed_folder="", review_folder=""), **imap, "port": proxy.port}
    path = write_config(world.tmp / "proxied.toml", imap=settings, ats_url=world.url, database=world.database)
    text = path.read_text().replace("[imap]", "[imap]\nidle = false")
    path.write_text(text.replace('source = "Email"', f'source = "Email"\nmax_attempts = {max_attempts}'))
    return path


def deliver(world: World, *mails: bytes) -> list[int]:
    """Deliver `mails` to INBOX; their UIDs."""
    world.delivered += mails
    return [world.dovecot.append("INBOX", mail) for mail in mails]


def statuses(world: World) -> dict[int, str]:
    return {r.uid: r.status for r in records(world.database)}


def record(world: World, uid: int):
    return next(r for r in records(world.database) if r.uid == uid)


# -- finding 1: a body FETCH answered NO ------------------------------------------------------

def test_a_message_the_server_refuses_is_set_aside_while_the_rest_flows(world, proxy):
    """One message's FETCH answered NO: the rest reach the ATS; it is retried, then set aside with the server's text."""
    one, two, three = deliver(world, application(1), application(2), application(3))
    proxy.refuse[two] = WORDS
    config = proxied(world, proxy, max_attempts=2)
    world.poll(config)
    assert statuses(world) == {one: "submitted", two: "pending", three: "submitted"}
    assert WORDS in record(world, two).last_error
    [four] = deliver(world, application(4))
    world.poll(config)
    assert statuses(world) == {one: "submitted", two: "review", three: "submitted", four: "submitted"}
    assert WORDS in record(world, two).reason and "2 attempts" in record(world, two).reason
    assert b"\\Flagged" in world.dovecot.flags("INBOX", two)
    assert len(world.sandbox.state()["candidates"]) == 3


def test_the_dry_run_says_a_refused_message_would_be_tried_again(world, proxy):
    """poll --dry-run says a message the server refuses is not fetched and would be tried again, not set aside."""
    one, two = deliver(world, application(1), application(2))
    proxy.refuse[two] = WORDS
    result = run_cli("poll", "--dry-run", "--config", str(proxied(world, proxy)))
    assert result.code == 0, result.stderr[-2000:]
    assert f"UID {two}: not fetched, would be tried again: the IMAP server refused to send it: {WORDS}" in result.stdout
    assert f"UID {one}: from Person 1 Example" in result.stdout


# -- finding 2: a message left out of an OK FETCH answer --------------------------------------

def test_a_message_left_out_of_a_fetch_answer_stays_owed(world, proxy):
    """A body FETCH answered OK without a message that still exists: it stays owed and is taken in once sent."""
    one, two, three = deliver(world, application(1), application(2), application(3))
    proxy.omit.add(two)
    config = proxied(world, proxy)
    world.poll(config)
    assert statuses(world) == {one: "submitted", two: "pending", three: "submitted"}
    assert "left it out" in record(world, two).last_error
    proxy.omit.clear()
    world.poll(config)
    assert set(world.check().values()) == {"submitted"}


def settings_through(proxy: ImapProxy, dovecot, **changes: object) -> ImapSettings:
    return ImapSettings(host="127.0.0.1", port=proxy.port, security="none", username=dovecot.user,
                        password=dovecot.password, ca_file="", folder="INBOX", processed_folder="",
                        review_folder="", ignored_folder="", batch_size=50, max_message_bytes=10 * 1024 * 1024,
                        timeout_seconds=10.0, reconnect_attempts=0, **changes)


def test_the_mailbox_tells_a_refused_or_left_out_message_from_a_gone_one(dovecot, proxy):
    """fetch() gives the bodies it got, the server's words for a refused or left-out UID, and nothing for a gone one."""
    uids = [dovecot.append("INBOX", application(n)) for n in range(1, 5)]
    proxy.refuse[uids[1]] = WORDS
    proxy.omit.add(uids[2])
    mailbox = ImapMailbox(settings_through(proxy, dovecot))
    mailbox.open()
    try:
        assert set(mailbox.facts(uids)) == set(uids)
        with dovecot.client() as other:  # another client expunges the fourth meanwhile
            other.select_folder("INBOX")
            other.delete_messages([uids[3]])
            other.expunge()
        fetched = mailbox.fetch(uids)
    finally:
        mailbox.close()
    assert set(fetched) == {uids[0]}
    assert fetched.undelivered == {uids[1]: f"the IMAP server refused to send it: {WORDS}",
                                   uids[2]: "the IMAP server left it out of its answer to FETCH"}


# -- finding 4: an answer that trickles --------------------------------------------------------

def test_a_trickled_fetch_answer_ends_the_pass_within_its_deadline(world, proxy):
    """A body sent a byte at a time: the pass ends after the operation's deadline, not after the whole answer."""
    world.deliver(application(1))
    proxy.trickle = 0.05
    config = proxied(world, proxy, timeout_seconds=1)
    started = time.monotonic()
    result = run_cli("poll", "--config", str(config), timeout=60)
    assert result.code == 1, result.stderr[-2000:]
    assert "did not finish answering" in result.stderr
    assert time.monotonic() - started < 20
    assert proxy.trickling.is_set()


def test_a_stop_is_honoured_within_seconds_during_a_trickled_fetch(world, proxy):
    """SIGTERM while the server trickles a body: `run` exits within seconds, though the deadline is far off."""
    world.deliver(application(1))
    proxy.trickle = 0.05
    config = proxied(world, proxy, timeout_seconds=600)
    process = subprocess.Popen([*cli(), "run", "--config", str(config)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    try:
        wait_for(proxy.trickling.is_set, timeout=60)
        stopped = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        assert time.monotonic() - stopped < 10
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stderr.close()
