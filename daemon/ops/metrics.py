"""Prometheus metrics, and the optional HTTP listener that serves them with `/healthz`.

Counted as it happens (this process, since it started):

    ats_inbox_messages_total{mailbox,outcome}    messages handled, by mailbox and outcome (submitted, review, ...)
    ats_inbox_message_seconds                    time to handle one message (histogram)
    ats_inbox_passes_total{mailbox,outcome}      passes, by mailbox and outcome (ok, deferred, ats down, failed, busy)
    ats_inbox_ats_requests_total{step,status}    ATS calls by step and HTTP status ("error": no answer)
    ats_inbox_ats_retries_total{step}            retry waits before an ATS call was sent again

Read when scraped (from the database and the ATS client):

    ats_inbox_recorded_messages{status}          messages in the database, by status
    ats_inbox_review_queue                       messages waiting for a person (review, uncertain)
    ats_inbox_backlog                            messages seen but not settled (pending)
    ats_inbox_review_oldest_seconds              how long the oldest set-aside (review, uncertain) mail has
                                                 waited (0: none waits)
    ats_inbox_seconds_since_last_success         since the last successful pass finished (absent: never)
    ats_inbox_healthy                            1 healthy, 0 unhealthy or degraded (as /healthz answers 200 or 503)
    ats_inbox_ats_circuit_open                   1 while the circuit breaker keeps calls away from the ATS
    ats_inbox_mailbox_healthy{mailbox}           with several mailboxes: 1 when that mailbox's passes are healthy
    ats_inbox_mailbox_seconds_since_last_success{mailbox}   ... and since its last successful pass
    ats_inbox_rules_valid                        1 the rule files on disk are in force, 0 invalid (the last good
                                                 set runs meanwhile)
    ats_inbox_rules_info{fingerprint}            1, labelled with the fingerprint of the rule set in force
    ats_inbox_rules_age_seconds                  since the rule set in force was accepted

The listener answers GET /metrics, GET /healthz (200 healthy, 503 unhealthy or degraded,
the judgement in the body) and GET /livez (503 only when unhealthy: for a liveness probe
that restarts the daemon, which would not mend a rule file), and nothing else; it binds to
loopback unless `[metrics] allow_remote` says so.
A flood of connections cannot take the daemon's file descriptors or a CPU: at most
MAX_CONNECTIONS are served at once (more are closed as soon as they are accepted), each is
cut after CONNECTION_SECONDS whatever it is doing, and when the process is out of
descriptors the listener pauses before accepting again instead of spinning.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from daemon.config import DEFAULT_MAILBOX
from daemon.errors import AtsInboxError
from daemon.intake.runner import PassSummary
from daemon.ops.health import Facts, Health, Watch, mailbox_health, seconds_since_success
from daemon.routing.live import RulesState
from daemon.store.outbox import Outbox
from daemon.store.repository import Store

log = logging.getLogger(__name__)
SECONDS_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
MAX_CONNECTIONS = 16  # served at once: a scraper or two, and a person with curl
CONNECTION_SECONDS = 10.0  # a whole connection, from accept to close (Prometheus' scrape timeout is 10 s)
ACCEPT_PAUSE = 0.5  # seconds between two accepts while the process has no descriptor left


class Metrics:
    """The registry and the counters; a service pass observer (daemon.ops.service.PassObserver)."""

    def __init__(self, watch: Watch | None = None, circuit_open: Callable[[], bool] = lambda: False):
        self.registry = CollectorRegistry(auto_describe=True)
        self.messages = Counter("ats_inbox_messages", "Messages handled, by mailbox and outcome",
                                ["mailbox", "outcome"], registry=self.registry)
        self.message_seconds = Histogram("ats_inbox_message_seconds", "Time to handle one message",
                                         buckets=SECONDS_BUCKETS, registry=self.registry)
        self.passes = Counter("ats_inbox_passes", "Passes over a mailbox, by mailbox and outcome",
                              ["mailbox", "outcome"], registry=self.registry)
        self.ats_requests = Counter("ats_inbox_ats_requests", "ATS calls by step and HTTP status",
                                    ["step", "status"], registry=self.registry)
        self.ats_retries = Counter("ats_inbox_ats_retries", "ATS calls sent again after a wait", ["step"],
                                   registry=self.registry)
        if watch is not None:
            self.registry.register(_Scraped(watch, circuit_open))

    def text(self) -> bytes:
        """The exposition text of every metric."""
        return generate_latest(self.registry)

    # -- what the ATS client tells (AtsClient(observe=...)) --------------------------------

    def ats_exchange(self, step: str, status: str) -> None:
        if status == "retry":
            self.ats_retries.labels(step=step).inc()
        else:
            self.ats_requests.labels(step=step, status=status).inc()

    # -- what the service tells (daemon.ops.service.PassObserver) ------------------------------

    def of(self, mailbox: str) -> MailboxMetrics:
        """The pass observer of one mailbox: its passes and messages counted under its `mailbox` label."""
        return MailboxMetrics(self, mailbox)

    def pass_started(self, pass_id: int) -> None:
        pass

    def progress(self) -> None:
        pass

    def message_handled(self, status: str, seconds: float) -> None:
        self.of(DEFAULT_MAILBOX).message_handled(status, seconds)

    def pass_ended(self, pass_id: int, summary: PassSummary | None, error: Exception | None) -> None:
        self.of(DEFAULT_MAILBOX).pass_ended(pass_id, summary, error)


class MailboxMetrics:
    """The metrics as one mailbox's pass observer (`Metrics.of`)."""

    def __init__(self, metrics: Metrics, mailbox: str):
        self.metrics, self.mailbox = metrics, mailbox

    def pass_started(self, pass_id: int) -> None:
        pass

    def progress(self) -> None:
        pass

    def message_handled(self, status: str, seconds: float) -> None:
        self.metrics.messages.labels(mailbox=self.mailbox, outcome=status).inc()
        self.metrics.message_seconds.observe(seconds)

    def pass_ended(self, pass_id: int, summary: PassSummary | None, error: Exception | None) -> None:
        self.metrics.passes.labels(mailbox=self.mailbox, outcome=_pass_outcome(summary, error)).inc()


def _pass_outcome(summary: PassSummary | None, error: Exception | None) -> str:
    if summary is None or error is not None:
        return "failed"
    return "busy" if summary.busy else "ats down" if summary.ats_down else "deferred" if summary.pending else "ok"


def waited_seconds(facts: Facts, now: datetime) -> float:
    """How long the oldest message waiting for a person has waited (0: none waits)."""
    return max(0.0, (now - facts.oldest_waiting).total_seconds()) if facts.oldest_waiting is not None else 0.0


class _Scraped(Collector):
    """Gauges read at scrape time; a database that cannot be read leaves them out (logged)."""

    def __init__(self, watch: Watch, circuit_open: Callable[[], bool]):
        self.watch, self.circuit_open = watch, circuit_open

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            facts = self.watch.facts()
        except AtsInboxError as exc:
            log.warning("metrics.unreadable", extra={"error": type(exc).__name__})
            return
        health, since = self.watch.judge(facts), seconds_since_success(facts, self.watch.now())
        by_status = GaugeMetricFamily("ats_inbox_recorded_messages", "Messages in the database, by status",
                                      labels=["status"])
        for status, count in sorted(facts.counts.items()):
            by_status.add_metric([status], count)
        yield by_status
        yield GaugeMetricFamily("ats_inbox_review_queue", "Messages waiting for a person (review, uncertain)",
                                value=facts.review_queue)
        yield GaugeMetricFamily("ats_inbox_backlog", "Messages seen but not settled (pending)",
                                value=facts.backlog)
        yield GaugeMetricFamily("ats_inbox_review_oldest_seconds", "Seconds the oldest set-aside mail (review, "
                                "uncertain) has waited; 0 when none waits",
                                value=waited_seconds(facts, self.watch.now()))
        if since is not None:
            yield GaugeMetricFamily("ats_inbox_seconds_since_last_success",
                                    "Seconds since the last successful pass finished", value=since)
        yield GaugeMetricFamily("ats_inbox_healthy", "1 when healthy and not degraded (as /healthz), else 0",
                                value=int(health.ok))
        yield GaugeMetricFamily("ats_inbox_ats_circuit_open", "1 while the ATS circuit breaker is open",
                                value=int(self.circuit_open()))
        yield from _mailboxes(facts, self.watch)
        yield from _rules(self.watch.rules(), self.watch.now())
        yield from _replies(self.watch.store)

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())  # read at scrape time only: never during registration


def _replies(store: Store) -> Iterator[GaugeMetricFamily]:
    """Mail the daemon sends ([replies]), by status: `queued` grows while the relay is down."""
    try:
        counts = Outbox(store).counts()
    except AtsInboxError as exc:
        log.warning("metrics.unreadable", extra={"error": type(exc).__name__})
        return
    family = GaugeMetricFamily("ats_inbox_replies", "Replies (receipts, acknowledgements, answers) by status",
                               labels=["status"])
    for status, count in sorted(counts.items()):
        family.add_metric([status], count)
    yield family


def _mailboxes(facts: Facts, watch: Watch) -> Iterator[GaugeMetricFamily]:
    """With several mailboxes, each one's health and time since its last successful pass."""
    if not facts.mailboxes:
        return
    now = watch.now()
    healthy = GaugeMetricFamily("ats_inbox_mailbox_healthy", "1 when the mailbox's passes are healthy, else 0",
                                labels=["mailbox"])
    for name, health in mailbox_health(facts, now, watch.no_success, watch.started):
        healthy.add_metric([name], int(health.healthy))
    yield healthy
    since = GaugeMetricFamily("ats_inbox_mailbox_seconds_since_last_success",
                              "Seconds since the mailbox's last successful pass finished", labels=["mailbox"])
    for name, each in facts.mailboxes:
        seconds = seconds_since_success(each, now)
        if seconds is not None:
            since.add_metric([name], seconds)
    yield since


def _rules(rules: RulesState | None, now: datetime) -> Iterator[GaugeMetricFamily]:
    """The rules gauges (none when the watch has no rules to report)."""
    if rules is None:
        return
    yield GaugeMetricFamily("ats_inbox_rules_valid", "1 when the rule files on disk are valid and in force, 0 when "
                            "invalid (the last good rule set runs meanwhile)", value=int(rules.valid))
    info = GaugeMetricFamily("ats_inbox_rules_info", "The rule set in force, by fingerprint", labels=["fingerprint"])
    info.add_metric([rules.fingerprint], 1)
    yield info
    if rules.accepted_at is not None:
        yield GaugeMetricFamily("ats_inbox_rules_age_seconds", "Seconds since the rule set in force was accepted",
                                value=max(0.0, (now - rules.accepted_at).total_seconds()))


# -- the listener -------------------------------------------------------------------------


class Listener:
    """GET /metrics and /healthz on one address, served by a thread of its own; at most `connections` at once,
    each for at most `seconds`."""

    def __init__(self, host: str, port: int, metrics: Metrics, health: Callable[[], Health], *,
                 connections: int = MAX_CONNECTIONS, seconds: float = CONNECTION_SECONDS):
        handler = type("Handler", (_Handler,), {"metrics": metrics, "health": staticmethod(health),
                                                "timeout": seconds})
        server_class = _Server6 if ":" in host else _Server
        self.server = server_class((host, port), handler, connections=connections, seconds=seconds)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.1,), name="metrics", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.server.server_address[:2]
        return str(host), int(port)

    def __enter__(self) -> Listener:
        self.thread.start()
        log.info("metrics.listening", extra={"address": "{}:{}".format(*self.address)})
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Server(ThreadingHTTPServer):
    """A thread per connection, for at most `connections` connections at once and `seconds` each."""

    daemon_threads = True
    request_queue_size = 128  # waiting in the kernel costs no descriptor; a short queue drops a burst's SYNs

    def __init__(self, address: tuple[str, int], handler: type[_Handler], *, connections: int, seconds: float):
        self.connections, self.seconds = connections, seconds
        self._open: dict[socket.socket, float] = {}  # connection -> when it is cut
        self._guard = threading.Lock()
        self._starved = False
        super().__init__(address, handler)

    def get_request(self) -> tuple[socket.socket, object]:
        try:
            request = super().get_request()
        except OSError as exc:
            if exc.errno not in (errno.EMFILE, errno.ENFILE):
                raise
            if not self._starved:
                log.error("metrics.out_of_descriptors", extra={"error": str(exc)})
            self._starved = True
            time.sleep(ACCEPT_PAUSE)  # the connection waits in the queue; accepting at once would spin
            raise
        self._starved = False
        return request

    def verify_request(self, request: socket.socket, client_address: object) -> bool:
        """Take the connection while fewer than `connections` are served; else it is closed at once."""
        with self._guard:
            if len(self._open) >= self.connections:
                log.debug("metrics.connection_refused", extra={"open": len(self._open)})
                return False
            self._open[request] = time.monotonic() + self.seconds
        return True

    def service_actions(self) -> None:
        """Between two accepts (every 0.1 s at most): cut the connections past their time; their threads end."""
        now = time.monotonic()
        with self._guard:
            late = [request for request, deadline in self._open.items() if deadline <= now]
            for request in late:
                self._open[request] = float("inf")  # cut once
        for request in late:
            with contextlib.suppress(OSError):  # closed by its thread meanwhile
                request.shutdown(socket.SHUT_RDWR)

    def close_request(self, request: socket.socket) -> None:
        with self._guard:
            self._open.pop(request, None)
        super().close_request(request)

    def handle_error(self, request: socket.socket, client_address: object) -> None:
        """A connection cut or gone mid-request: not worth a traceback on stderr."""
        log.debug("metrics.connection_failed", exc_info=True)


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    metrics: Metrics
    health: Callable[[], Health]
    server_version = "ats-inbox"

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._answer(200, self.metrics.text(), CONTENT_TYPE_LATEST)
        elif path in ("/healthz", "/livez"):
            verdict = _judged(self.health)
            fine = verdict.ok if path == "/healthz" else verdict.healthy
            self._answer(200 if fine else 503, (verdict.line() + "\n").encode(), "text/plain")
        else:
            self._answer(404, b"not found: try /metrics, /healthz or /livez\n", "text/plain")

    def _answer(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("metrics.request", extra={"request": format % args})


def _judged(health: Callable[[], Health]) -> Health:
    try:
        return health()
    except AtsInboxError as exc:  # the database locked or gone: say so rather than crash the handler
        return Health(False, (f"cannot read the database: {exc}",))
