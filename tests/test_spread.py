"""Spreading mailboxes over the live instances (rendezvous hashing): every one held once, evenly, stably."""

from __future__ import annotations

import pytest

from daemon.store.spread import mailboxes_for, owner_of

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
