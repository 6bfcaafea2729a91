"""Is the daemon healthy? One judgement for `/healthz`, `ats-inbox status` and the alerts.

Unhealthy when passes have stopped succeeding (none succeeded within `[health]
no_success_minutes`, counted from the daemon's start when none ever did) or when the last
finished pass failed (the mailbox could not be reached or refused the login, the database
was locked, a bug). The facts come from the database, which every pass is recorded in, so
the daemon and a separate `ats-inbox status` judge alike. `assess` is pure.

A pass succeeded when it went through the folder: outcome "ok", or "deferred" (some mail
waits for a retry). "ats down" (the pass stopped early: the ATS did not answer) is not a
success: the mail is waiting.

Degraded (healthy or not) when the rule files on disk are invalid: intake goes on with the
last good rule set (daemon.routing.live), but an edit a person made is not in force and
nobody would know. `/healthz` answers 503 for unhealthy and degraded alike (a probe that
reads only the status code sees both); `/livez` answers 503 only when unhealthy (restarting
the daemon does not mend a rule file). The daemon judges the rules it holds; a separate
`ats-inbox status` reads the files and the set the store kept (`on_disk`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from daemon.domain import NEEDS_PERSON, Status
from daemon.routing.live import RulesState
from daemon.store.models import PassRecord
from daemon.store.queue import oldest_waiting
from daemon.store.repository import Store

SUCCEEDED = ("ok", "deferred")


@dataclass(frozen=True, slots=True)
class Facts:
    """What the database says about the daemon's passes and its queue."""

    last_success: datetime | None  # when the last successful pass finished
    last_finished: PassRecord | None  # the last pass that finished, whatever its outcome
    review_queue: int  # messages waiting for a person (review, uncertain)
    backlog: int  # messages seen but not settled (pending)
    counts: dict[str, int]  # messages by status
    oldest_waiting: datetime | None = None  # when the oldest message waiting for a person was recorded
    # With several mailboxes: each one's facts (its passes; the queue and counts are the whole store's).
    mailboxes: tuple[tuple[str, Facts], ...] = ()


@dataclass(frozen=True, slots=True)
class Health:
    healthy: bool
    reasons: tuple[str, ...]  # why not, when not; else what is fine
    stale: bool = False  # no successful pass for too long (the alert "no_success")
    degraded: tuple[str, ...] = ()  # working, but this needs a person (the rule files on disk invalid)
    rules_invalid: bool = False  # the rule files on disk are invalid (the alert "rules")

    @property
    def ok(self) -> bool:
        """Healthy and not degraded: /healthz 200."""
        return self.healthy and not self.degraded

    def line(self) -> str:
        if not self.healthy:
            return f"UNHEALTHY: {'; '.join(self.reasons + self.degraded)}"
        if self.degraded:
            return f"DEGRADED: {'; '.join(self.degraded + self.reasons)}"
        return f"healthy: {'; '.join(self.reasons)}"


def read_facts(store: Store, mailboxes: Sequence[str] = ()) -> Facts:
    """The facts, in short read transactions (they take no lock); with several `mailboxes`, each one's too."""
    success, finished = _passes_of(store, None)
    counts = store.counts()
    waiting = oldest_waiting(store) if any(counts.get(status) for status in NEEDS_PERSON) else None
    each = tuple((name, Facts(*_passes_of(store, name), review_queue=0, backlog=0, counts={}))
                 for name in mailboxes) if len(mailboxes) > 1 else ()
    return Facts(last_success=success, last_finished=finished,
                 review_queue=sum(counts.get(status, 0) for status in NEEDS_PERSON),
                 backlog=counts.get(Status.PENDING, 0), counts=counts, oldest_waiting=_aware(waiting),
                 mailboxes=each)


def _passes_of(store: Store, mailbox: str | None) -> tuple[datetime | None, PassRecord | None]:
    """When the last successful pass (through `mailbox`, or any) finished, and the last finished pass."""
    where = () if mailbox is None else (PassRecord.mailbox == mailbox,)
    with store.reading() as s:
        success = s.scalar(select(PassRecord.finished_at).where(PassRecord.outcome.in_(SUCCEEDED), *where)
                           .order_by(PassRecord.id.desc()).limit(1))
        finished = s.scalar(select(PassRecord).where(PassRecord.finished_at.is_not(None), *where)
                            .order_by(PassRecord.id.desc()).limit(1))
    return _aware(success), finished


def assess(facts: Facts, now: datetime, no_success: timedelta, started: datetime | None = None,
           rules: RulesState | None = None) -> Health:
    """Healthy, or why not; degraded while `rules` says the files on disk are invalid. `started`: when this
    daemon started, which gives its first pass `no_success` to succeed; None (a separate command): only the
    last success counts, and a database with no pass recorded at all is not judged (a fresh install)."""
    health = _each_mailbox(facts, now, no_success, started) if facts.mailboxes else \
        _passes(facts, now, no_success, started)
    if rules is None or rules.valid:
        return health
    return Health(health.healthy, health.reasons, health.stale, (rules_reason(rules, now),), rules_invalid=True)


def _passes(facts: Facts, now: datetime, no_success: timedelta, started: datetime | None) -> Health:
    if started is None and facts.last_success is None and facts.last_finished is None:
        return Health(True, ("no pass recorded yet: nothing to judge (is the daemon running?)",))
    reasons: list[str] = []
    since = max((m for m in (facts.last_success, started) if m is not None), default=None)
    stale = since is None or now - since > no_success
    if stale:
        reasons.append(_no_success(facts.last_success, now, no_success))
    last = facts.last_finished
    if last is not None and last.outcome == "failed":
        reasons.append(f"the last pass (#{last.id}) failed: {last.error}")
    if reasons:
        return Health(False, tuple(reasons), stale=stale)
    if facts.last_success is None:
        return Health(True, ("started, no pass finished yet",))
    return Health(True, (f"last successful pass {_ago(now - facts.last_success)} ago",))


def _each_mailbox(facts: Facts, now: datetime, no_success: timedelta, started: datetime | None) -> Health:
    """Several mailboxes: unhealthy when any one is (its reasons named by the mailbox); each judged on its own passes,
    so a mailbox that never succeeds is not hidden by the others' successes."""
    judged = [(name, _passes(each, now, no_success, started)) for name, each in facts.mailboxes]
    ill = [(name, health) for name, health in judged if not health.healthy]
    if ill:
        reasons = tuple(f"mailbox {name}: {reason}" for name, health in ill for reason in health.reasons)
        return Health(False, reasons, stale=any(health.stale for _, health in ill))
    return Health(True, (f"all {len(judged)} mailboxes passing ({judged[0][0]}: {judged[0][1].reasons[0]})",))


def mailbox_health(facts: Facts, now: datetime, no_success: timedelta,
                   started: datetime | None = None) -> list[tuple[str, Health]]:
    """Each mailbox's own judgement (empty with one mailbox): the metrics' per-mailbox gauges."""
    return [(name, _passes(each, now, no_success, started)) for name, each in facts.mailboxes]


def rules_reason(rules: RulesState, now: datetime) -> str:
    """One line: the rule files on disk are invalid, their first problem, and what runs meanwhile."""
    more = f" (and {len(rules.problems) - 1} more)" if len(rules.problems) > 1 else ""
    said = f"the rule files on disk are invalid: {rules.problems[0]}{more}"
    if not rules.fingerprint:
        return f"{said}; no good rule set is kept: poll and run refuse to start until they are fixed"
    accepted = f", accepted {_ago(max(now - rules.accepted_at, timedelta()))} ago" if rules.accepted_at else ""
    return f"{said}; intake goes on with the last good rules ({rules.fingerprint}{accepted}): `ats-inbox rules check`"


def seconds_since_success(facts: Facts, now: datetime) -> float | None:
    return None if facts.last_success is None else max(0.0, (now - facts.last_success).total_seconds())


def _no_success(last: datetime | None, now: datetime, limit: timedelta) -> str:
    if last is None:
        return "no pass has succeeded yet"
    return f"no successful pass for {_ago(now - last)} (limit {_ago(limit)}; last at {last:%Y-%m-%d %H:%M} UTC)"


def _ago(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes: they are UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


class Watch:
    """The judgement over one store, with the daemon's start as the clock for its first pass."""

    def __init__(self, store: Store, no_success: timedelta, started: datetime | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 rules: Callable[[], RulesState | None] = lambda: None, mailboxes: Sequence[str] = ()):
        self.store, self.no_success, self.started, self._clock = store, no_success, started, clock
        self.rules = rules  # the rule set in force and the state of the files on disk (None: not judged)
        self.mailboxes = tuple(mailboxes)  # several: each judged on its own passes

    def now(self) -> datetime:
        return self._clock()

    def facts(self) -> Facts:
        return read_facts(self.store, self.mailboxes)

    def judge(self, facts: Facts | None = None) -> Health:
        return assess(facts or self.facts(), self._clock(), self.no_success, self.started, self.rules())


def no_success_window(no_success_minutes: int, interval_seconds: int) -> timedelta:
    """How long without a successful pass is unhealthy: the setting, but at least three intervals
    (a daemon polling hourly is not unhealthy after 15 minutes)."""
    return timedelta(seconds=max(no_success_minutes * 60, 3 * interval_seconds))
