"""Spreading mailboxes over the live instances (rendezvous hashing): every one held once, evenly, stably."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from daemon.store.spread import Turn, mailboxes_for, owner_of, turn

MAILBOXES = [f"jobs-{n}@example.org/INBOX" for n in range(50)]
THREE = ["web1:101", "web2:202", "web3:303"]


def shares(instances: list[str]) -> dict[str, list[str]]:
    return {instance: mailboxes_for(instance, instances, MAILBOXES) for instance in instances}


@pytest.mark.parametrize("instances", [["solo:1"], THREE[:2], THREE])
def test_every_mailbox_goes_to_exactly_one_live_instance(instances):
    """The instances' shares are disjoint and together hold every mailbox, whatever their number."""
    held = [mailbox for share in shares(instances).values() for mailbox in share]
    assert sorted(held) == sorted(MAILBOXES)


def test_fifty_mailboxes_are_spread_evenly_over_three_instances():
    """No instance of three gets fewer than 10 or more than 24 of 50 mailboxes (a fair share is 16 or 17)."""
    sizes = sorted(len(share) for share in shares(THREE).values())
    assert sizes[0] >= 10 and sizes[-1] <= 24, sizes


def test_when_an_instance_dies_only_its_mailboxes_move():
    """web3 gone: its mailboxes go to the other two, which keep every mailbox they had."""
    before, after = shares(THREE), shares(THREE[:2])
    for instance in THREE[:2]:
        assert set(before[instance]) <= set(after[instance])
    moved = {m for i in THREE[:2] for m in after[i]} - {m for i in THREE[:2] for m in before[i]}
    assert moved == set(before["web3:303"])


def test_an_instance_not_yet_in_the_live_list_counts_itself_in():
    """At start, before its first heartbeat is read back, an instance still takes its own share."""
    assert mailboxes_for("web3:303", THREE[:2], MAILBOXES) == shares(THREE)["web3:303"]
    assert owner_of("x", []) is None


NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
ALIVE, DEAD = NOW + timedelta(seconds=200), NOW - timedelta(seconds=1)  # heartbeat deadlines
HELD, RAN_OUT = NOW + timedelta(seconds=100), NOW - timedelta(seconds=1)  # lease deadlines


def owned_by(instance: str, instances: list[str]) -> str:
    """A mailbox the spread over `instances` gives to `instance`."""
    return next(m for m in MAILBOXES if owner_of(m, instances) == instance)


MINE = owned_by("web1:101", THREE)
WEB2S = owned_by("web2:202", THREE)
WEB2S_WITHOUT_WEB2 = next(  # web2's, and web1's once web2 is gone
    m for m in MAILBOXES if owner_of(m, THREE) == "web2:202" and owner_of(m, ["web1:101", "web3:303"]) == "web1:101")


@pytest.mark.parametrize(("mailbox", "beats", "holder", "until", "take", "reason"), [
    (MINE, {"web1:101": ALIVE, "web2:202": ALIVE, "web3:303": ALIVE}, None, None, True, "this instance's share"),
    (WEB2S, {"web1:101": ALIVE, "web2:202": ALIVE, "web3:303": ALIVE}, None, None, False,
     "another live instance's share"),
    # web2 silent for a lease period: its heartbeat ran out, its share goes to the others
    (WEB2S_WITHOUT_WEB2, {"web1:101": ALIVE, "web2:202": DEAD, "web3:303": ALIVE}, None, None, True,
     "this instance's share"),
    # web2 forgotten altogether (it left, or a dead process of this host): the same
    (WEB2S_WITHOUT_WEB2, {"web1:101": ALIVE, "web3:303": ALIVE}, None, None, True, "this instance's share"),
    # a lease another live instance holds is left alone, even in this instance's share
    (MINE, {"web1:101": ALIVE, "web2:202": ALIVE, "web3:303": ALIVE}, "web2:202", HELD, False,
     "held by another live instance"),
    # ... but not when the holder has stopped beating: anyone may take it (the store waits for its deadline)
    (WEB2S, {"web1:101": ALIVE, "web2:202": DEAD, "web3:303": ALIVE}, "web2:202", HELD, True,
     "its holder stopped beating"),
    # a lease that ran out counts as free: the spread decides
    (MINE, {"web1:101": ALIVE, "web2:202": ALIVE, "web3:303": ALIVE}, "web2:202", RAN_OUT, True,
     "this instance's share"),
    (WEB2S, {"web1:101": ALIVE, "web2:202": ALIVE, "web3:303": ALIVE}, "web2:202", RAN_OUT, False,
     "another live instance's share"),
    # our own lease left behind: the spread decides, as for a free one
    (MINE, {"web1:101": ALIVE, "web2:202": ALIVE, "web3:303": ALIVE}, "web1:101", HELD, True, "this instance's share"),
    # the first pass, before this instance's first beat is read back: it counts itself in
    (MINE, {"web2:202": ALIVE, "web3:303": ALIVE}, None, None, True, "this instance's share"),
    # alone (SQLite, one daemon): every mailbox is its own, as before instances were spread
    (WEB2S, {}, None, None, True, "this instance's share"),
])
def test_an_instance_tries_a_lease_in_its_turn_only(mailbox, beats, holder, until, take, reason):
    """web1's decision to try a mailbox's lease, from the heartbeats and the lease's holder (a table)."""
    decided = turn("web1:101", mailbox, beats, holder, until, NOW)
    assert (decided.take, decided.reason) == (take, reason)


def test_a_mailbox_of_this_instances_share_still_held_by_another_is_its_own_to_watch():
    """Not taken while another live instance holds its lease, but the spread's: this instance listens for its mail
    (IDLE), so the pass that takes it comes as soon as the other lets go and mail arrives."""
    everyone = {"web1:101": ALIVE, "web2:202": ALIVE, "web3:303": ALIVE}
    held = turn("web1:101", MINE, everyone, "web2:202", HELD, NOW)
    assert held == Turn(False, "held by another live instance", mine=True)
    assert turn("web1:101", WEB2S, everyone, None, None, NOW).mine is False
    assert turn("web1:101", MINE, everyone, None, None, NOW).mine is True


def test_this_instances_own_lease_on_another_share_is_to_be_let_go():
    """Left behind by a release that failed: not a turn, and let go, else neither instance works on the mailbox until
    the lease runs out; one that ran out needs nothing."""
    everyone = {"web1:101": ALIVE, "web2:202": ALIVE, "web3:303": ALIVE}
    assert turn("web1:101", WEB2S, everyone, "web1:101", HELD, NOW) == Turn(
        False, "another live instance's share", mine=False, let_go=True)
    assert not turn("web1:101", WEB2S, everyone, "web1:101", RAN_OUT, NOW).let_go
    assert not turn("web1:101", MINE, everyone, "web1:101", HELD, NOW).let_go
