"""What each CLI command does (the parser lives in cli.py)."""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from daemon.ats.directory import AtsDirectory
from daemon.cli import messages
from daemon.cli import rules_report as report
from daemon.cli import rules_tryout as tryout
from daemon.config import ImapSettings, Settings, load_settings
from daemon.domain import Placement
from daemon.errors import AtsInboxError, ConfigError
from daemon.intake import preview, reroute, review
from daemon.intake.planning import FlowOptions, missing_agency_sources
from daemon.intake.position import LeftOut
from daemon.intake.retention import purge_person
from daemon.mailbox import restore
from daemon.mailbox.recorded import MailDesk
from daemon.ops import assembly, idle, notify
from daemon.ops.crash import armed
from daemon.ops.health import Watch, no_success_window
from daemon.ops.service import Service, ats_client
from daemon.ops.stopping import StopSignal
from daemon.routing import RulesInvalid, check_against, load_rules
from daemon.routing.live import RulesState, on_disk
from daemon.store import Store, open_store
from daemon.store.database import without_password
from daemon.store.models import FolderState, MessageRecord, PassRecord, utcnow
from daemon.store.outbox import Outbox

if TYPE_CHECKING:
    from daemon.ops.metrics import Metrics

# The web stack (starlette, jinja2, uvicorn, nh3), Prometheus' client, APScheduler, the sandbox, the demo, `check`
# and `db copy` are imported by the commands that use them, when they run: `poll` never loads them
# (tests/test_lazy_imports.py).

log = logging.getLogger(__name__)
EXIT_OK, EXIT_FAILED = 0, 1
EXIT_DEGRADED = 3  # `status`: working, but the rule files on disk are invalid (the last good rule set runs)


def poll(settings: Settings, backfill_since: date | None = None) -> int:
    """One pass over each mailbox, one after another; with `backfill_since`, over each folder's mail since that
    date that has no record (what the first pass's window left out), with the same journal."""
    stop = StopSignal()
    failed = False
    with stop.installed():
        store = armed(assembly.intake_store(settings), os.environ)
        client = ats_client(settings.ats, stop)
        try:
            built = assembly.services(settings, stop, store=store, client=client, backfill_since=backfill_since)
            assembly.settle()
            for service in built:
                if stop.requested():
                    break
                failed |= _one_pass(service, stop, named=len(built) > 1)
        finally:
            client.close()
            store.close()
    return EXIT_FAILED if failed else EXIT_OK


def _one_pass(service: Service, stop: StopSignal, *, named: bool) -> bool:
    """One mailbox's pass, said in one line (named when there are several); whether the ATS was down."""
    summary = service.run_pass(stop.requested)
    name = f"{service.mailbox}: " if named else ""
    if summary.busy:
        print(f"{name}another ats-inbox instance is working on this mailbox; nothing done")
        return False
    print(f"{name}seen {summary.seen}, submitted {summary.submitted}, set aside {summary.set_aside}, "
          f"duplicates {summary.duplicates}, ignored {summary.ignored}, waiting for retry {summary.pending}")
    if summary.ats_down:
        print(f"ats-inbox: {name}the ATS did not answer, the pass stopped early: {summary.last_error}",
              file=sys.stderr)
    return summary.ats_down


def dry_run(settings: Settings, backfill_since: date | None = None) -> int:
    """`poll --dry-run` (or `backfill --dry-run`): one line per mail the pass would take saying what
    would happen, and on a first pass what it leaves out; nothing is changed."""

    with ats_client(settings.ats) as client:
        previews, summary = preview.run(settings, client, backfill_since)
    for item in previews:
        print(item.line)
    print(summary)
    return EXIT_OK


def run(settings: Settings) -> int:
    """Passes on the schedule, and at once when IDLE tells of new mail, until SIGTERM or SIGINT;
    the message in hand is finished first. SIGHUP re-reads the routing rules before the next message.
    Each mailbox ([[mailbox]]) runs in a lane of its own: its passes, its IDLE watcher (listening only while
    this instance holds the mailbox), its wake-ups.

    Under systemd (Type=notify) it says READY=1 once the mailbox opened, STATUS= lines, and
    WATCHDOG=1 after real progress; `[metrics] listen` serves /metrics and /healthz; `[alerts]`
    are checked from the main loop."""
    from daemon.ops.scheduler import Lane, run_lanes

    notifier = notify.Notifier.from_environ()
    _check_watchdog(settings, notifier)
    notify.install(notifier)
    stop = StopSignal()
    built = assembly.daemon(settings, stop, notifier)
    assembly.settle()
    watch, alerting, metrics, rules = built.health, built.alerting, built.metrics, built.rules()

    def reread() -> None:  # each rules folder read again before its mailbox's next message
        for folder in rules:
            folder.request_reload()

    reload = notify.Reload(notifier, reread, _reload_check(settings))
    wakes = {m.name: threading.Event() for m in settings.all_mailboxes()}

    def every_turn_again() -> None:  # the spread changed: each mailbox asks whether it is this instance's now
        for wake in wakes.values():
            wake.set()

    built.instance.when_the_spread_changes(every_turn_again)
    lanes = [Lane(service.mailbox, service.run_pass, wakes[service.mailbox]) for service in built.services]
    with stop.installed(on_hangup=reload.requested), _listening(settings, metrics, watch), \
            _reviewing(settings, built.services[0].store):
        imap = {m.name: m.imap for m in settings.all_mailboxes()}
        watchers = [idle.start(imap[service.mailbox], wakes[service.mailbox], stop, progress=notify.progress,
                               name=service.mailbox, wanted=service.holds) for service in built.services]
        try:
            run_lanes(lanes, settings.interval_seconds, stop, after_pass=notifier.pass_done,
                      on_stop=notifier.stopping,
                      chores=[built.instance.beat_if_due, reload.report, *(r.check for r in rules),
                              lambda: alerting.tick(watch)])
        finally:
            stop.request("the daemon loop ended")  # ends the IDLE watchers too
            for watcher in watchers:
                if watcher is not None:
                    watcher.join(timeout=5)
            built.close()
    return EXIT_OK


def _check_watchdog(settings: Settings, notifier: notify.Notifier) -> None:
    """Passes must come well inside systemd's WatchdogSec=: the interval below half of it."""
    limit = notifier.watchdog_seconds
    if limit is not None and settings.interval_seconds * 2 >= limit:
        raise ConfigError(f"is {settings.interval_seconds} s, but the unit's WatchdogSec= is {limit:.0f} s: a quiet "
                          f"mailbox would look hung; set interval_seconds below {limit / 2:.0f}, or raise WatchdogSec=",
                          key="schedule.interval_seconds", path=str(settings.path))


def _listening(settings: Settings, metrics: Metrics | None, watch: Watch) -> AbstractContextManager[object]:
    """The /metrics and /healthz listener while inside, when [metrics] listen is set."""

    if metrics is None:
        return nullcontext()
    from daemon.ops.metrics import Listener

    try:
        return Listener(settings.metrics.host, settings.metrics.port, metrics, watch.judge)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {settings.metrics.host}:{settings.metrics.port}: {exc.strerror}",
                          key="metrics.listen", path=str(settings.path)) from exc


def _reviewing(settings: Settings, store: Store) -> AbstractContextManager[object]:
    """The review page inside `run` when [web] listen is set; the web stack is imported only then."""
    if not settings.web.host:
        return nullcontext()
    from daemon.cli import web

    return web.listening(settings, store)


def _reload_check(settings: Settings) -> Callable[[], str]:
    """What a reload (SIGHUP) finds: the rules, read again before the next message; the configuration
    file only checked (its changes take effect on a restart)."""

    started = _digest(settings.path)

    def check() -> str:
        try:
            rules = load_rules(settings.rules_path)
        except RulesInvalid as exc:
            said = (f"reload refused: {len(exc.problems)} problem(s) in the rules in {settings.rules_path} "
                    "(`ats-inbox rules check`); the running rules stay")
        else:
            said = f"reloaded: {len(rules.rules)} rule(s) in force from the next message"
        if _digest(settings.path) == started:
            return said
        try:
            load_settings(settings.path, need_secrets=False)
        except ConfigError as exc:
            return f"{said}; {settings.path} changed and is invalid ({exc}): the running configuration stays"
        return f"{said}; {settings.path} changed: restart to apply it (a reload re-reads the rules only)"

    return check


def _digest(path: Path) -> str:

    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def status(settings: Settings, limit: int) -> int:
    """The health line first, then the counts and the last pass; exit 1 when unhealthy, 3 when degraded (the rule
    files on disk are invalid), 0 otherwise (a monitoring check)."""

    with _store(settings) as store:
        window = no_success_window(settings.health.no_success_minutes, settings.interval_seconds)
        rules = on_disk(settings.rules_path, assembly.rules_keeper(store, settings))
        names = [m.name for m in settings.all_mailboxes()]
        watch = Watch(store, window, rules=lambda: rules, mailboxes=names)
        facts = watch.facts()
        health = watch.judge(facts)
        print(f"Health: {health.line()}; review queue {facts.review_queue}, backlog {facts.backlog}")
        print(status_text(store, limit, settings.rules_path, rules, settings.mailbox_names()))
    return EXIT_FAILED if not health.healthy else EXIT_DEGRADED if health.degraded else EXIT_OK


def status_text(store: Store, limit: int, rules_folder: Path | None = None, rules: RulesState | None = None,
                mailboxes: messages.Mailboxes | None = None) -> str:
    """Counts per status, the last pass (of each mailbox, when there are several), the rules in force, and the most
    recent messages (with the mailbox each came from)."""
    last = store.last_pass()
    counts = store.counts()
    lines = ["Messages: " + (", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none yet")]
    found = {how: n for how, n in store.counts("found_by").items() if how}
    if found:
        lines.append("Candidates found by: " + ", ".join(f"{how} {n}" for how, n in sorted(found.items())))
    if mailboxes is not None and len(mailboxes) > 1:
        lines += [_pass_line(f"Last pass of {name}", store.last_pass(name)) for name in mailboxes.values()]
    else:
        lines.append(_pass_line("Last pass", last))
    lines += [_left_out(state) for state in store.folder_states() if state.skipped]
    if rules_folder is not None:
        lines.append(rules_text(rules_folder, last, rules))
    recent = store.messages(limit=limit)
    if recent:
        lines += ["", "Recent messages (`ats-inbox messages list` for the review queue):",
                  messages.list_text(recent, mailboxes)]
    return "\n".join(lines)


def _pass_line(title: str, last: PassRecord | None) -> str:
    if last is None:
        return f"{title}: never"
    return (f"{title}: #{last.id} started {last.started_at:%Y-%m-%d %H:%M:%S}, {last.outcome}"
            f" (seen {last.seen}, submitted {last.submitted}, set aside {last.set_aside})"
            + (f": {last.error}" if last.error else ""))


def _left_out(state: FolderState) -> str:
    """What the first pass over a folder left out (the days its mail arrived), and how to take it in."""
    since = f"{state.window_since:%Y-%m-%d}" if state.window_since else "any date"
    read = " or already read" if state.window_unseen else ""
    left = LeftOut.of(state)
    dates = f", {left.dates()}" if left.dates() else ""
    return (f"Left out on the first pass over {state.folder}: {state.skipped} message(s) from before {since}{read}"
            f"{dates}; take them in with `{left.command()}`")


def rules_text(folder: Path, last: PassRecord | None, rules: RulesState | None = None) -> str:
    """The rule files on disk, and whether the daemon's last pass ran with them; when they are invalid, the last
    good set a daemon runs with meanwhile (`rules`: what the store kept)."""
    try:
        on_disk = load_rules(folder)
    except RulesInvalid as exc:
        problems = "\n".join(f"  {p}" for p in exc.problems)
        return f"Rules: the files in {folder} are INVALID and not in force.{_kept(rules)}\n{problems}"
    said = f"Rules: {len(on_disk.rules)} rule(s) in {folder}"
    if last is None:
        return said
    if last.rules_fingerprint == on_disk.fingerprint:
        return f"{said}, in force in the last pass"
    return (f"{said}; the last pass ran with other rules (the files changed since: a running daemon loads "
            "them within seconds)")


def _kept(rules: RulesState | None) -> str:
    if rules is None:
        return ""
    if not rules.fingerprint:
        return " No good rule set is kept: `poll` and `run` refuse to start until they are fixed."
    accepted = f", accepted {rules.accepted_at:%Y-%m-%d %H:%M} UTC" if rules.accepted_at else ""
    return f" The daemon runs with the last good rule set ({rules.fingerprint}{accepted}), also after a restart."


def messages_list(settings: Settings, statuses: Sequence[str], limit: int) -> int:
    with _store(settings) as store:
        print(messages.list_text(review.list_messages(store, statuses, limit), settings.mailbox_names()))
    return EXIT_OK


def messages_show(settings: Settings, pk: int) -> int:
    with _store(settings) as store:
        print(messages.show_text(*review.message(store, pk), Outbox(store).of(pk), settings.mailbox_names()))
    return EXIT_OK


def messages_retry(settings: Settings, pk: int | None, include_uncertain: bool = False,
                   jobs: Sequence[str] = (), stages: Sequence[str] = ()) -> int:
    """One message, or (pk None) every review message; one line each, as it goes. With `jobs`
    (and `stages`, see reroute.pair_stages), the message goes to those jobs: the choice is journalled
    before the retry."""
    movers = {m.imap: restore.mover(m.imap) for m in settings.all_mailboxes()}
    move_back = None if not any(movers.values()) else \
        lambda record: (mover(record) if (mover := movers[_imap_of(settings, record)]) is not None else None)
    with _store(settings) as store:
        if jobs and pk is not None:
            _choose_jobs(settings, store, pk, reroute.pair_stages(jobs, stages))
        if pk is not None:
            outcomes = iter([review.retry(store, pk, move_back)])
        else:
            outcomes = review.retry_all(store, move_back, include_uncertain)
        done = 0
        for outcome in outcomes:
            _say(outcome)
            done += 1
        if not done:
            either = " or uncertain" if include_uncertain else ""
            print(f"nothing to retry: no message in review{either}")
    return EXIT_OK


def _choose_jobs(settings: Settings, store: Store, pk: int, picks: Sequence[tuple[str, str | None]]) -> None:

    record, _steps = review.message(store, pk)
    if record.status not in review.RETRYABLE:
        raise review.NotAllowed(f"message #{pk} is {record.status}: only {' or '.join(review.RETRYABLE)} "
                                "messages can be retried")
    with ats_client(settings.ats) as client:
        target = reroute.choose_jobs(store, pk, AtsDirectory(client, source_name=settings.ats.source), picks)
    print(f"#{pk} will go to {reroute.said(target)}", flush=True)


def messages_resolve(settings: Settings, pks: Sequence[int], note: str, by: str = "",
                     statuses: Sequence[str] = (), older_than: timedelta | None = None,
                     mailbox_off: str = "") -> int:
    """The messages `pks`, or those in `statuses` older than `older_than`; one line each, as it goes.

    Their mail is settled over one IMAP connection, opened only when a message needs it;
    `mailbox_off` says why the mailbox cannot be used (no IMAP password), if so."""

    desks = None if mailbox_off else _Desks(settings)
    settle = desks.settle if desks is not None else None
    try:
        with _store(settings) as store:
            if len(pks) == 1:  # one message: a refusal is the command's error (exit 1)
                _say(review.resolve(store, pks[0], note, by, settle, mailbox_off=mailbox_off))
                return EXIT_OK
            chosen = list(pks) or review.resolvable(store, statuses, older_than)
            outcomes = list(_each(review.resolve_many(store, chosen, note, by, settle, mailbox_off=mailbox_off)))
    finally:
        if desks is not None:
            desks.close()
    if not chosen:
        age = f" recorded more than {older_than.days} day(s) ago" if older_than else ""
        print(f"nothing to resolve: no message in {' or '.join(statuses)}{age}")
    refused = [o for o in outcomes if " not resolved: " in o.said]
    print(f"resolved {len(outcomes) - len(refused)} of {len(outcomes)} message(s)")
    return EXIT_FAILED if refused else EXIT_OK


def _imap_of(settings: Settings, record: MessageRecord) -> ImapSettings:
    """The IMAP settings of the mailbox a record came from (the first mailbox's for one no longer configured)."""
    return next((m.imap for m in settings.all_mailboxes() if (m.imap.account, m.imap.folder) ==
                 (record.account, record.folder)), settings.imap)


class _Desks:
    """A MailDesk per mailbox, each opened when a message of it needs settling first."""

    def __init__(self, settings: Settings):
        self.settings, self.desks = settings, {}

    def settle(self, record: MessageRecord) -> Placement | None:
        imap = _imap_of(self.settings, record)
        if imap not in self.desks:
            self.desks[imap] = MailDesk(imap)
        return self.desks[imap].settle(record)

    def close(self) -> None:
        for desk in self.desks.values():
            desk.close()


def _each(outcomes: Iterator[review.Outcome]) -> Iterator[review.Outcome]:
    """Each outcome printed as it comes: refusals to stderr."""
    for outcome in outcomes:
        if " not resolved: " in outcome.said:
            print(outcome.said, file=sys.stderr, flush=True)
        else:
            _say(outcome)
        yield outcome


def messages_open(settings: Settings, pk: int, output: Path | None) -> int:
    """The original mail, as the server has it, to `output` (created 0600, never overwritten) or stdout."""

    with _store(settings) as store:
        record, _steps = review.message(store, pk)
    desk = MailDesk(_imap_of(settings, record))
    try:
        raw = desk.read(record)
    finally:
        desk.close()
    if raw is None:
        print(f"ats-inbox: the mail of #{pk} is not in the mailbox any more (looked in "
              f"{', '.join(desk.places(record))}, by UID and by Message-ID and hash)", file=sys.stderr)
        return EXIT_FAILED
    if output is None or str(output) == "-":
        sys.stdout.buffer.write(raw)
        sys.stdout.buffer.flush()
        return EXIT_OK
    _write_private(output, raw)
    print(f"wrote the mail of #{pk} ({len(raw)} bytes) to {output}", file=sys.stderr)
    return EXIT_OK


def _write_private(path: Path, data: bytes) -> None:
    """A new file readable by its owner only; an existing file is never overwritten."""


    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise AtsInboxError(f"{path} exists: give the name of a new file") from None
    except OSError as exc:
        raise AtsInboxError(f"cannot create {path}: {exc.strerror}") from exc
    with os.fdopen(fd, "wb") as out:
        os.fchmod(out.fileno(), 0o600)
        out.write(data)


def messages_purge(settings: Settings, email: str) -> int:
    """Remove one person's data from the database, and say what stays elsewhere."""

    with _store(settings) as store:
        purged = purge_person(store, email, utcnow())
    if not purged.ids and not purged.applicant_id:
        print(f"nothing recorded for {email}: no message from that address and no applicant created for it")
        return EXIT_OK
    ids = ", ".join(f"#{pk}" for pk in purged.ids)
    print(f"removed the personal data of {len(purged.ids)} message(s) of {email}"
          + (f" ({ids})" if ids else "") + " from the database"
          + (f", and forgot its ATS applicant {purged.applicant_id} (a new application creates a new applicant)"
             if purged.applicant_id else "") + ".")
    applicant = f" (applicant {purged.applicant_id}, its CVs and comments)" if purged.applicant_id else ""
    print(f"The ATS keeps its own copy{applicant}: delete it there.")
    if purged.folders:
        print(f"The mails themselves stay in the mailbox ({', '.join(purged.folders)}): delete them there too.")
    if purged.pending:
        print(f"{len(purged.pending)} of them still pending ({', '.join(f'#{pk}' for pk in purged.pending)}): the "
              "next pass reads the mail again and records the sender again; resolve them or delete the mail first.")
    return EXIT_OK


def check(settings: Settings) -> int:
    """Whether everything is ready to go live: IMAP and its folders, the ATS, the source, the rules."""
    from daemon.cli.check import run_checks

    report = run_checks(settings)
    print(report.text())
    return EXIT_OK if report.ready else EXIT_FAILED


def _say(outcome: review.Outcome) -> None:
    print(outcome.said, flush=True)
    if outcome.warning:
        print(outcome.warning, file=sys.stderr, flush=True)


@contextmanager
def _store(settings: Settings) -> Iterator[Store]:
    store = open_store(settings.database_url)
    try:
        yield store
    finally:
        store.close()


def db_upgrade(settings: Settings) -> int:
    open_store(settings.database_url).close()
    print(f"database is at the latest schema: {settings.database_url}")
    return EXIT_OK


def db_copy(settings: Settings, to: str, replace: bool) -> int:
    """The state copied into the database at `to`, counted table by table."""
    if to == settings.database_url:
        raise ConfigError("--to names the database this configuration already uses", key="database.url")
    from daemon.store.copy import copy_store

    source, target = open_store(settings.database_url), open_store(to)
    try:
        copied = copy_store(source, target, replace=replace)
    finally:
        source.close()
        target.close()
    for done in copied:
        print(f"{done.table:<16} {done.rows:>8} rows")
    print(f"copied into {without_password(to)}: set [database] url to it, then start the daemon")
    return EXIT_OK


def sandbox(host: str, port: int, db: Path, seed: Path | None, token: str | None,
            token_file: Path | None = None) -> int:
    from daemon.sandbox import SandboxATS
    from daemon.sandbox.secret import sandbox_token

    server = SandboxATS(db, seed_path=seed, token=sandbox_token(token, token_file))
    locked = " (token required)" if server.token is not None else ""
    print(f"sandbox ATS on http://{host}:{port}/{locked} (state in {db}); Ctrl-C to stop")
    server.serve_forever(host, port)
    return EXIT_OK


def demo(workdir: Path, mail: Path | None) -> int:
    from daemon.cli.demo import run_demo

    print(run_demo(workdir, mail))
    return EXIT_OK



# -- ats-inbox rules check / rules test --------------------------------------------------------
# Exit codes: check 0 valid (warnings allowed), 1 problems found; test 0 every mail decided
# (unreadable mail is reported, not fatal), 2 invalid rules, a bad configuration or a path that
# does not exist. Neither creates anything in the ATS.


def rules_check(settings: Settings, folder: Path | None = None) -> int:
    """Every problem of the rule set at once, then against the ATS when its token is available."""

    folder = folder or settings.rules_path
    try:
        rules = load_rules(folder)
    except RulesInvalid as exc:
        print("\n".join(str(p) for p in exc.problems))
        print(f"{_count(len(exc.problems), 'problem')} in the rules in {folder}: fix them, then run "
              "`ats-inbox rules check` again (poll and run refuse to start until then); the checks against "
              "the ATS (jobs, stages, sources) were skipped until the files are valid")
        return EXIT_FAILED
    directory, why_not = tryout.ats_directory(settings)
    if directory is None:
        print(f"{folder}: {rules.summary()}, all valid; the ATS checks were skipped: {why_not}")
        return EXIT_OK
    problems = check_against(rules, directory.jobs, directory.pipelines, directory.sources)
    if problems:
        print("\n".join(str(p) for p in problems))
    agencies = missing_agency_sources(tuple(settings.intake.agencies.items()), directory.sources)
    if agencies:
        print("\n".join(f"{settings.path}: {problem}" for problem in agencies))
    errors = [p for p in problems if not p.warning]
    if errors or agencies:
        print(f"{_count(len(errors) + len(agencies), 'problem')} against the ATS in the rules in {folder} "
              "and [intake] agencies")
        return EXIT_FAILED
    print(f"{folder}: {rules.summary()}, all valid; checked against the ATS: {directory.summary()}")
    return EXIT_OK


def rules_test(settings: Settings, paths: Sequence[Path], folder: Path | None = None, *,
               as_json: bool = False, explain: bool = False) -> int:
    """What the run would do with each mail (its plan: the decision, the candidate, who forwarded) and
    why; reads the ATS directory, creates nothing."""

    missing = [p for p in paths if not p.exists()]
    if missing:
        print(f"ats-inbox: no such file or folder: {', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    rules = load_rules(folder or settings.rules_path)  # invalid: RulesInvalid, exit 2 with every problem
    directory = tryout.ats_directory(settings, strict=True)[0]
    defaults = directory.defaults(settings.ats.source)
    options = FlowOptions.from_settings(settings)  # the run's: internal senders, own addresses, limits
    tried: list[report.Tried] = []
    for path in paths:
        batch = [tryout.try_mail(name, raw, rules, directory, options) for name, raw in tryout.mails(path)]
        tried += batch
        if as_json:
            print("\n".join(report.as_json(t, defaults, explain) for t in batch))
        elif path.is_dir():
            print(report.rows(batch, defaults) if batch else f"{path}: no mail in this folder")
        else:
            print("\n\n".join(report.block(t, defaults, explain) for t in batch))
    if not as_json and (len(tried) > 1 or any(p.is_dir() for p in paths)):
        print("\n" + report.summary(tried))
    return EXIT_OK


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
