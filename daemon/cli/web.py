"""`ats-inbox web`, the review page inside `run` ([web] listen), and `ats-inbox users add|remove|list`:
the review page assembled from the settings (the store, the mailbox as `messages open` reads it, the
ATS's open jobs, the status text)."""

from __future__ import annotations

import getpass
import signal
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING

from daemon.ats.directory import AtsDirectory
from daemon.config import Settings
from daemon.domain import Role
from daemon.errors import AtsInboxError, ConfigError
from daemon.mailbox import restore
from daemon.mailbox.recorded import MailDesk
from daemon.ops.health import Watch, no_success_window
from daemon.ops.service import ats_client
from daemon.routing.live import on_disk
from daemon.store import Store, open_store, people
from daemon.web import passwords
from daemon.web.access import Access
from daemon.web.desk import Desk, StatusReport

if TYPE_CHECKING:
    from daemon.web.serve import Listener

EXIT_OK, EXIT_FAILED = 0, 1
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8080


def access(settings: Settings) -> Access:
    w = settings.web
    return Access(auth=w.auth, trusted_header=w.trusted_header, trusted_proxies=w.trusted_proxies,
                  session_minutes=w.session_minutes, secure_cookies=w.secure_cookies)


def desk(settings: Settings, store: Store, mailbox_off: str = "") -> Desk:
    """The review page's view of the daemon, made of the parts the command line uses."""

    @contextmanager
    def directory() -> Iterator[AtsDirectory]:
        with ats_client(settings.ats) as client:
            yield AtsDirectory(client, source_name=settings.ats.source)

    return Desk(store=store, mailbox=None if mailbox_off else (lambda: MailDesk(settings.imap)),
                move_back=restore.mover(settings.imap), directory=directory,
                status=lambda: status_report(settings, store), mailbox_off=mailbox_off)


def status_report(settings: Settings, store: Store) -> StatusReport:
    """What `ats-inbox status` says: the health line and the status text."""
    from daemon.cli import commands
    from daemon.ops import assembly

    rules = on_disk(settings.rules_path, assembly.rules_keeper(store, settings))
    watch = Watch(store, no_success_window(settings.health.no_success_minutes, settings.interval_seconds),
                  rules=lambda: rules)
    facts = watch.facts()
    health = watch.judge(facts)
    line = f"{health.line()}; review queue {facts.review_queue}, backlog {facts.backlog}"
    return StatusReport(line, health.healthy, commands.status_text(store, 20, settings.rules_path, rules))


def listening(settings: Settings, store: Store) -> AbstractContextManager[object]:
    """The review page inside `run`, when [web] listen is set."""
    if not settings.web.host:
        return nullcontext()
    return _listener(settings, store, settings.web.host, settings.web.port)


def _listener(settings: Settings, store: Store, host: str, port: int) -> Listener:
    from daemon.web import app  # the web stack (starlette, jinja2, nh3, uvicorn): only for a page served
    from daemon.web.serve import Listener

    try:
        return Listener(host, port, app.build(desk(settings, store), access(settings)))
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}", key="web.listen",
                          path=str(settings.path)) from exc


def serve(settings: Settings) -> int:
    """`ats-inbox web`: the review page alone, on [web] listen (127.0.0.1:8080 when unset), until stopped."""
    host, port = (settings.web.host, settings.web.port) if settings.web.host else (DEFAULT_HOST, DEFAULT_PORT)
    store = open_store(settings.database_url)
    try:
        if settings.web.auth == "accounts" and not people.accounts(store):
            print("ats-inbox: no account can log in yet: add one with `ats-inbox users add NAME --role admin`",
                  file=sys.stderr)
        with _listener(settings, store, host, port) as listener:
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda *_: listener.stop())
            print(f"review page on http://{host if ':' not in host else f'[{host}]'}:{listener.port}/", flush=True)
            listener.wait()
    finally:
        store.close()
    return EXIT_OK


def users_add(settings: Settings, name: str, role: str, password_from_stdin: bool) -> int:
    """Create the account, or give it a new role and password."""
    name = name.strip()
    if not name or len(name) > 200:
        raise AtsInboxError("a user name is 1 to 200 characters")
    password = _password(password_from_stdin)
    try:
        hashed = passwords.hash_password(password)
    except passwords.WeakPassword as exc:
        raise AtsInboxError(str(exc)) from exc
    store = open_store(settings.database_url)
    try:
        new = people.save_account(store, name, Role(role).value, hashed)
        people.record(store, getpass.getuser(), "added user" if new else "changed user", None, f"{name} ({role})")
    finally:
        store.close()
    print(f"{'added' if new else 'changed'} {name} ({role})")
    return EXIT_OK


def users_remove(settings: Settings, name: str) -> int:
    store = open_store(settings.database_url)
    try:
        gone = people.remove_account(store, name.strip())
        if gone:
            people.record(store, getpass.getuser(), "removed user", None, name.strip())
    finally:
        store.close()
    if not gone:
        print(f"ats-inbox: no user {name!r}", file=sys.stderr)
        return EXIT_FAILED
    print(f"removed {name} (their open sessions end at their next request)")
    return EXIT_OK


def users_list(settings: Settings) -> int:
    store = open_store(settings.database_url)
    try:
        found = people.accounts(store)
    finally:
        store.close()
    if not found:
        print("no users: add one with `ats-inbox users add NAME --role admin`")
    for account in found:
        print(f"{account.name}\t{account.role}\tadded {account.created_at:%Y-%m-%d}")
    return EXIT_OK


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise AtsInboxError("the two passwords differ; nothing changed")
    return first
