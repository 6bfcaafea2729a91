"""A message's life as one table: every status change the run, people, the mailbox and retention make."""

from __future__ import annotations

import pytest

from daemon.ats.breaker import CircuitOpen
from daemon.domain import Status
from daemon.errors import AtsUnavailable, Conflict, NoResume, NotAllowed, OutcomeUnknown, StoreBusy
from daemon.intake.lifecycle import (
    LOST_ANSWER,
    OUTAGE,
    REPEATED,
    Limits,
    MailboxMove,
    Move,
    Pass,
    PersonAction,
    before_start,
    judge,
    keeps_personal_data,
    mailbox_move,
    needs_probe,
    owed,
    require,
    undelivered,
)
from daemon.intake.outcome import Disposition, Outcome, classify

S, M, P = Status, Move, Pass
LIMITS = Limits(max_attempts=3, failures_before_pause=2)


def failed(error: Exception) -> Outcome:
    return Outcome(Status.PENDING, str(error), classify(error), error)


SUBMITTED = Outcome(Status.SUBMITTED, candidate_id="c1")
IGNORED = Outcome(Status.IGNORED, "ignored by rule 'newsletters'")
SET_ASIDE = Outcome(Status.REVIEW, "message too large")
BROKEN = failed(AtsUnavailable("503 from /api/v1/candidate"))
UNTRIED = failed(CircuitOpen("circuit open"))

# outcome, attempts (this one counted), ATS answers, streak before -> move, status, attempts, pass, pause, streak
JUDGE = [
    ("submitted", SUBMITTED, 1, True, 1, M.SETTLE, S.SUBMITTED, 1, P.GOES_ON, "", 0),
    ("ignored", IGNORED, 1, True, 0, M.SETTLE, S.IGNORED, 1, P.GOES_ON, "", 0),
    ("set aside by a decision", SET_ASIDE, 2, True, 0, M.SETTLE, S.REVIEW, 2, P.GOES_ON, "", 0),
    ("permanent error", failed(NoResume("no PDF")), 1, True, 1, M.SETTLE, S.REVIEW, 1, P.GOES_ON, "", 0),
    ("a bug", failed(KeyError("x")), 1, True, 0, M.SETTLE, S.REVIEW, 1, P.GOES_ON, "", 0),
    ("answer lost", failed(OutcomeUnknown("timeout")), 1, True, 0, M.SETTLE, S.UNCERTAIN, 1, P.PAUSES,
     LOST_ANSWER, 0),
    ("transient, ATS answers", BROKEN, 1, True, 0, M.DEFER, S.PENDING, 1, P.GOES_ON, "", 1),
    ("transient, a few in a row", BROKEN, 1, True, 1, M.DEFER, S.PENDING, 1, P.PAUSES, REPEATED, 2),
    ("transient, ATS down: attempt given back", BROKEN, 2, False, 0, M.DEFER, S.PENDING, 1, P.PAUSES, OUTAGE, 1),
    ("transient, last attempt", BROKEN, 3, True, 0, M.SET_ASIDE, S.REVIEW, 3, P.GOES_ON, "", 1),
    ("transient, last attempt but ATS down", BROKEN, 3, False, 0, M.DEFER, S.PENDING, 2, P.PAUSES, OUTAGE, 1),
    ("never tried (circuit open)", UNTRIED, 2, True, 0, M.DEFER, S.PENDING, 1, P.GOES_ON, "", 1),
    ("database busy: not the message's", failed(StoreBusy("locked")), 2, True, 1, M.GIVE_BACK, S.PENDING, 1,
     P.STOPS, "", 1),
    ("a person changed it meanwhile", failed(Conflict("resolved")), 1, True, 1, M.LEAVE, None, 1, P.GOES_ON, "", 1),
]


@pytest.mark.parametrize(("case", "outcome", "attempts", "answers", "streak", "move", "status", "counted", "then",
                          "pause", "streak_after"), JUDGE, ids=[row[0] for row in JUDGE])
def test_the_verdict_on_a_flow(case, outcome, attempts, answers, streak, move, status, counted, then, pause,
                               streak_after):
    """After a flow, one verdict: what is written, how many attempts count, and what the pass does."""
    verdict = judge(outcome, attempts, ats_answers=answers, streak=streak, limits=LIMITS)
    assert (verdict.move, verdict.status, verdict.attempts) == (move, status, counted)
    assert (verdict.then, verdict.pause, verdict.streak) == (then, pause, streak_after)


def test_giving_up_says_why_with_the_last_error():
    """A message that used up its attempts is set aside with the last error in its reason."""
    verdict = judge(BROKEN, 3, limits=LIMITS)
    assert verdict.reason == "gave up after 3 attempts; last error: 503 from /api/v1/candidate"


def test_an_outage_marks_the_pause_as_the_ats_s():
    """A pause because the ATS does not answer is an outage (the pass reports the ATS down)."""
    assert judge(BROKEN, 1, ats_answers=False, limits=LIMITS).outage
    assert not judge(BROKEN, 1, streak=5, limits=LIMITS).outage


def test_only_transient_outcomes_ask_whether_the_ats_answers():
    """The probe (a network call) is made only when the verdict depends on it."""
    assert needs_probe(BROKEN) and needs_probe(UNTRIED)
    assert not needs_probe(SUBMITTED) and not needs_probe(failed(NoResume("x")))


@pytest.mark.parametrize(("attempts", "move", "status", "reason", "last_error"), [
    (1, M.DEFER, S.PENDING, "", "the IMAP server refused to send it: [SERVERBUG] x"),
    (2, M.DEFER, S.PENDING, "", "the IMAP server refused to send it: [SERVERBUG] x"),
    (3, M.SET_ASIDE, S.REVIEW, "gave up after 3 attempts to fetch it; the IMAP server refused to send it: "
                               "[SERVERBUG] x; look at it in the mailbox", ""),
])
def test_a_message_the_server_would_not_send_waits_then_is_set_aside(attempts, move, status, reason, last_error):
    """Not fetched: pending with the server's words while attempts remain, then set aside; the pass goes on."""
    verdict = undelivered(attempts, "the IMAP server refused to send it: [SERVERBUG] x", LIMITS)
    assert (verdict.move, verdict.status, verdict.attempts, verdict.then) == (move, status, attempts, P.GOES_ON)
    assert (verdict.reason, verdict.last_error) == (reason, last_error)


@pytest.mark.parametrize(("attempts", "last_error", "move", "reason"), [
    (2, "", None, None),
    (3, "", M.SET_ASIDE, "stopped the daemon 3 times (killed or crashed while handling it); "
                         "a person should look at this mail"),
    (3, "503", M.SET_ASIDE, "gave up after 3 attempts; last error: 503"),
])
def test_before_a_flow_used_up_attempts_set_the_mail_aside(attempts, last_error, move, reason):
    """A pending mail that used up its attempts (killed the process, or kept failing) is not started again."""
    verdict = before_start(attempts, last_error, LIMITS)
    if move is None:
        assert verdict is None
    else:
        assert (verdict.move, verdict.status, verdict.reason) == (move, S.REVIEW, reason)


@pytest.mark.parametrize(("action", "status", "after"), [
    (PersonAction.RETRY, S.REVIEW, S.PENDING),
    (PersonAction.RETRY, S.UNCERTAIN, S.PENDING),
    (PersonAction.RETRY, S.IGNORED, S.PENDING),  # an ignored mail may have been an application
    (PersonAction.RESOLVE, S.REVIEW, S.RESOLVED),
    (PersonAction.RESOLVE, S.UNCERTAIN, S.RESOLVED),
    (PersonAction.RESOLVE, S.PENDING, S.RESOLVED),
    (PersonAction.REOPEN, S.RESOLVED, S.REVIEW),  # resolved by mistake: back in the queue
    (PersonAction.IGNORE, S.REVIEW, S.IGNORED),
    (PersonAction.IGNORE, S.UNCERTAIN, S.IGNORED),
])
def test_people_move_set_aside_mail(action, status, after):
    """Retry takes set-aside mail back to pending; resolve closes set-aside or pending mail; reopen takes
    resolved mail back to review; ignore closes set-aside mail as no application."""
    assert require(action, status, 7) is after


@pytest.mark.parametrize(("action", "status"), [
    (PersonAction.RETRY, S.SUBMITTED), (PersonAction.RETRY, S.PENDING), (PersonAction.RETRY, S.RESOLVED),
    (PersonAction.RESOLVE, S.SUBMITTED), (PersonAction.RESOLVE, S.DUPLICATE), (PersonAction.RESOLVE, S.IGNORED),
    (PersonAction.REOPEN, S.REVIEW), (PersonAction.REOPEN, S.SUBMITTED), (PersonAction.REOPEN, S.IGNORED),
    (PersonAction.REOPEN, S.PENDING),
    (PersonAction.IGNORE, S.PENDING), (PersonAction.IGNORE, S.SUBMITTED), (PersonAction.IGNORE, S.RESOLVED),
])
def test_people_cannot_move_settled_mail(action, status):
    """A person's action on a message in another status is refused, saying which statuses it takes."""
    with pytest.raises(NotAllowed, match=f"message #7 is {status}: only .* messages can be {action.value}"):
        require(action, status, 7)


@pytest.mark.parametrize(("status", "original", "candidate", "move"), [
    (S.SUBMITTED, None, True, MailboxMove.DONE),
    (S.RESOLVED, None, False, MailboxMove.DONE),
    (S.IGNORED, None, False, MailboxMove.DONE),
    (S.REVIEW, None, False, MailboxMove.SET_ASIDE),
    (S.UNCERTAIN, None, False, MailboxMove.SET_ASIDE),
    (S.PENDING, None, False, MailboxMove.NONE),
    (S.DUPLICATE, S.SUBMITTED, False, MailboxMove.DONE),
    (S.DUPLICATE, S.IGNORED, False, MailboxMove.DONE),
    (S.DUPLICATE, S.REVIEW, False, MailboxMove.SET_ASIDE),
    (S.DUPLICATE, S.PENDING, False, MailboxMove.WAIT),
    (S.DUPLICATE, S.PENDING, True, MailboxMove.DONE),
    (S.DUPLICATE, None, False, MailboxMove.SET_ASIDE),
])
def test_the_mailbox_is_told_what_the_status_means(status, original, candidate, move):
    """Done mail is marked done, set-aside mail flagged; a copy follows its original, waiting while it is pending."""
    assert mailbox_move(status, original=original, candidate_known=candidate) is move


@pytest.mark.parametrize("status", list(Status))
def test_only_pending_mail_is_owed_and_keeps_its_personal_data(status):
    """A pass downloads pending mail again; retention cleans every other status."""
    assert owed(status) is (status is S.PENDING)
    assert keeps_personal_data(status) is (status is S.PENDING)


def test_every_disposition_has_a_verdict():
    """No disposition is left without a verdict (a new one must be placed in the table)."""
    for disposition in Disposition:
        verdict = judge(Outcome(Status.PENDING, "x", disposition, RuntimeError("x")), 1, limits=LIMITS)
        assert verdict.move in Move
