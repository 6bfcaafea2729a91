"""Spreading mailboxes over the live instances (rendezvous hashing with bounded loads): every one held once,
evenly, stably."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from daemon.store.spread import Heartbeat, Turn, mailboxes_for, owner_of, spread, turn

MAILBOXES = [f"jobs-{n}@example.org/INBOX" for n in range(50)]
THREE = ["web1:101", "web2:202", "web3:303"]


def shares(instances: list[str]) -> dict[str, list[str]]:
    return {instance: mailboxes_for(instance, instances, MAILBOXES) for instance in instances}


@pytest.mark.parametrize("instances", [["solo:1"], THREE[:2], THREE])
def test_every_mailbox_goes_to_exactly_one_live_instance(instances):
    """The instances' shares are disjoint and together hold every mailbox, whatever their number."""
    held = [mailbox for share in shares(instances).values() for mailbox in share]
    assert sorted(held) == sorted(MAILBOXES)


@pytest.mark.parametrize(("mailboxes", "instances"), [(50, 3), (8, 3), (4, 3), (20, 4), (3, 5)])
def test_each_instance_holds_an_even_share_whatever_their_names(mailboxes, instances):
    """Of n mailboxes over k instances each holds n // k or one more, for any names (host:pid, so a restart draws
    new ones): plain rendezvous hashing left one of three daemons without any of eight mailboxes one time in ten."""
    names = [f"m{n}" for n in range(mailboxes)]
    for draw in range(200):
        live = [f"web{i}.example:{1000 + 7919 * draw + 104729 * i}" for i in range(instances)]
        owners = spread(names, live)
        sizes = sorted(list(owners.values()).count(instance) for instance in live)
        assert sorted(owners) == sorted(names) and set(owners.values()) <= set(live)
        assert sizes[-1] - sizes[0] <= 1, (live, sizes)


def test_when_an_instance_dies_its_mailboxes_go_to_the_others_and_few_others_move():
    """web3 gone: its mailboxes go to the other two, which keep all but a few of theirs (the even share grows, so
    a mailbox or two may change hands between them), over many draws of names."""
    moved = []
    for draw in range(100):
        three = [f"web{i}.example:{1000 + 7919 * draw + 104729 * i}" for i in range(3)]
        before, after = spread(MAILBOXES, three), spread(MAILBOXES, three[:2])
        assert all(after[m] in three[:2] for m in MAILBOXES if before[m] == three[2])
        moved.append(sum(1 for m in MAILBOXES if before[m] != three[2] and after[m] != before[m]))
    assert max(moved) <= 5 and sum(moved) / len(moved) <= 1.5, moved


def test_an_instance_that_does_not_serve_a_mailbox_never_gets_it():
    """Configured differently (a roll-out half done): each mailbox goes to an instance that serves it, even when
    that one has its even share already; no mailbox is left unserved."""
    names = [f"m{n}" for n in range(9)]
    owners = spread(names, {"a:1": names, "b:2": names[:1], "c:3": names[:1]})
    assert sorted(owners) == names
    assert all(owner == "a:1" for mailbox, owner in owners.items() if mailbox != "m0")
    assert spread(names, {}) == {} and spread([], THREE) == {}


def test_an_instance_not_yet_in_the_live_list_counts_itself_in():
    """At start, before its first heartbeat is read back, an instance still takes its own share."""
    assert mailboxes_for("web3:303", THREE[:2], MAILBOXES) == shares(THREE)["web3:303"]
    assert owner_of("x", []) is None


NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
ALIVE, DEAD = NOW + timedelta(seconds=200), NOW - timedelta(seconds=1)  # heartbeat deadlines
HELD, RAN_OUT = NOW + timedelta(seconds=100), NOW - timedelta(seconds=1)  # lease deadlines


def heartbeats(deadlines: dict[str, datetime]) -> dict[str, Heartbeat]:
    """Heartbeats with these deadlines, of instances that name no mailbox (each serves any)."""
    return {name: Heartbeat(until) for name, until in deadlines.items()}


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
    decided = turn("web1:101", mailbox, heartbeats(beats), holder, until, NOW)
    assert (decided.take, decided.reason) == (take, reason)


def test_a_mailbox_of_this_instances_share_still_held_by_another_is_its_own_to_watch():
    """Not taken while another live instance holds its lease, but the spread's: this instance listens for its mail
    (IDLE), so the pass that takes it comes as soon as the other lets go and mail arrives."""
    everyone = heartbeats({"web1:101": ALIVE, "web2:202": ALIVE, "web3:303": ALIVE})
    held = turn("web1:101", MINE, everyone, "web2:202", HELD, NOW)
    assert held == Turn(False, "held by another live instance", mine=True)
    assert turn("web1:101", WEB2S, everyone, None, None, NOW).mine is False
    assert turn("web1:101", MINE, everyone, None, None, NOW).mine is True


def test_this_instances_own_lease_on_another_share_is_to_be_let_go():
    """Left behind by a release that failed: not a turn, and let go, else neither instance works on the mailbox until
    the lease runs out; one that ran out needs nothing."""
    everyone = heartbeats({"web1:101": ALIVE, "web2:202": ALIVE, "web3:303": ALIVE})
    assert turn("web1:101", WEB2S, everyone, "web1:101", HELD, NOW) == Turn(
        False, "another live instance's share", mine=False, let_go=True)
    assert not turn("web1:101", WEB2S, everyone, "web1:101", RAN_OUT, NOW).let_go
    assert not turn("web1:101", MINE, everyone, "web1:101", HELD, NOW).let_go


def test_the_turns_of_instances_naming_their_mailboxes_follow_the_even_spread():
    """Three instances whose heartbeats name the same eight mailboxes: each one's turns are its share of the even
    spread (two or three each, none twice, none left), and one not yet in the heartbeats counts itself in."""
    names = [f"jobs-{n}@example.org/INBOX" for n in range(8)]
    beats = {instance: Heartbeat(ALIVE, frozenset(names)) for instance in THREE}
    turns = {instance: [m for m in names if turn(instance, m, beats, None, None, NOW, names).take]
             for instance in THREE}
    assert sorted(m for share in turns.values() for m in share) == sorted(names)
    assert all(2 <= len(share) <= 3 for share in turns.values()), turns
    assert turns == {instance: mailboxes_for(instance, dict.fromkeys(THREE, names), names) for instance in THREE}
    newcomer = {instance: beat for instance, beat in beats.items() if instance != "web3:303"}
    assert [m for m in names if turn("web3:303", m, newcomer, None, None, NOW, names).take] == turns["web3:303"]
