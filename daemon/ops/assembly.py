"""The composition root: the daemon assembled from its parts, once, from the settings.

Every long-lived part is built here and handed to the parts that use it; nothing is patched
onto an object after it was built. `service` serves `poll` and `backfill` (one pass);
`daemon` adds what a long-running daemon needs: health, alerts, metrics, and the systemd
pass report, all told of every pass. The crash-recovery test hook (daemon.ops.crash) is
installed here, and only when its variable is set.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url

from daemon.ats.client import AtsClient
from daemon.ats.directory import AtsDirectory
from daemon.config import DEFAULT_MAILBOX, Settings
from daemon.errors import ConfigError, StoreBusy
from daemon.intake.planning import FlowOptions
from daemon.intake.replying import Replies
from daemon.mailbox import recorded, restore
from daemon.mailbox.imap import ImapMailbox
from daemon.ops import alerts, notify
from daemon.ops.crash import armed
from daemon.ops.health import Watch, no_success_window
from daemon.ops.mailboxes import MailboxFailures
from daemon.ops.service import PassObserver, PassObservers, Service, Stopping, ats_client, runner_options
from daemon.replies import templates
from daemon.replies.relay import Relay, SmtpRelay
from daemon.replies.token import ReceiptKey, load_key
from daemon.routing.live import LiveRules, RulesState
from daemon.store import Store, open_store
from daemon.store.instances import InstanceHeartbeat
from daemon.store.kept_rules import RulesKeeper
from daemon.store.watch import DatabaseWatch

if TYPE_CHECKING:
    from daemon.ops.metrics import Metrics  # prometheus_client: imported only with [metrics] listen

KEY_FILE = "replies.key"  # the receipt key generated beside an SQLite database


def rules_keeper(store: Store, settings: Settings) -> RulesKeeper:
    """The last good rule set of `[rules] path` in the store (keyed by the folder's absolute path)."""
    return RulesKeeper(store, os.path.abspath(settings.rules_path))


def live_rules(store: Store, settings: Settings) -> LiveRules:
    """The rules in force: the files, or the last good set kept when they are invalid. Invalid files and no
    set kept (the very first start) raise RulesInvalid: the daemon does not start."""
    return LiveRules(settings.rules_path, keeper=rules_keeper(store, settings))


def settle() -> None:
    """Once the parts are built: the objects made so far (the modules, the models, the prebuilt statements,
    hundreds of thousands of them, alive until the process ends) leave the cyclic garbage collector's sight
    (`gc.freeze`). Its full collections walked all of them again, over and over: a tenth of a pass's CPU
    (`benchmarks.compare`, benchmarks/README.md). One of them that becomes garbage later (the rules read at
    start, once reloaded) is still freed by its reference count; only a cycle among such objects stays, once.
    The collector, off while the parts were built (`daemon.cli`), is on again."""
    gc.freeze()
    gc.enable()


def intake_store(settings: Settings) -> Store:
    """The store of the commands that read mail (`run`, `poll`): a session of theirs that sits idle in a
    transaction for half a lease period is ended by PostgreSQL (its process was stopped), so the rows it
    locked never hold up the other instances' takeover (`daemon.store.database.create_store_engine`)."""
    return open_store(settings.database_url, idle_transaction_seconds=settings.lease_seconds / 2)


def service(settings: Settings, stop: Stopping, *, backfill_since: date | None = None,
            store: Store | None = None, observer: PassObserver | None = None,
            client: AtsClient | None = None, rules: LiveRules | None = None,
            environ: Mapping[str, str] = os.environ, mailbox: str = DEFAULT_MAILBOX,
            directory: AtsDirectory | None = None, sharing: InstanceHeartbeat | None = None) -> Service:
    """The service for one pass or many over one mailbox (`settings.for_mailbox(...)` for one of several): its
    waits (retry, reconnect, Retry-After) end on `stop`, and so does an IMAP operation still waiting for the
    server. The rules: `live_rules`. A `store` given is used as it is (its opener installed the crash hook, if
    any); otherwise the database is opened here, with the hook when `environ` asks for it. `sharing` (the
    daemon's heartbeat): the mailbox's lease is tried only in this instance's turn."""
    store = store if store is not None else armed(intake_store(settings), environ)
    client = client if client is not None else ats_client(settings.ats, stop)
    rules = rules if rules is not None else live_rules(store, settings)
    flow_options = FlowOptions.from_settings(settings)
    directory = directory if directory is not None else AtsDirectory(client, source_name=settings.ats.source)
    return Service(store=store, client=client, directory=directory,
                   options=replace(runner_options(settings), backfill_since=backfill_since),
                   flow_options=flow_options,
                   mailbox_factory=lambda: ImapMailbox(settings.imap, should_stop=stop.requested),
                   watch=DatabaseWatch(store, settings.database_url), stop=stop,
                   rules=rules, retention_days=settings.retention_days,
                   observer=observer if observer is not None else PassObservers(),
                   move_back=restore.mover(settings.imap), mailbox=mailbox,
                   replies=replies(settings, store, flow_options), sharing=sharing,
                   lease_seconds=settings.lease_seconds)


def services(settings: Settings, stop: Stopping, *, store: Store, client: AtsClient,
             observer: Callable[[str], PassObserver] = lambda name: PassObservers(),
             backfill_since: date | None = None, sharing: InstanceHeartbeat | None = None) -> tuple[Service, ...]:
    """One service per mailbox, sharing the store and the ATS client; mailboxes with one rules folder share its
    live rules, and those with one source share the ATS directory (its cache). `observer(name)`: each one's."""
    rules: dict[Path, LiveRules] = {}
    directories: dict[str, AtsDirectory] = {}
    built = []
    for mailbox in settings.all_mailboxes():
        alone = settings.for_mailbox(mailbox)
        if mailbox.rules_path not in rules:
            rules[mailbox.rules_path] = live_rules(store, alone)
        if mailbox.source not in directories:
            directories[mailbox.source] = AtsDirectory(client, source_name=mailbox.source)
        built.append(service(alone, stop, backfill_since=backfill_since, store=store, client=client,
                             observer=observer(mailbox.name), rules=rules[mailbox.rules_path],
                             mailbox=mailbox.name, directory=directories[mailbox.source], sharing=sharing))
    return tuple(built)


def replies(settings: Settings, store: Store, flow_options: FlowOptions, relay: Relay | None = None) -> Replies | None:
    """The daemon's replies when [replies] is on: templates, the receipt key (generated beside an SQLite
    database when no file is named), the SMTP relay (or `relay`)."""
    r = settings.replies
    if not r.on:
        return None
    path, create = _key_file(settings)
    key = ReceiptKey(load_key(path, create=create), r.from_address.rpartition("@")[2].lower())
    return Replies(store, r, templates.load(r.templates, r.language), key, relay or SmtpRelay(r),
                   own_addresses=flow_options.own_addresses,
                   forwarders=(*flow_options.internal_senders, *(entry for entry, _ in flow_options.agencies)),
                   move_back=restore.mover(settings.imap), settle=recorded.settler(settings.imap))


def _key_file(settings: Settings) -> tuple[Path, bool]:
    """The receipt key's file, and whether it may be generated (only beside a SQLite database)."""
    if settings.replies.token_key_file:
        return Path(settings.replies.token_key_file), False
    url = make_url(settings.database_url)
    if not url.drivername.startswith("sqlite") or not url.database or url.database == ":memory:":
        raise ConfigError("is required with a database other than an SQLite file", key="replies.token_key_file")
    return Path(url.database).parent / KEY_FILE, True


@dataclass(frozen=True, slots=True)
class Daemon:
    """The long-running daemon's parts: a service per mailbox, and those told of each of their passes."""

    services: tuple[Service, ...]
    health: Watch
    alerting: alerts.Alerting
    metrics: Metrics | None  # with [metrics] listen
    instance: InstanceHeartbeat  # beaten by the main loop; the lanes take their turns from it

    @property
    def service(self) -> Service:
        """The first mailbox's service (the only one without [[mailbox]] tables)."""
        return self.services[0]

    def rules(self) -> list[LiveRules]:
        """Each rules folder's live rules, once."""
        return list({id(s.rules): s.rules for s in self.services if s.rules is not None}.values())

    def close(self) -> None:
        """This instance leaves (the others take its share at once); the store and the ATS client, shared by
        every mailbox's service, closed once."""
        try:
            self.instance.leave()
        except StoreBusy:
            pass  # its heartbeat runs out within a lease period instead
        finally:
            self.service.close()


def daemon(settings: Settings, stop: Stopping, notifier: notify.Notifier,
           environ: Mapping[str, str] = os.environ) -> Daemon:
    """A service per mailbox with health, alerts, metrics (when [metrics] listen is set) and the systemd
    pass report as its pass observers, and the ATS client reporting each exchange to the metrics;
    health (and through it the metrics and alerts) judges each mailbox's passes and the rules the daemon holds."""
    store = armed(intake_store(settings), environ)
    instance = InstanceHeartbeat(store, ttl=settings.lease_seconds,
                                 mailboxes=[m.imap.lease_name for m in settings.all_mailboxes()])
    names = [m.name for m in settings.all_mailboxes()]
    held: list[LiveRules] = []  # each rules folder's, once the services are built
    window = no_success_window(settings.health.no_success_minutes, settings.interval_seconds)
    health = Watch(store, window, started=datetime.now(UTC), rules=lambda: _worst(held), mailboxes=names)
    a = settings.alerts
    alerting = alerts.Alerting(alerts.senders(a.command, a.webhook_url, a.timeout_seconds),
                               alerts.Thresholds(a.review_queue_above, a.login_failures,
                                                                 a.oldest_waiting_hours))
    failures = MailboxFailures(alerting) if len(names) > 1 else None
    metrics = _metrics(settings, health, lambda: client.breaker.is_open)
    client = ats_client(settings.ats, stop, observe=metrics.ats_exchange if metrics is not None else None)
    report = notify.PassReport(notifier, settings.interval_seconds)

    def observer(name: str) -> PassObserver:
        told = failures.of(name) if failures is not None else alerting
        return PassObservers(report, told, *([metrics.of(name)] if metrics is not None else []))

    built = Daemon(services(settings, stop, store=store, client=client, observer=observer, sharing=instance),
                   health, alerting, metrics, instance)
    held.extend(built.rules())
    return built


def _metrics(settings: Settings, health: Watch, circuit_open: Callable[[], bool]) -> Metrics | None:
    """The metrics with [metrics] listen, else none (and prometheus_client is not imported)."""
    if not settings.metrics.host:
        return None
    from daemon.ops.metrics import Metrics

    return Metrics(health, circuit_open)


def _worst(rules: list[LiveRules]) -> RulesState | None:
    """The rules state health judges: the first folder whose files are invalid, else the first folder's."""
    states = [r.state() for r in rules]
    return next((state for state in states if not state.valid), states[0] if states else None)
