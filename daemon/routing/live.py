"""The rule set in force in a running daemon: loaded at start, reloaded when it changes.

Before each message the daemon asks `current()`. When the rule files changed on disk (a
file added, removed, edited or replaced, or the folder swapped by a symlink: see
`disk_signature`) or a reload was requested (SIGHUP), the folder is read again. A valid new set replaces the old one at
once; an invalid one is refused with every problem logged, and the last good set stays
in force (`problems` says why, and `ats-inbox status` shows it).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from daemon.routing.ruleset import RuleSet, RulesInvalid, load_rules

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


class LiveRules:
    def __init__(self, folder: Path, loader: Callable[[Path], RuleSet] = load_rules):
        """Load the rule set; an invalid one raises RulesInvalid (the daemon does not start)."""
        self.folder, self._load = folder, loader
        self._seen = disk_signature(folder)
        self._rules = loader(folder)
        self._reload = False
        self._lock = threading.Lock()  # the message flows of a pass ask from several threads
        self.problems = ""  # of the files on disk, when they are invalid and not in force

    @property
    def rules(self) -> RuleSet:
        return self._rules

    def request_reload(self) -> None:
        """Read the folder again before the next message (safe from a signal handler)."""
        self._reload = True

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

    def _try_reload(self) -> None:
        try:
            fresh = self._load(self.folder)
        except RulesInvalid as exc:
            self.problems = "\n".join(str(p) for p in exc.problems)
            log.error("rules.reload_refused", extra={"problems": len(exc.problems), "detail": self.problems[:2000]})
            return
        self.problems = ""
        if fresh.fingerprint != self._rules.fingerprint:
            log.info("rules.reloaded", extra={"rules": len(fresh.rules), "fingerprint": fresh.fingerprint[:12]})
        self._rules = fresh
