"""The domain's words: what a recorded message can be, what a rule can say, and the names of
a message and a person (pure data, imported by every layer, importing none).

Statuses and rule actions are `StrEnum`s: each member is its own text, so the store keeps
plain strings and a value read back compares equal to the member.

    Status      what became of a recorded message
    REVIEW      set aside for a person, with the reason
    UNCERTAIN   a create call's outcome is unknown: held for a person
    PENDING     recorded; not finished (a transient failure, or a person asked for a retry)
    SUBMITTED   a candidate exists in the ATS (new, or an earlier one commented on)
    DUPLICATE   another copy of a mail already recorded (see duplicate_of)
    RESOLVED    a person dealt with it (see note)
    IGNORED     never for the ATS (a rule said so, or automatic mail): recorded with the reason
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    """What became of a recorded message; listed in the order people look at them (the queue first)."""

    REVIEW = "review"
    UNCERTAIN = "uncertain"
    PENDING = "pending"
    SUBMITTED = "submitted"
    DUPLICATE = "duplicate"
    RESOLVED = "resolved"
    IGNORED = "ignored"


SETTLED = frozenset(Status) - {Status.PENDING}  # a verdict was reached; the mailbox action follows
NEEDS_PERSON = frozenset({Status.REVIEW, Status.UNCERTAIN})  # the review queue
DONE = frozenset({Status.SUBMITTED, Status.RESOLVED, Status.IGNORED})  # marked done in the mailbox


class RuleAction(StrEnum):
    """What a routing rule says of the mail it matches."""

    SUBMIT = "submit"
    REVIEW = "review"
    IGNORE = "ignore"


@dataclass(frozen=True, slots=True, order=True)
class MessageKey:
    """A message's identity in one folder: UIDs only mean something with their UIDVALIDITY."""

    account: str
    folder: str
    uidvalidity: int
    uid: int


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a message is after a mailbox action: its folder, and its UID there when known."""

    folder: str
    uid: int | None = None


@dataclass(frozen=True, slots=True)
class Person:
    """Someone named in a mail: display name ("" when none) and lower-cased address ("" when none)."""

    name: str
    address: str

    def named(self) -> str:
        """'Name <address>', or whichever of the two is known."""
        if self.name and self.address:
            return f"{self.name} <{self.address}>"
        return self.name or self.address


class Role(StrEnum):
    """What a person may do on the review page: a recruiter works the queue; an admin also sees the
    configuration and health."""

    RECRUITER = "recruiter"
    ADMIN = "admin"
