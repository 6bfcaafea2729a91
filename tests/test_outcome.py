"""The one classification of errors met while handling a message, as a table."""

from __future__ import annotations

import pytest

from daemon.ats.breaker import CircuitOpen
from daemon.domain import Status
from daemon.errors import (
    AtsMisdirected,
    AtsRateLimited,
    AtsRejected,
    AtsUnavailable,
    ConfigError,
    Conflict,
    DatabaseReplaced,
    MailboxActionRefused,
    MailboxUnavailable,
    NoResume,
    NoRoute,
    OutcomeUnknown,
    StoreBusy,
    UnparseableMail,
)
from daemon.intake.lifecycle import Pass, judge
from daemon.intake.outcome import Disposition, Outcome, classify, reason_of

D = Disposition

S, P = Status, Pass
# error, its disposition, and what the run does with it (the ATS answering): the status, the pass
TABLE = [
    (ConfigError("unknown source", key="ats.source"), D.CONFIG, S.PENDING, P.STOPS),
    (AtsRejected("refused (401)", status=401), D.CONFIG, S.PENDING, P.STOPS),
    (AtsRejected("refused (403)", status=403), D.CONFIG, S.PENDING, P.STOPS),
    (DatabaseReplaced("deleted"), D.CONFIG, S.PENDING, P.STOPS),
    (AtsMisdirected("404: check ats.base_url"), D.ATS_WIDE, S.PENDING, P.STOPS),
    (StoreBusy("locked"), D.STORE_BUSY, S.PENDING, P.STOPS),
    (MailboxUnavailable("connection reset"), D.MAILBOX_DOWN, S.PENDING, P.STOPS),  # the runner reconnects
    (MailboxActionRefused("NO", server_text="NO [OVERQUOTA]"), D.ACTION_REFUSED, S.PENDING, P.STOPS),
    (Conflict("resolved meanwhile"), D.CONFLICT, None, P.GOES_ON),
    (OutcomeUnknown("answer lost"), D.UNCERTAIN, S.UNCERTAIN, P.PAUSES),
    (CircuitOpen("circuit open"), D.UNTRIED, S.PENDING, P.GOES_ON),
    (AtsUnavailable("503"), D.TRANSIENT, S.PENDING, P.GOES_ON),
    (AtsRateLimited("429", retry_after=3), D.TRANSIENT, S.PENDING, P.GOES_ON),
    (AtsRejected("refused (422): email is invalid", status=422), D.PERMANENT, S.REVIEW, P.GOES_ON),
    (NoResume("no PDF"), D.PERMANENT, S.REVIEW, P.GOES_ON),
    (NoRoute("no open job title appears in the subject"), D.PERMANENT, S.REVIEW, P.GOES_ON),
    (UnparseableMail("too many MIME parts"), D.PERMANENT, S.REVIEW, P.GOES_ON),
    (KeyError("title"), D.BUG, S.REVIEW, P.GOES_ON),
]


@pytest.mark.parametrize(("error", "disposition", "status", "then"), TABLE, ids=lambda v: type(v).__name__)
def test_each_error_has_one_disposition_and_one_verdict(error, disposition, status, then):
    """Every error maps to one disposition, and the lifecycle's verdict on it (the one the runner
    acts on) gives the status and what the pass does; faults not the message's stop the pass."""
    assert classify(error) is disposition
    verdict = judge(Outcome(Status.PENDING, str(error), disposition, error), attempts=1)
    assert (verdict.status, verdict.then) == (status, then)


def test_reasons_name_the_kind_once():
    """A recorded reason starts with the kind of problem, said once; a bug names only its type."""
    assert reason_of(NoRoute("no job matched: the subject fits several")) == "no job matched: the subject fits several"
    assert reason_of(NoResume("no PDF, DOC or DOCX attachment")) == "no resume attached: no PDF, DOC or DOCX attachment"
    assert reason_of(KeyError("secret text")) == "internal error (KeyError); see the daemon's log"
