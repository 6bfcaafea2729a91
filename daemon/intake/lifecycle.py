"""A message's life: every status change of a recorded message is decided here (pure).

Whoever changes a record (the runner after a flow, a person with `messages retry/resolve`,
retention, the dry run reading what is owed) asks this module what the change is, then one
named store write carries it out. Nothing here touches the store, the mailbox or the ATS.

After a flow (`judge`), by the disposition of its error (daemon.intake.outcome.classify):

    disposition        status        attempts                           the pass
    none (went its     the flow's    kept                               goes on
      whole way)       (submitted, ignored, review)
    PERMANENT, BUG     review        kept                               goes on
    UNCERTAIN          uncertain     kept                               pauses (an answer was lost)
    TRANSIENT          pending       kept; given back when the ATS      pauses when the ATS is down,
                                     does not answer                    or after a few in a row
    UNTRIED            pending       given back (never tried)           as TRANSIENT
    CONFLICT           -             (a person changed it meanwhile)    goes on
    CONFIG, ATS_WIDE,  pending       given back (not the message's)     stops: the error is raised
      STORE_BUSY, MAILBOX_DOWN,                                         (MAILBOX_DOWN: reconnect)
      ACTION_REFUSED
    pending with `max_attempts` used up            -> review, "gave up after N attempts"

Not fetched (`undelivered`): the IMAP server would not send a message's body (a NO to its
FETCH, or left out of the answer while it is still in the folder): pending, the attempt
counted, the pass goes on; with `max_attempts` used up -> review, with the server's words.

Before a flow (`before_start`): a pending record whose attempts are used up (the mail killed
the process that many times, or kept failing) goes to review instead of starting again.

People (`require`): `retry` takes review, uncertain or ignored mail back to pending (attempts 0);
`resolve` takes review, uncertain or pending mail to resolved; `reopen` takes resolved mail back to
review (a person resolved it by mistake); `ignore` takes review or uncertain mail to ignored (not
an application: its mail is settled as a resolved one's).

The mailbox (`mailbox_move`): submitted, resolved and ignored mail is marked done; review and
uncertain mail is set aside; a duplicate follows its original (waits while it is pending).

Retention (`keeps_personal_data`): personal data stays on pending mail only (it is still owed).
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass

from daemon.domain import DONE, SETTLED, Status
from daemon.errors import NotAllowed
from daemon.intake.outcome import Disposition, Outcome

OUTAGE = "the ATS is not answering"
LOST_ANSWER = "an ATS answer was lost (too slow, or the connection dropped)"
REPEATED = "repeated failures"


@dataclass(frozen=True, slots=True)
class Limits:
    max_attempts: int = 5  # starts of one message (failed or killed) before a person looks
    failures_before_pause: int = 3  # messages failing transiently in a row end the pass


class Move(enum.Enum):
    """What the runner writes for a message after its flow."""

    SETTLE = "settle"  # the outcome's status, with what the flow found
    DEFER = "defer"  # stays pending for a later pass
    SET_ASIDE = "set aside"  # gave up: review, with the reason
    GIVE_BACK = "give back"  # stays pending, the attempt not counted; the pass stops
    LEAVE = "leave"  # a person changed the record meanwhile: nothing is written


class Pass(enum.Enum):
    """What becomes of the pass after a message."""

    GOES_ON = "goes on"
    PAUSES = "pauses"  # no further message starts; those in flight land
    STOPS = "stops"  # the error is raised (a reconnect for MAILBOX_DOWN)


@dataclass(frozen=True, slots=True)
class Verdict:
    move: Move
    status: Status | None  # None with LEAVE
    attempts: int
    reason: str = ""
    last_error: str = ""
    then: Pass = Pass.GOES_ON
    pause: str = ""  # why the pass pauses, when it does
    outage: bool = False  # the pause is because the ATS does not answer (usefully)
    streak: int = 0  # messages failing transiently in a row, this one included


_SETTLED_BY = {Disposition.PERMANENT: Status.REVIEW, Disposition.BUG: Status.REVIEW,
               Disposition.UNCERTAIN: Status.UNCERTAIN}
_DEFERRED = frozenset({Disposition.TRANSIENT, Disposition.UNTRIED})


def status_after(disposition: Disposition | None, status: Status) -> Status:
    """The status a flow's outcome comes to: the flow's own when it went its whole way."""
    if disposition is None:
        return status
    return _SETTLED_BY.get(disposition, Status.PENDING)


def needs_probe(outcome: Outcome) -> bool:
    """Whether the verdict depends on the ATS answering at all (ask it only then)."""
    return outcome.disposition in _DEFERRED


def judge(outcome: Outcome, attempts: int, *, ats_answers: bool = True, streak: int = 0,
          limits: Limits = Limits()) -> Verdict:
    """The verdict on a pending message whose flow came to `outcome`, its attempt (`attempts`,
    this one included) counted; `streak` transient failures came just before it."""
    disposition = outcome.disposition
    if disposition in _DEFERRED:
        return _deferred(outcome, attempts, ats_answers=ats_answers, streak=streak, limits=limits)
    if disposition is Disposition.CONFLICT:
        return Verdict(Move.LEAVE, None, attempts, streak=streak)
    status = status_after(disposition, Status(outcome.status))
    if status is Status.PENDING:  # not the message's fault: ATS-wide, database, configuration, mailbox
        return Verdict(Move.GIVE_BACK, Status.PENDING, max(0, attempts - 1), last_error=_error(outcome),
                       then=Pass.STOPS, streak=streak)
    if disposition is Disposition.UNCERTAIN:
        return Verdict(Move.SETTLE, status, attempts, outcome.reason, then=Pass.PAUSES, pause=LOST_ANSWER,
                       outage=True)
    return Verdict(Move.SETTLE, status, attempts, outcome.reason)


def _deferred(outcome: Outcome, attempts: int, *, ats_answers: bool, streak: int, limits: Limits) -> Verdict:
    """Kept for a later pass. The attempt counts only when it was tried and the ATS is otherwise
    answering: an outage must not use up every waiting message's attempts."""
    counted = attempts - (1 if not ats_answers or outcome.disposition is Disposition.UNTRIED else 0)
    streak += 1
    pause, then = "", Pass.GOES_ON
    if not ats_answers:
        pause, then = OUTAGE, Pass.PAUSES
    elif streak >= limits.failures_before_pause:
        pause, then = REPEATED, Pass.PAUSES
    error = _error(outcome)
    if counted >= limits.max_attempts:
        return Verdict(Move.SET_ASIDE, Status.REVIEW, counted, _gave_up(counted, error), then=then, pause=pause,
                       outage=not ats_answers, streak=streak)
    return Verdict(Move.DEFER, Status.PENDING, counted, last_error=error, then=then, pause=pause,
                   outage=not ats_answers, streak=streak)


def before_start(attempts: int, last_error: str, limits: Limits = Limits()) -> Verdict | None:
    """A pending message about to start: None to start it, or the verdict that its attempts are used up."""
    if attempts < limits.max_attempts:
        return None
    if last_error:
        reason = _gave_up(attempts, last_error)
    else:
        reason = (f"stopped the daemon {attempts} times (killed or crashed while handling it); "
                  "a person should look at this mail")
    return Verdict(Move.SET_ASIDE, Status.REVIEW, attempts, reason)


def undelivered(attempts: int, why: str, limits: Limits = Limits()) -> Verdict:
    """A message the IMAP server would not send (`why`: its words), this attempt counted: it stays
    pending for a later pass, and is set aside once its attempts are used up. The pass goes on."""
    if attempts >= limits.max_attempts:
        return Verdict(Move.SET_ASIDE, Status.REVIEW, attempts,
                       f"gave up after {attempts} attempts to fetch it; {why}; look at it in the mailbox")
    return Verdict(Move.DEFER, Status.PENDING, attempts, last_error=why)


def _gave_up(attempts: int, error: str) -> str:
    return f"gave up after {attempts} attempts; last error: {error}"


def _error(outcome: Outcome) -> str:
    return str(outcome.error) if outcome.error is not None else outcome.reason


# -- people ----------------------------------------------------------------------------------------

class PersonAction(enum.Enum):
    RETRY = "retried"
    RESOLVE = "resolved"
    REOPEN = "reopened"
    IGNORE = "ignored"


ALLOWED: dict[PersonAction, tuple[Status, ...]] = {
    PersonAction.RETRY: (Status.REVIEW, Status.UNCERTAIN, Status.IGNORED),
    PersonAction.RESOLVE: (Status.REVIEW, Status.UNCERTAIN, Status.PENDING),
    PersonAction.REOPEN: (Status.RESOLVED,),
    PersonAction.IGNORE: (Status.REVIEW, Status.UNCERTAIN),
}
AFTER: dict[PersonAction, Status] = {PersonAction.RETRY: Status.PENDING, PersonAction.RESOLVE: Status.RESOLVED,
                                     PersonAction.REOPEN: Status.REVIEW, PersonAction.IGNORE: Status.IGNORED}


def require(action: PersonAction, status: str, pk: int) -> Status:
    """The status `action` takes message `pk` to; NotAllowed when its status does not allow it."""
    allowed = ALLOWED[action]
    if status not in allowed:
        raise NotAllowed(f"message #{pk} is {status}: only {' or '.join(allowed)} messages can be {action.value}")
    return AFTER[action]


def refused(action: PersonAction, statuses: Collection[str]) -> list[str]:
    """Of `statuses`, those `action` cannot be applied to."""
    return sorted(set(statuses) - set(ALLOWED[action]))


# -- the mailbox -----------------------------------------------------------------------------------

class MailboxMove(enum.Enum):
    DONE = "marked done"  # seen, our keyword, to the processed (or ignored) folder
    SET_ASIDE = "set aside"  # flagged, our keyword, to the review folder
    WAIT = "wait"  # a copy of a mail still pending elsewhere: its original decides
    NONE = "none"  # still pending: no action yet


def mailbox_move(status: str, *, original: str | None = None, candidate_known: bool = False) -> MailboxMove:
    """What the mailbox is told about a message in `status`; a duplicate follows its `original`'s
    status (None: not found), unless it already names a candidate."""
    if status not in SETTLED:
        return MailboxMove.NONE
    if status == Status.DUPLICATE:
        if candidate_known:
            return MailboxMove.DONE
        if original is None:
            return MailboxMove.SET_ASIDE
        if original == Status.PENDING:
            return MailboxMove.WAIT
        return MailboxMove.DONE if original in DONE else MailboxMove.SET_ASIDE
    return MailboxMove.DONE if status in DONE else MailboxMove.SET_ASIDE


# -- what is owed, and what retention may clean -------------------------------------------------

def owed(status: str) -> bool:
    """Whether a pass still has to handle the mail (it is downloaded and flowed again)."""
    return status == Status.PENDING


def keeps_personal_data(status: str) -> bool:
    """Pending mail is still owed: retention leaves its personal data until it is settled."""
    return status not in SETTLED


CLEANABLE = tuple(SETTLED)  # the statuses retention cleans
