"""What `rules check` and `rules test` read: mail files and the ATS directory (the effects
around the pure rules and planning). Nothing here creates anything in the ATS: only the three
directory reads (jobs, pipelines, sources) are made.

`rules test` plans each mail as the run does (daemon.intake.planning: the same reading with
its structure limits and size limit, forwards unwrapped, internal senders, automatic mail,
resumes, rules and inference), with the options `FlowOptions.from_settings` gives the run.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path

from daemon.ats.directory import AtsDirectory
from daemon.cli.rules_report import Defaults, Tried
from daemon.config import IMAP_PASSWORD_ENV, Settings, load_settings
from daemon.errors import AtsInboxError, ConfigError, UnparseableMail
from daemon.intake import planning
from daemon.intake.planning import FlowOptions
from daemon.mailbox.local import LocalFolder
from daemon.ops.service import ats_client
from daemon.routing.ruleset import RuleSet


@dataclass(frozen=True, slots=True)
class Directory(planning.Directory):
    """The ATS's jobs (open and closed), pipelines and sources, as read once."""

    def summary(self) -> str:
        open_jobs = sum(1 for job in self.jobs if job.is_open)
        return (f"{open_jobs} open job{'' if open_jobs == 1 else 's'}, {len(self.pipelines)} pipelines, "
                f"{len(self.sources)} sources")

    def defaults(self, source_name: str) -> Defaults:
        wanted = source_name.strip().casefold()
        source = next((s for s in self.sources if s.name.strip().casefold() == wanted), None)
        return Defaults(self.pipelines, source, source_name, self.sources)


def ats_directory(settings: Settings, *, strict: bool = False) -> tuple[Directory | None, str]:
    """The ATS directory, or (None, why not): no token, or (unless `strict`) no good answer.

    The settings were loaded without secrets; the ATS token is looked up here. The IMAP
    password is never used by the rules commands: a stand-in keeps `load_settings` from
    asking for it. With `strict`, a missing token is a ConfigError (exit 2) and an ATS that
    does not answer raises its error (exit 1).
    """
    try:
        full = load_settings(settings.path, {**os.environ, IMAP_PASSWORD_ENV: "unused"}, need_secrets=True)
    except ConfigError as exc:
        if strict:
            raise ConfigError(f"`rules test` reads the ATS's jobs, pipelines and sources, and needs the ATS "
                              f"token: {exc}") from exc
        return None, f"no ATS token ({exc})"
    ats = dataclasses.replace(full.ats, retry_attempts=1)

    try:
        with ats_client(ats) as client:
            directory = AtsDirectory(client, source_name=ats.source)
            return Directory(client.search_jobs(), directory.pipelines(), directory.sources()), ""
    except AtsInboxError as exc:
        if strict:
            raise
        return None, f"the ATS at {ats.base_url} did not answer as expected ({exc})"


def mails(path: Path) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of one mail file, or of each mail of a folder of .eml files or a Maildir; a
    Maildir's mail is named by its date, sender and subject (its file names say nothing to a person)."""
    if not path.is_dir():
        yield str(path), path.read_bytes()
        return
    maildir = any((path / sub).is_dir() for sub in ("new", "cur"))
    folder = LocalFolder(path)
    folder.open()
    try:
        names = folder.file_names()
        for uid in sorted(names, key=names.__getitem__):
            for raw in folder.fetch([uid]).values():
                yield (label(raw) if maildir else names[uid]), raw
    finally:
        folder.close()


def label(raw: bytes) -> str:
    """'2026-11-30 09:12, ana@example.org, "Application: Data Analyst"': a mail as a person finds it."""
    try:
        headers = BytesHeaderParser(policy=policy.default).parsebytes(raw)
        sent = headers["Date"].datetime if headers["Date"] is not None else None
        sender = headers["From"].addresses[0].addr_spec if headers["From"] is not None else ""
        subject = str(headers["Subject"] or "")
    except Exception:  # hostile or broken headers: the label says so, the mail is still tried
        return "(headers unreadable)"
    when = f"{sent:%Y-%m-%d %H:%M}" if sent is not None else "no date"
    return f"{when}, {' '.join(sender.split()) or 'no sender'}, {' '.join(subject.split())!r}"


def try_mail(name: str, raw: bytes, rules: RuleSet, directory: Directory, options: FlowOptions) -> Tried:
    """The run's plan for one mail; a mail that cannot be read is reported (set aside, as the run
    does), never raised."""
    large = planning.too_large(len(raw), options)
    if large is not None:
        return Tried(name, large)
    try:
        email = planning.read(raw, options)
    except UnparseableMail as exc:
        return Tried(name, planning.unreadable(exc), error=f"unparseable mail: {exc}")
    except Exception as exc:  # a parser bug on hostile input: reported, never a crash of the command
        return Tried(name, planning.unreadable(exc), error=f"could not be read ({type(exc).__name__}: {exc})")
    return Tried(name, planning.plan(email, options, rules, directory))
