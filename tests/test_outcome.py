"""The one classification of errors met while handling a message, as a table."""

from __future__ import annotations

import pytest

from daemon.ats.breaker import CircuitOpen
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
from daemon.intake.outcome import Disposition, classify, reason_of

D = Disposition

TABLE = [
    (ConfigError("unknown source", key="ats.source"), D.CONFIG, True),
    (AtsRejected("refused (401)", status=401), D.CONFIG, True),
    (AtsRejected("refused (403)", status=403), D.CONFIG, True),
    (DatabaseReplaced("deleted"), D.CONFIG, True),
    (AtsMisdirected("404: check ats.base_url"), D.ATS_WIDE, True),
    (StoreBusy("locked"), D.STORE_BUSY, True),
    (MailboxUnavailable("connection reset"), D.MAILBOX_DOWN, False),
    (MailboxActionRefused("NO", server_text="NO [OVERQUOTA]"), D.ACTION_REFUSED, False),
    (Conflict("resolved meanwhile"), D.CONFLICT, False),
    (OutcomeUnknown("answer lost"), D.UNCERTAIN, False),
    (CircuitOpen("circuit open"), D.UNTRIED, False),
    (AtsUnavailable("503"), D.TRANSIENT, False),
    (AtsRateLimited("429", retry_after=3), D.TRANSIENT, False),
    (AtsRejected("refused (422): email is invalid", status=422), D.PERMANENT, False),
    (NoResume("no PDF"), D.PERMANENT, False),
    (NoRoute("no open job title appears in the subject"), D.PERMANENT, False),
    (UnparseableMail("too many MIME parts"), D.PERMANENT, False),
    (KeyError("title"), D.BUG, False),
]


@pytest.mark.parametrize(("error", "disposition", "stops_pass"), TABLE, ids=lambda v: type(v).__name__)
def test_each_error_has_one_disposition(error, disposition, stops_pass):
    """Every error maps to exactly the disposition the runner acts on; faults not the message's stop the pass."""
    assert classify(error) is disposition
    assert disposition.stops_pass is stops_pass


def test_reasons_name_the_kind_once():
    """A recorded reason starts with the kind of problem, said once; a bug names only its type."""
    assert reason_of(NoRoute("no job matched: the subject fits several")) == "no job matched: the subject fits several"
    assert reason_of(NoResume("no PDF, DOC or DOCX attachment")) == "no resume attached: no PDF, DOC or DOCX attachment"
    assert reason_of(KeyError("secret text")) == "internal error (KeyError); see the daemon's log"
