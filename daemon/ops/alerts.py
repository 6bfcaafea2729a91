"""Alerts: told once when something goes wrong, once when it is over, never a storm.

Five incidents are watched, each open or not:

    no_success     no pass succeeded within [health] no_success_minutes (the health check's rule)
    mailbox        [alerts] login_failures passes in a row could not reach or log in to the mailbox
                   (an IMAP error, or a refused OAuth2 refresh token: a ConfigError about imap.*)
    review_queue   more than [alerts] review_queue_above messages wait for a person
    review_waiting the oldest set-aside mail has waited more than [alerts] oldest_waiting_hours
    rules          the rule files on disk are invalid (the last good rule set runs meanwhile); cleared
                   when a valid edit is accepted

`Incidents.update` is the pure part: given the conditions that hold now, it opens and
closes incidents and returns the alerts to send ("firing" when one opens, "cleared" when
it closes). `Alerting` gathers the conditions (from the health facts and the passes it is
told of) and hands the alerts to the senders: a command (argv, no shell) and/or a webhook
(a JSON POST, TLS checked). A delivery that fails is tried again at the next check, three
times in all, then dropped (logged).

The open incidents live in memory: a restart announces an incident that is still open
once more (one alert per start, and a restart is itself news), which spares the shared
database a table and a migration for it.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import httpx

from daemon.errors import AtsInboxError, ConfigError, MailboxUnavailable
from daemon.intake.runner import PassSummary
from daemon.ops.health import Facts, Health, Watch
from daemon.ops.service import PassEndObserver
from daemon.routing.live import RulesState

log = logging.getLogger(__name__)
FIRING, CLEARED = "firing", "cleared"
NO_SUCCESS, MAILBOX, REVIEW_QUEUE, RULES = "no_success", "mailbox", "review_queue", "rules"
REVIEW_WAITING = "review_waiting"
MAX_TRIES = 3
# The only variables an alert command inherits (with the ATS_INBOX_ALERT_* it is given): an allow-list,
# so that no secret reaches it whatever its name (the OAuth2 ones, a webhook token, one added later), nor
# systemd's own (NOTIFY_SOCKET, WATCHDOG_*, CREDENTIALS_DIRECTORY), nor what changes how a program loads.
ALLOWED_ENV = frozenset({"PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR"})
ALLOWED_ENV_PREFIXES = ("LC_",)


@dataclass(frozen=True, slots=True)
class Alert:
    kind: str  # NO_SUCCESS, MAILBOX, REVIEW_QUEUE or RULES
    state: str  # FIRING or CLEARED
    summary: str  # one line a person reads
    since: datetime  # when the incident opened

    def as_json(self, host: str) -> dict[str, str]:
        return {"service": "ats-inbox", "host": host, "kind": self.kind, "state": self.state,
                "summary": self.summary, "since": self.since.isoformat()}


class Incidents:
    """The open incidents by kind; `update` says what to send. Pure: no clock, no I/O."""

    def __init__(self) -> None:
        self.open: dict[str, Alert] = {}

    def update(self, conditions: Mapping[str, str], now: datetime) -> list[Alert]:
        """`conditions`: kind -> what is wrong, for each that holds now."""
        alerts = []
        for kind, summary in conditions.items():
            if kind not in self.open:
                self.open[kind] = Alert(kind, FIRING, summary, now)
                alerts.append(self.open[kind])
        for kind in [k for k in self.open if k not in conditions]:
            opened = self.open.pop(kind)
            alerts.append(Alert(kind, CLEARED, f"over: {opened.summary}", opened.since))
        return alerts


@dataclass(frozen=True, slots=True)
class Thresholds:
    review_queue_above: int = 25  # 0: no alert on the review queue
    login_failures: int = 3  # mailbox failures in a row before the alert; 0: none
    oldest_waiting_hours: int = 48  # the oldest set-aside mail waited longer: the alert; 0: none


def conditions(health: Health, facts: Facts, mailbox_failures: int, mailbox_error: str,
               thresholds: Thresholds, now: datetime | None = None) -> dict[str, str]:
    """The incidents that hold now, each with one line saying what is wrong."""
    found = {}
    if health.stale:
        found[NO_SUCCESS] = health.reasons[0]
    if thresholds.login_failures and mailbox_failures >= thresholds.login_failures:
        found[MAILBOX] = f"{mailbox_failures} passes in a row could not use the mailbox: {mailbox_error}"
    if thresholds.review_queue_above and facts.review_queue > thresholds.review_queue_above:
        found[REVIEW_QUEUE] = (f"{facts.review_queue} messages wait for a person (more than "
                               f"{thresholds.review_queue_above}): `ats-inbox messages list`")
    limit = thresholds.oldest_waiting_hours
    oldest = facts.oldest_waiting
    if limit and now is not None and oldest is not None and now - oldest > timedelta(hours=limit):
        found[REVIEW_WAITING] = (f"the oldest set-aside mail has waited since {facts.oldest_waiting:%Y-%m-%d %H:%M} "
                                 f"UTC (more than {limit} h): the review page or `ats-inbox messages list`")
    if health.rules_invalid:
        found[RULES] = health.degraded[0]
    return found


class Sender(Protocol):
    name: str

    def send(self, alert: Alert) -> None:
        """Deliver the alert; raise AlertNotSent when it could not be."""


class AlertNotSent(Exception):
    """One delivery failed (the command failed or timed out, the webhook did not take it)."""


class CommandSender:
    """Runs `argv + [state, kind, summary]` with ATS_INBOX_ALERT_* and the allowed variables (`inherited`) as
    its environment; no shell."""

    name = "command"

    def __init__(self, argv: Sequence[str], timeout: float, environ: Mapping[str, str] = os.environ):
        self.argv, self.timeout = list(argv), timeout
        self.environ = inherited(environ)

    def send(self, alert: Alert) -> None:
        env = {**self.environ, "ATS_INBOX_ALERT_KIND": alert.kind, "ATS_INBOX_ALERT_STATE": alert.state,
               "ATS_INBOX_ALERT_SUMMARY": alert.summary, "ATS_INBOX_ALERT_SINCE": alert.since.isoformat()}
        try:
            done = subprocess.run([*self.argv, alert.state, alert.kind, alert.summary], env=env,
                                  stdin=subprocess.DEVNULL, capture_output=True, timeout=self.timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise AlertNotSent(f"{self.argv[0]}: {type(exc).__name__}: {exc}") from exc
        if done.returncode != 0:
            raise AlertNotSent(f"{self.argv[0]} exited {done.returncode}")


def inherited(environ: Mapping[str, str]) -> dict[str, str]:
    """What an alert command may see of the daemon's environment: ALLOWED_ENV and the locale's LC_*."""
    return {k: v for k, v in environ.items() if k in ALLOWED_ENV or k.startswith(ALLOWED_ENV_PREFIXES)}


class WebhookSender:
    """POSTs the alert as JSON; any 2xx is taken. The URL may carry a secret: it is never logged."""

    name = "webhook"

    def __init__(self, url: str, timeout: float, transport: httpx.BaseTransport | None = None):
        self.url, self.timeout, self.transport = url, timeout, transport
        self.host = socket.gethostname()

    def send(self, alert: Alert) -> None:
        try:
            with httpx.Client(timeout=self.timeout, transport=self.transport, follow_redirects=False) as client:
                response = client.post(self.url, json=alert.as_json(self.host))
        except httpx.HTTPError as exc:
            raise AlertNotSent(f"webhook: {type(exc).__name__}") from exc
        if not response.is_success:
            raise AlertNotSent(f"webhook answered {response.status_code}")


@dataclass
class _Delivery:
    alert: Alert
    sender: Sender
    tries: int = 0


@dataclass
class Alerting(PassEndObserver):
    """Checks the conditions (`check`, from the main loop) and sends what `Incidents` says.

    Also a pass observer (daemon.ops.service.PassObserver): it counts the passes in a row that
    could not use the mailbox."""

    senders: Sequence[Sender]
    thresholds: Thresholds = Thresholds()
    incidents: Incidents = field(default_factory=Incidents)
    mailbox_failures: int = 0
    mailbox_error: str = ""
    outbox: list[_Delivery] = field(default_factory=list)
    sent: list[Alert] = field(default_factory=list)  # every alert delivered to at least one sender
    every: float = 15.0  # seconds between two checks by `tick`
    clock: Callable[[], float] = time.monotonic
    _next: float = 0.0
    _rules: RulesState | None = None  # the state of the rules at the last check

    def tick(self, watch: Watch) -> None:
        """A chore of the main loop: check at most every `every` seconds (a database read), and at once when the
        state of the rules changed (an edit made valid or invalid is told within a tick)."""
        rules = watch.rules()
        if self.clock() < self._next and rules == self._rules:
            return
        self._next = self.clock() + self.every
        try:
            facts = watch.facts()
        except AtsInboxError as exc:  # a change of the rules is checked again at the next tick
            log.warning("alert.check_skipped", extra={"error": type(exc).__name__})
            return
        self._rules = rules
        self.check(watch.judge(facts), facts, watch.now())

    def check(self, health: Health, facts: Facts, now: datetime) -> None:
        found = conditions(health, facts, self.mailbox_failures, self.mailbox_error, self.thresholds, now)
        for alert in self.incidents.update(found, now):
            log.warning("alert.raised" if alert.state == FIRING else "alert.cleared",
                        extra={"kind": alert.kind, "summary": alert.summary})
            self.outbox += [_Delivery(alert, sender) for sender in self.senders]
        self.flush()

    def flush(self) -> None:
        """Try every delivery owed; keep the failed ones for the next check (MAX_TRIES in all)."""
        owed, self.outbox = self.outbox, []
        for delivery in owed:
            delivery.tries += 1
            try:
                delivery.sender.send(delivery.alert)
            except AlertNotSent as exc:
                gave_up = delivery.tries >= MAX_TRIES
                log.error("alert.dropped" if gave_up else "alert.not_sent",
                          extra={"kind": delivery.alert.kind, "via": delivery.sender.name, "error": str(exc)[:300]})
                if not gave_up:
                    self.outbox.append(delivery)
                continue
            log.info("alert.sent", extra={"kind": delivery.alert.kind, "state": delivery.alert.state,
                                          "via": delivery.sender.name})
            if delivery.alert not in self.sent:
                self.sent.append(delivery.alert)

    # -- pass observer ---------------------------------------------------------------------

    def pass_ended(self, pass_id: int, summary: PassSummary | None, error: Exception | None) -> None:
        if _about_the_mailbox(error):
            self.mailbox_failures, self.mailbox_error = self.mailbox_failures + 1, str(error)[:300]
        elif summary is not None and not summary.busy:
            self.mailbox_failures, self.mailbox_error = 0, ""


def _about_the_mailbox(error: Exception | None) -> bool:
    """The mailbox could not be reached or refused the login (a refused OAuth2 refresh token too)."""
    if isinstance(error, MailboxUnavailable):
        return True
    return isinstance(error, ConfigError) and (error.key or "").startswith("imap.")


def senders(command: Sequence[str], webhook_url: str, timeout: float,
            make_webhook: Callable[[str, float], Sender] = WebhookSender) -> list[Sender]:
    """The senders the configuration names (none: alerts are only logged)."""
    found: list[Sender] = []
    if command:
        found.append(CommandSender(command, timeout))
    if webhook_url:
        found.append(make_webhook(webhook_url, timeout))
    return found
