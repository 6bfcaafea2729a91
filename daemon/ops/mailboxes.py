"""What the daemon's one alerting hears from several mailboxes: each one's passes in a row that could
not use its mailbox, counted apart (a mailbox that works must not reset the count of one that fails),
and the worst of them handed to `Alerting` with the mailbox named."""

from __future__ import annotations

import threading

from daemon.intake.runner import PassSummary
from daemon.ops.alerts import Alerting
from daemon.ops.alerts import _about_the_mailbox as about_the_mailbox
from daemon.ops.service import PassEndObserver


class MailboxFailures:
    """The failures in a row of each mailbox; `Alerting.mailbox_failures` is the largest, its error named."""

    def __init__(self, alerting: Alerting):
        self.alerting = alerting
        self.failures: dict[str, tuple[int, str]] = {}
        self._lock = threading.Lock()  # each mailbox's passes end in its own thread

    def of(self, mailbox: str) -> _OneMailbox:
        return _OneMailbox(self, mailbox)

    def ended(self, mailbox: str, summary: PassSummary | None, error: Exception | None) -> None:
        """As `Alerting.pass_ended` counts, for one mailbox; then the worst mailbox is what the alerting sees."""
        with self._lock:
            count = self.failures.get(mailbox, (0, ""))[0]
            if about_the_mailbox(error):
                self.failures[mailbox] = (count + 1, f"mailbox {mailbox}: {str(error)[:300]}")
            elif summary is not None and not summary.busy:
                self.failures[mailbox] = (0, "")
            worst = max(self.failures.values(), key=lambda failed: failed[0], default=(0, ""))
            self.alerting.mailbox_failures, self.alerting.mailbox_error = worst


class _OneMailbox(PassEndObserver):
    """One mailbox's pass observer for the alerting."""

    def __init__(self, failures: MailboxFailures, mailbox: str):
        self.failures, self.mailbox = failures, mailbox

    def pass_ended(self, pass_id: int, summary: PassSummary | None, error: Exception | None) -> None:
        self.failures.ended(self.mailbox, summary, error)
