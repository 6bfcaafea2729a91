"""The rule set in force in a running daemon: loaded at start, reloaded when it changes.

Before each message the daemon asks `current()`, and its main loop calls `check()` every
second or so, so that a change is noticed (and logged) when it happens, not at the next
mail. When the rule files changed on disk (a file added, removed, edited or replaced, or
the folder swapped by a symlink: see `disk_signature`) or a reload was requested (SIGHUP),
the folder is read again. A valid new set replaces the old one at once (`rules.reloaded`)
and is kept in the store as the last good set; an invalid one is refused with every
problem logged (`rules.invalid`), and the last good set stays in force. `state()` says
which set is in force, since when, and what is wrong with the files on disk: health, the
metrics, the alerts and `ats-inbox status` report it.

A start with invalid files runs with the last good set the store kept (intake never stops
on a rules edit, nor after a restart); only a start with invalid files and no set kept (the
very first start) is refused (RulesInvalid: exit 2).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from daemon.errors import AtsInboxError
from daemon.routing.ruleset import RuleSet, RulesInvalid, load_rules, rules_from_texts
from daemon.store.kept_rules import RuleTexts

log = logging.getLogger(__name__)
Signature = tuple[str, tuple[tuple[str, int, int, int, int, int], ...]]


def disk_signature(folder: Path) -> Signature:
    """Where the folder really is (its symlinks resolved) and, for each rule file, its name, the file it is
    (device, inode), size, modification and change times: cheap, and changes with any edit or replacement,
    also by files of the same name, size and modification time (`cp -p`, tar, rsync, a symlink swapped):
    the change time cannot be set back."""
    resolved = os.path.realpath(folder)
    try:
        entries = sorted(os.scandir(resolved), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return resolved, ()
    found = []
    for entry in entries:
        if entry.name.endswith(".toml"):
            try:
                stat = entry.stat()
            except OSError:
                continue
            found.append((entry.name, stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns))
    return resolved, tuple(found)


class Keeper(Protocol):
    """Where the last good rule set is kept across restarts (daemon.store.kept_rules.RulesKeeper)."""

    def last_good(self) -> RuleTexts | None: ...
    def keep(self, fingerprint: str, files: Sequence[tuple[str, str]]) -> datetime: ...


@dataclass(frozen=True, slots=True)
class RulesState:
    """The rule set in force and the state of the files on disk."""

    fingerprint: str  # of the rules in force
    accepted_at: datetime | None  # when the rules in force were accepted (None: not known)
    problems: tuple[str, ...] = ()  # of the files on disk when they are invalid (and so not in force)

    @property
    def valid(self) -> bool:
        return not self.problems


def on_disk(folder: Path, keeper: Keeper, loader: Callable[[Path], RuleSet] = load_rules) -> RulesState:
    """The state a daemon starting now would be in, read from the files and the store (for `ats-inbox status`):
    the files when valid, else the last good set kept ("" when none: a start is refused)."""
    kept = keeper.last_good()
    try:
        rules = loader(folder)
    except RulesInvalid as exc:
        problems = tuple(str(p) for p in exc.problems)
        return RulesState(kept.fingerprint, kept.accepted_at, problems) if kept else RulesState("", None, problems)
    accepted = kept.accepted_at if kept is not None and kept.fingerprint == rules.fingerprint else None
    return RulesState(rules.fingerprint, accepted)


class LiveRules:
    def __init__(self, folder: Path, loader: Callable[[Path], RuleSet] = load_rules, keeper: Keeper | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        """Load the rule set, or the last good one `keeper` kept when the files are invalid; invalid files and
        nothing kept raise RulesInvalid (the daemon does not start)."""
        self.folder, self._load, self._keeper, self._clock = folder, loader, keeper, clock
        self._problems: tuple[str, ...] = ()  # of the files on disk, when they are invalid and not in force
        self._seen = disk_signature(folder)
        self._rules, self._accepted = self._first()
        self._reload = False
        self._lock = threading.Lock()  # the message flows of a pass ask from several threads

    @property
    def rules(self) -> RuleSet:
        return self._rules

    @property
    def problems(self) -> str:
        """The problems of the files on disk, one a line ("" when they are in force)."""
        return "\n".join(self._problems)

    def state(self) -> RulesState:
        return RulesState(self._rules.fingerprint, self._accepted, self._problems)

    def request_reload(self) -> None:
        """Read the folder again before the next message (safe from a signal handler)."""
        self._reload = True

    def check(self) -> None:
        """A chore of the main loop: a change on disk is read, logged and reported now, not at the next mail."""
        self.current()

    def current(self) -> RuleSet:
        """The rule set in force, reloaded first when the files changed or a reload was asked for."""
        with self._lock:
            signature = disk_signature(self.folder)
            if self._reload:
                log.info("rules.reload_requested")
            if self._reload or signature != self._seen:
                self._reload, self._seen = False, signature
                self._try_reload()
            return self._rules

    def _first(self) -> tuple[RuleSet, datetime | None]:
        try:
            rules = self._load(self.folder)
        except RulesInvalid as exc:
            kept = self._keeper.last_good() if self._keeper is not None else None
            if kept is None:
                raise
            try:
                rules = rules_from_texts(self.folder, kept.files)
            except RulesInvalid:
                raise exc from None  # the kept set no longer reads (an upgrade changed a key): nothing to run with
            self._refused(exc, rules)
            return rules, kept.accepted_at
        return rules, self._keep(rules)

    def _try_reload(self) -> None:
        try:
            fresh = self._load(self.folder)
        except RulesInvalid as exc:
            self._refused(exc, self._rules)
            return
        if fresh.fingerprint != self._rules.fingerprint or self._problems:
            log.info("rules.reloaded", extra={"rules": len(fresh.rules), "fingerprint": fresh.fingerprint[:12]})
        if fresh.fingerprint != self._rules.fingerprint:
            self._accepted = self._keep(fresh)
        self._rules, self._problems = fresh, ()

    def _refused(self, exc: RulesInvalid, in_force: RuleSet) -> None:
        self._problems = tuple(str(p) for p in exc.problems)
        log.error("rules.invalid", extra={"problems": len(exc.problems), "detail": self.problems[:2000],
                                          "in_force": in_force.fingerprint[:12]})

    def _keep(self, rules: RuleSet) -> datetime:
        """Keep a set just accepted as the last good one; when it was accepted."""
        if self._keeper is None:
            return self._clock()
        try:
            return self._keeper.keep(rules.fingerprint, rules.texts)
        except AtsInboxError as exc:  # the database busy: kept at the next change; this one runs anyway
            log.warning("rules.not_kept", extra={"error": type(exc).__name__})
            return self._clock()
