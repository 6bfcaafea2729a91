"""The service: one recorded pass over the mailbox (no scheduling here; daemon.ops.assembly builds it)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from daemon.ats.client import AtsClient
from daemon.ats.directory import AtsDirectory
from daemon.ats.retry import RetryPolicy
from daemon.config import AtsSettings, Settings
from daemon.errors import AtsInboxError, AtsUnavailable, StoreBusy
from daemon.intake.flow import FlowOptions, MessageFlow
from daemon.intake.outcome import Outcome
from daemon.intake.replying import Replies
from daemon.intake.retention import purge_expired
from daemon.intake.runner import PassSummary, Runner, RunnerOptions
from daemon.mailbox.base import Mailbox
from daemon.routing import RuleSet
from daemon.routing.live import LiveRules
from daemon.store.instances import InstanceHeartbeat
from daemon.store.lease import TTL_SECONDS, MailboxLease
from daemon.store.models import MessageRecord, utcnow
from daemon.store.repository import Store
from daemon.store.watch import DatabaseWatch

log = logging.getLogger(__name__)


class Stopping(Protocol):
    """What the service needs of a stop signal (daemon.ops.stopping.StopSignal)."""

    def requested(self) -> bool: ...
    def sleep(self, seconds: float) -> bool: ...  # True when woken early by a stop


class NeverStop:
    def requested(self) -> bool:
        return False

    def sleep(self, seconds: float) -> bool:
        time.sleep(seconds)
        return False


def ats_client(settings: AtsSettings, stop: Stopping | None = None,
               observe: Callable[[str, str], None] | None = None) -> AtsClient:
    """The ATS client; its retry waits and its reads in progress end early (abandoning them) when a
    stop is requested;
    `observe` is told of each exchange (the metrics)."""
    stop = stop or NeverStop()

    def sleep(seconds: float) -> None:
        if stop.sleep(seconds):
            raise AtsUnavailable("stopping: the retry was abandoned")

    return AtsClient(settings.base_url, settings.token, timeout=settings.timeout_seconds,
                     verify=settings.ca_file or True, sleep=sleep,
                     retry=RetryPolicy(attempts=settings.retry_attempts), observe=observe,
                     stopped=stop.requested)


def runner_options(settings: Settings) -> RunnerOptions:
    return RunnerOptions(
        processed_folder=settings.imap.processed_folder, review_folder=settings.imap.review_folder,
        ignored_folder=settings.imap.ignored_folder,
        batch_size=settings.imap.batch_size, max_message_bytes=settings.imap.max_message_bytes,
        max_attempts=settings.ats.max_attempts, reconnects=settings.imap.reconnect_attempts,
        first_pass=settings.imap.first_pass,
        concurrency=settings.ats.concurrency,
    )


class PassObserver(Protocol):
    """Told what each pass does (systemd notify, metrics, alerts): quick calls that never raise."""

    def pass_started(self, pass_id: int) -> None: ...
    def progress(self) -> None: ...  # after each message, the mailbox open: the pass is moving
    def message_handled(self, status: str, seconds: float) -> None: ...
    def pass_ended(self, pass_id: int, summary: PassSummary | None, error: Exception | None) -> None: ...


class PassEndObserver:
    """A pass observer that only wants to hear how each pass ended (alerting): the other calls tell it nothing."""

    def pass_started(self, pass_id: int) -> None:
        pass

    def progress(self) -> None:
        pass

    def message_handled(self, status: str, seconds: float) -> None:
        pass

    def pass_ended(self, pass_id: int, summary: PassSummary | None, error: Exception | None) -> None:
        raise NotImplementedError


class PassObservers:
    """Several observers as one (none: nobody is told)."""

    def __init__(self, *observers: PassObserver):
        self.observers = observers

    def pass_started(self, pass_id: int) -> None:
        for observer in self.observers:
            observer.pass_started(pass_id)

    def progress(self) -> None:
        for observer in self.observers:
            observer.progress()

    def message_handled(self, status: str, seconds: float) -> None:
        for observer in self.observers:
            observer.message_handled(status, seconds)

    def pass_ended(self, pass_id: int, summary: PassSummary | None, error: Exception | None) -> None:
        for observer in self.observers:
            observer.pass_ended(pass_id, summary, error)


class _ObservedFlow(MessageFlow):
    """The message flow, each message timed for the observer."""

    def __init__(self, *args: object, observer: PassObserver, **kwargs: object):
        super().__init__(*args, **kwargs)
        self.observer = observer

    def handle(self, record: MessageRecord, raw: bytes | None) -> Outcome:
        started = time.monotonic()
        outcome = super().handle(record, raw)
        self.observer.message_handled(outcome.status, time.monotonic() - started)
        return outcome


@dataclass(frozen=True)
class Service:
    """Long-lived parts shared by passes: the store, the ATS client and its directory cache."""

    store: Store
    client: AtsClient
    directory: AtsDirectory
    options: RunnerOptions
    flow_options: FlowOptions
    mailbox_factory: Callable[[], Mailbox]
    watch: DatabaseWatch | None = None
    stop: Stopping = NeverStop()  # noqa: RUF009 (stateless)
    rules: LiveRules | None = None
    retention_days: int = 0  # personal data of settled messages older than this is removed (0: never)
    observer: PassObserver = PassObservers()  # noqa: RUF009 (stateless)
    move_back: Callable[[MessageRecord], object] | None = None  # mail back from where intake moved it
    replies: Replies | None = None  # [replies] on: recorded by the flows, delivered after each pass
    mailbox: str = ""  # its [[mailbox]] name ("default" for [imap] alone), recorded with each pass
    sharing: InstanceHeartbeat | None = None  # `run`: the lease tried only in this instance's turn (spread)
    lease_seconds: float = TTL_SECONDS  # [database] lease_seconds: a dead holder's mailbox is free after this
    holding: threading.Event = field(default_factory=threading.Event)  # set while the mailbox is this instance's

    def holds(self) -> bool:
        """Whether the mailbox is this instance's now: always without sharing; with it, as its last pass found (its
        turn, or its share by the spread while another instance still holds the lease). Its IDLE watcher listens
        only then."""
        return self.sharing is None or self.holding.is_set()

    def run_pass(self, should_stop: Callable[[], bool] | None = None) -> PassSummary:
        """One pass, recorded in the store; errors that stop the pass are recorded, then raised."""
        should_stop = should_stop or self.stop.requested
        if self.watch is not None:
            self.watch.check()
        mailbox = self.mailbox_factory()
        lease = MailboxLease(self.store, f"{mailbox.account}/{mailbox.folder}",
                             owner=self.sharing.name if self.sharing else None, ttl=self.lease_seconds)
        if not self._my_turn(lease):  # another instance's share: quietly (it comes up every interval)
            self.observer.pass_ended(0, PassSummary(busy=True), None)
            return PassSummary(busy=True)
        if not lease.acquire():
            log.info("poll.skipped", extra={"reason": "another instance holds the mailbox", "mailbox": self.mailbox})
            self.observer.pass_ended(0, PassSummary(busy=True), None)
            return PassSummary(busy=True)
        self.holding.set()
        pass_id = self.store.start_pass(self.mailbox)
        log.info("poll.started", extra={"pass": pass_id, "mailbox": self.mailbox})
        self.observer.pass_started(pass_id)
        rules = self.rules.current if self.rules is not None else RuleSet
        flow = _ObservedFlow(self.store, self.client, self.directory, self.flow_options, sleep=self.stop.sleep,
                             rules=rules, observer=self.observer, replies=self.replies)
        runner = Runner(self.store, mailbox, flow, self.options, probe=self.client.answers, should_stop=should_stop,
                        sleep=self.stop.sleep, heartbeat=_Heartbeat(lease, self.observer), move_back=self.move_back)
        try:
            summary = runner.run_pass()
        except Exception as exc:
            self._failed(pass_id, exc)
            self.observer.pass_ended(pass_id, None, exc)
            raise
        finally:
            _quietly(lease.release)
        outcome = "ats down" if summary.ats_down else "deferred" if summary.pending else "ok"
        self.store.finish_pass(pass_id, outcome=outcome, seen=summary.seen, submitted=summary.submitted,
                               set_aside=summary.set_aside, error=summary.last_error, **self._rules_state())
        if self.retention_days:
            removed = purge_expired(self.store, self.retention_days, utcnow())
            if removed:
                log.info("retention.removed", extra={"messages": removed, "days": self.retention_days})
        self._deliver_replies()
        log.info("poll.finished", extra={"pass": pass_id, "mailbox": self.mailbox, "seen": summary.seen,
                                         "submitted": summary.submitted, "set_aside": summary.set_aside,
                                         "pending": summary.pending, "stopped": summary.stopped})
        self.observer.pass_ended(pass_id, summary, None)
        return summary

    def _my_turn(self, lease: MailboxLease) -> bool:
        """Without sharing (one-off commands): always. With it: as the spread over the live instances says; the
        mailbox is watched (IDLE) while the spread gives it to this instance, even while another still holds its
        lease (a new mail then wakes the pass that takes it once the other lets go)."""
        if self.sharing is None:
            return True
        decided = self.sharing.turn(lease)
        if decided.take or decided.mine:
            self.holding.set()
        else:
            self.holding.clear()
        if decided.let_go:  # a lease left behind on another's share: free it for its owner at once
            log.info("lease.let_go", extra={"mailbox": self.mailbox, "reason": decided.reason})
            lease.release()
        if not decided.take:
            log.debug("lease.not_our_turn", extra={"mailbox": self.mailbox, "reason": decided.reason})
        return decided.take

    def _deliver_replies(self) -> None:
        """The replies due, handed to the relay; whatever goes wrong there is logged and leaves intake alone."""
        if self.replies is None:
            return
        try:
            delivered = self.replies.deliver()
        except AtsInboxError as exc:  # the database busy: the replies wait for the next pass
            log.warning("reply.delivery_postponed", extra={"error": type(exc).__name__})
            return
        if delivered.sent or delivered.waiting or delivered.failed:
            log.info("reply.delivered", extra={"sent": delivered.sent, "waiting": delivered.waiting,
                                               "failed": delivered.failed})

    def _rules_state(self) -> dict[str, str]:
        """Which rule set the pass ran with, and why the files on disk are not in force, if so."""
        if self.rules is None:
            return {}
        return {"rules_fingerprint": self.rules.rules.fingerprint, "rules_problems": self.rules.problems}

    def _failed(self, pass_id: int, exc: Exception) -> None:
        """The pass row says "failed" with the error, whatever the error (never left "running")."""
        error = str(exc) if isinstance(exc, AtsInboxError) else f"internal error ({type(exc).__name__})"
        log.error("poll.failed", extra={"pass": pass_id, "mailbox": self.mailbox, "error": type(exc).__name__})
        _quietly(lambda: self.store.finish_pass(pass_id, outcome="failed", seen=0, submitted=0, set_aside=0,
                                                error=error))

    def close(self) -> None:
        self.client.close()
        self.store.close()


class _Heartbeat:
    """After each message: the observer hears of the progress, and the lease is renewed when a
    tenth of its time has passed (not a database write per message); False when it is gone."""

    def __init__(self, lease: MailboxLease, observer: PassObserver, clock: Callable[[], float] = time.monotonic):
        self.lease, self.observer, self.clock = lease, observer, clock
        self.renewed = clock()  # run_pass has just acquired it

    def __call__(self) -> bool:
        self.observer.progress()
        if self.clock() - self.renewed < self.lease.ttl / 10:
            return True
        self.renewed = self.clock()
        return self.lease.renew()


def _quietly(action: Callable[[], object]) -> None:
    """Bookkeeping that must not hide the error being raised (the database may be the problem)."""
    try:
        action()
    except StoreBusy:
        log.warning("store.busy_during_bookkeeping")
