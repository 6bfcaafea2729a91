"""Wiring: builds the intake from settings and runs one recorded pass (no scheduling here)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from daemon.ats.client import AtsClient
from daemon.ats.directory import AtsDirectory
from daemon.config import AtsSettings, Settings
from daemon.errors import AtsInboxError
from daemon.intake import Intake, IntakeOptions, PassSummary
from daemon.lease import MailboxLease
from daemon.mailbox.base import Mailbox
from daemon.mailbox.imap import ImapMailbox
from daemon.store.repository import Store

log = logging.getLogger(__name__)


def ats_client(settings: AtsSettings) -> AtsClient:
    return AtsClient(settings.base_url, settings.token, timeout=settings.timeout_seconds,
                     verify=settings.ca_file or True)


def intake_options(settings: Settings) -> IntakeOptions:
    return IntakeOptions(
        processed_folder=settings.imap.processed_folder, review_folder=settings.imap.review_folder,
        batch_size=settings.imap.batch_size, max_message_bytes=settings.imap.max_message_bytes,
        limits=settings.resumes,
        max_attempts=settings.ats.max_attempts, reconnects=settings.imap.reconnect_attempts,
        crash_after_step=settings.test_crash_after,
    )


@dataclass
class Service:
    """Long-lived parts shared by passes: the store, the ATS client and its directory cache."""

    store: Store
    client: AtsClient
    directory: AtsDirectory
    options: IntakeOptions
    mailbox_factory: Callable[[], Mailbox]

    @classmethod
    def from_settings(cls, settings: Settings, store: Store) -> Service:
        client = ats_client(settings.ats)
        return cls(store=store, client=client, directory=AtsDirectory(client, source_name=settings.ats.source),
                   options=intake_options(settings), mailbox_factory=lambda: ImapMailbox(settings.imap))

    def run_pass(self, should_stop: Callable[[], bool] = lambda: False) -> PassSummary:
        """One pass, recorded in the store; errors that stop the pass are recorded, then raised."""
        mailbox = self.mailbox_factory()
        lease = MailboxLease(self.store, f"{mailbox.account}/{mailbox.folder}")
        if not lease.acquire():
            log.info("poll.skipped", extra={"reason": "another instance holds the mailbox"})
            return PassSummary(busy=True)
        pass_id = self.store.start_pass()
        log.info("poll.started", extra={"pass": pass_id})
        intake = Intake(self.store, mailbox, self.client, self.directory, self.options, should_stop,
                        heartbeat=lease.acquire)
        try:
            summary = intake.run_pass()
        except AtsInboxError as exc:
            self.store.finish_pass(pass_id, outcome="failed", seen=0, submitted=0, set_aside=0, error=str(exc))
            log.error("poll.failed", extra={"pass": pass_id, "error": type(exc).__name__})
            raise
        finally:
            lease.release()
        outcome = "ats down" if summary.ats_down else "deferred" if summary.pending else "ok"
        self.store.finish_pass(pass_id, outcome=outcome, seen=summary.seen, submitted=summary.submitted,
                               set_aside=summary.set_aside, error=summary.last_error)
        log.info("poll.finished", extra={"pass": pass_id, "seen": summary.seen, "submitted": summary.submitted,
                                         "set_aside": summary.set_aside, "pending": summary.pending})
        return summary

    def close(self) -> None:
        self.client.close()
        self.store.close()
