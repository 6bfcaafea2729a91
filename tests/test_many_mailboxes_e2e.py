"""End to end over Dovecot and the sandbox ATS: one `ats-inbox run` serving three mailboxes (three folders of one
account, the third through an IMAP proxy); mail in each is submitted exactly once, the third's server cut off
leaves the other two flowing, and `status` and `messages list` say which mailbox is which."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from daemon.mail.identity import content_key
from tests import invariant
from tests.e2e import imap_settings, run_cli, wait_for, write_config
from tests.imapproxy import ImapProxy
from tests.test_run_signals import Daemon
from tests.world import World, application

pytestmark = pytest.mark.imap
FOLDERS = {"paris": "Paris", "berlin": "Berlin", "rome": "Rome"}


@pytest.fixture
def proxy(dovecot) -> Iterator[ImapProxy]:
    relay = ImapProxy(dovecot.imap_port)
    yield relay
    relay.stop()


def three_mailboxes(world: World, proxy: ImapProxy):
    """[imap]: plain IMAP to Dovecot, no reconnects within a pass; [[mailbox]] paris and berlin there, rome through
    the proxy. Paris moves its mail to its own processed folder."""
    imap = imap_settings(world.dovecot, security="none", trust=False, port=world.dovecot.imap_port,
                         reconnect_attempts=0, processed_folder="", review_folder="", idle_seconds=10)
    path = write_config(world.tmp / "mailboxes.toml", imap=imap, ats_url=world.url, database=world.database)
    tables = ['[[mailbox]]\nname = "paris"\nfolder = "Paris"\nprocessed_folder = "Paris-done"',
              '[[mailbox]]\nname = "berlin"\nfolder = "Berlin"',
              f'[[mailbox]]\nname = "rome"\nfolder = "Rome"\nport = {proxy.port}']
    path.write_text(path.read_text() + "\n".join(tables) + "\n")
    for folder in FOLDERS.values():
        world.dovecot.create_folder(folder)
    return path


def test_one_daemon_serves_three_mailboxes_and_one_server_down_stops_none_of_the_others(world, proxy):
    """Each mailbox's mail is submitted exactly once; with rome's server cut off, paris and berlin go on taking mail
    in, rome's failure is its own in `status` (exit 1, named), and `messages list` names each message's mailbox."""
    config = three_mailboxes(world, proxy)
    first = {name: application(n, email=f"{name}-first@example.org") for n, name in enumerate(FOLDERS, 1)}
    for name, raw in first.items():
        world.deliver(raw, folder=FOLDERS[name])
    daemon = Daemon(config)
    try:
        wait_for(lambda: len(world.sandbox.state()["actions"]) == 3, timeout=60)
        wait_for(lambda: _last_pass(config, "rome").startswith("#") and " ok " in _last_pass(config, "rome"))
        proxy.stop()  # rome's server is gone: connections refused
        lost = application(10, email="rome-second@example.org")
        world.dovecot.append("Rome", lost)
        later = [application(11, email="paris-second@example.org"), application(12, email="berlin-second@example.org")]
        world.deliver(later[0], folder="Paris")
        world.deliver(later[1], folder="Berlin")
        wait_for(lambda: len(world.sandbox.state()["actions"]) == 5, timeout=60)  # IDLE and passes, without rome
        wait_for(lambda: "failed" in _last_pass(config, "rome"), timeout=60)
        status = run_cli("status", "--config", str(config))
        listed = run_cli("messages", "list", "--status", "submitted", "--config", str(config))
        daemon.process.send_signal(signal.SIGTERM)
        assert daemon.process.wait(timeout=30) == 0, "".join(daemon.lines)[-3000:]
    finally:
        daemon.process.kill()
    assert status.code == 1, status.stdout
    assert status.stdout.startswith("Health: UNHEALTHY: mailbox rome: the last pass (#")
    assert "Last pass of paris: " in status.stdout and "Last pass of berlin: " in status.stdout
    assert "mailbox paris" not in status.stdout.split("\n")[0] and "mailbox berlin" not in status.stdout.split("\n")[0]
    rows = [line.split() for line in listed.stdout.splitlines()[2:] if line.strip()]
    assert sorted(row[3] for row in rows) == ["berlin", "berlin", "paris", "paris", "rome"]
    statuses = invariant.check(world.sandbox.state(), world.database, world.delivered)
    assert set(statuses.values()) == {"submitted"} and len(statuses) == 5
    assert content_key(lost) not in {r.content_key for r in invariant.records(world.database)}
    assert world.dovecot.uids("Paris") == [] and len(world.dovecot.uids("Paris-done")) == 2
    assert sum('"idle.listening"' in line for line in daemon.lines) >= 3  # an IDLE connection for each mailbox


def _last_pass(config, mailbox: str) -> str:
    """What `status` says of the mailbox's last pass ("" before it has one)."""
    shown = run_cli("status", "--config", str(config)).stdout
    return shown.split(f"Last pass of {mailbox}: ")[1].split("\n")[0] if f"Last pass of {mailbox}: " in shown else ""


def test_the_dry_run_previews_every_mailbox_as_the_run_takes_it(world, proxy):
    """poll --dry-run plans each mailbox's new mail (its own folder), each line naming its mailbox; then the pass
    takes exactly those mails: the preview and the run agree on every mailbox, not only the first."""
    config = three_mailboxes(world, proxy)
    for n, name in enumerate(FOLDERS, 1):
        world.deliver(application(n, email=f"{name}@example.org"), folder=FOLDERS[name])
    dry = run_cli("poll", "--dry-run", "--config", str(config))
    assert dry.code == 0, dry.stderr[-3000:]
    for name in FOLDERS:
        assert any(line.startswith(f"[{name}] UID ") and f"{name}@example.org" in line
                   for line in dry.stdout.splitlines()), dry.stdout
    assert "dry run: 3 submitted" in dry.stdout
    assert invariant.records(world.database) == [] and world.sandbox.state()["actions"] == []
    world.poll(config)
    statuses = invariant.check(world.sandbox.state(), world.database, world.delivered)
    assert sorted(statuses.values()) == ["submitted"] * 3
