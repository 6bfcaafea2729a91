"""What an admin is told before and after the first pass over a used mailbox, from real INTERNALDATEs (Dovecot)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from daemon import cli
from tests import invariant
from tests.world import application

pytestmark = pytest.mark.imap

OLDEST = datetime(2024, 3, 5, 10, 0, tzinfo=UTC)
OLD = datetime(2025, 1, 10, 9, 30, tzinfo=UTC)


def main(*args: str) -> int:
    return cli.main(["--log-level", "ERROR", *args])


def used_mailbox(world) -> tuple[int, int, int, int]:
    """Two old mails (2024 and 2025), one recent mail already read, one recent unread: the UIDs."""
    old = world.dovecot.append("INBOX", application(1), arrived=OLD)
    oldest = world.dovecot.append("INBOX", application(2, "Senior Python Developer"), arrived=OLDEST)
    read = world.dovecot.append("INBOX", application(3, "Python Developer"), flags=[b"\\Seen"])
    new = world.dovecot.append("INBOX", application(4))
    return oldest, old, read, new


def test_a_dry_run_says_what_the_first_pass_leaves_out_from_when_to_when_and_how_to_take_it_in(world, capsys):
    """poll --dry-run on a used mailbox: how many mails it leaves out, the days they arrived, the backfill command."""
    used_mailbox(world)
    today = datetime.now(UTC).date()
    assert main("poll", "--dry-run", "--config", str(world.config)) == 0
    out = capsys.readouterr().out
    assert "dry run: 1 submitted" in out
    assert "it would leave out 3 message(s) in 'INBOX'" in out
    assert f"arrived from 2024-03-05 to {today:%Y-%m-%d}" in out
    assert "`ats-inbox backfill --since 2024-03-05`" in out
    assert not world.database.exists()


def test_status_after_the_first_pass_hints_the_day_the_oldest_left_out_mail_arrived(world, capsys):
    """status: the backfill hint is the oldest left-out INTERNALDATE's day, and pasting it takes in every one."""
    oldest, old, read, new = used_mailbox(world)
    assert main("poll", "--config", str(world.config)) == 0
    capsys.readouterr()
    assert main("status", "--config", str(world.config)) == 0
    status = capsys.readouterr().out
    assert "Left out on the first pass over INBOX: 3 message(s)" in status
    assert "arrived from 2024-03-05 to " in status
    [command] = re.findall(r"`ats-inbox (backfill --since [0-9-]+)`", status)
    assert command == "backfill --since 2024-03-05"
    assert main(*command.split(), "--config", str(world.config)) == 0
    assert sorted(r.uid for r in invariant.records(world.database)) == sorted([oldest, old, read, new])


def test_backfill_dry_run_plans_the_mail_backfill_would_take_and_touches_nothing(world, capsys):
    """backfill --dry-run: a line per mail since the date without a record, decided as the run decides; no change."""
    oldest, old, _read, new = used_mailbox(world)
    assert main("poll", "--config", str(world.config)) == 0
    before = invariant.records(world.database)
    capsys.readouterr()
    since = (OLD - timedelta(days=1)).date().isoformat()
    assert main("backfill", "--since", since, "--dry-run", "--config", str(world.config)) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("UID ")]
    assert [int(line.split()[1].rstrip(":")) for line in lines] == sorted(set(world.dovecot.uids("INBOX"))
                                                                           - {oldest, new})
    assert f"UID {old}: from Person 1 Example" in out and "would be submitted to 'Data Analyst'" in out
    assert "dry run: 2 submitted; nothing was sent, flagged, moved or recorded" in out
    assert [(r.uid, r.status) for r in invariant.records(world.database)] == [(r.uid, r.status) for r in before]
    assert len(world.sandbox.state()["candidates"]) == 1
    assert set(world.dovecot.flags("INBOX", old)) <= {b"\\Recent"}
