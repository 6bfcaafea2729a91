"""Where a mail's CPU goes, stage by stage: thread CPU time per stage of `ats-inbox poll`, no profiler.

    .venv/bin/python -m benchmarks.phases [--messages 260] [--concurrency 1] [--ats-latency-ms 1]

Dovecot and the sandbox ATS (its own process) as in benchmarks.run; the poll runs in this process, with
the functions of each stage wrapped to add up their thread CPU time (`time.thread_time`) and wall time.
A stage called inside another is counted in the outer one only (a Store call inside the journal is the
journal's). A profiler's own cost lands on every Python call and so inflates the stages made of many small
calls (SQLAlchemy, httpx) against those spent in C (hashing, base64); wrapping a few functions does not.
"""

from __future__ import annotations

import argparse
import functools
import threading
import time
from collections import Counter
from typing import Any

from benchmarks.run import compiled, poll_config

_inside = threading.local()


class Stages:
    """Thread CPU, wall time and calls per stage; a stage entered inside another is not counted again."""

    def __init__(self) -> None:
        self.cpu: Counter[str] = Counter()
        self.wall: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()

    def wrap(self, owner: Any, name: str, stage: str) -> None:
        function = getattr(owner, name)

        @functools.wraps(function)
        def counted(*args: Any, **kwargs: Any) -> Any:
            if getattr(_inside, "stage", None) is not None:
                return function(*args, **kwargs)
            _inside.stage = stage
            cpu, wall = time.thread_time(), time.monotonic()
            try:
                return function(*args, **kwargs)
            finally:
                self.cpu[stage] += time.thread_time() - cpu
                self.wall[stage] += time.monotonic() - wall
                self.calls[stage] += 1
                _inside.stage = None

        setattr(owner, name, counted)


def instrumented() -> Stages:
    """The stages of a mail, wrapped where the daemon calls them."""
    from daemon.ats.client import AtsClient
    from daemon.intake import actions, journal, ledger, planning, runner
    from daemon.mailbox.imap import ImapMailbox
    from daemon.store.repository import Store

    stages = Stages()
    stages.wrap(runner, "identify", "content key and sender (identify)")
    stages.wrap(planning, "parse_email", "parse (structure check, MIME tree, CV decoded)")
    stages.wrap(ImapMailbox, "fetch", "IMAP: fetch bodies")
    stages.wrap(ImapMailbox, "facts", "IMAP: facts (sizes, flags)")
    stages.wrap(actions.MailboxActions, "act", "IMAP: mark or move, and its record")
    stages.wrap(AtsClient, "_call", "ATS calls (httpx)")
    stages.wrap(journal.StoreJournal, "start", "journal: a step's start (with the last answer)")
    stages.wrap(journal.StoreJournal, "known_applicant", "journal: applicant known?")
    stages.wrap(ledger.Ledger, "arrive", "ledger: record a new mail")
    stages.wrap(ledger.Ledger, "write", "ledger: the verdict")
    for name in ("journal", "count_from", "update_message", "add_first_copy", "messages_at", "steps"):
        stages.wrap(Store, name, f"store: {name}")
    return stages


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.phases")
    parser.add_argument("--messages", type=int, default=260)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--ats-latency-ms", type=float, default=1.0)
    args = parser.parse_args(argv)
    compiled()
    latency = args.ats_latency_ms / 1000
    with poll_config(args.messages, args.concurrency, latency, "ats-inbox-phases-") as config:
        started_cpu, started = time.process_time(), time.monotonic()
        from daemon.cli import main as cli  # imported here: its import is part of the start-up measured

        stages = instrumented()
        cli(["poll", "--config", str(config), "--log-level", "WARNING"])
        cpu, seconds = time.process_time() - started_cpu, time.monotonic() - started
    print(report(stages, args.messages, cpu, seconds))


def report(stages: Stages, messages: int, cpu: float, seconds: float) -> str:
    counted = sum(stages.cpu.values())
    lines = [f"{messages} mails, {seconds:.2f} s wall, {cpu:.2f} s CPU in this process "
             f"({1000 * cpu / messages:.1f} ms a mail)", "",
             f"{'stage':<52}{'CPU s':>8}{'ms/mail':>9}{'wall s':>8}{'calls':>8}"]
    for stage, spent in stages.cpu.most_common():
        lines.append(f"{stage:<52}{spent:>8.2f}{1000 * spent / messages:>9.2f}{stages.wall[stage]:>8.2f}"
                     f"{stages.calls[stage]:>8}")
    rest = cpu - counted
    label = "the rest (start-up, routing, runner, logging, ...)"
    lines.append(f"{label:<52}{rest:>8.2f}{1000 * rest / messages:>9.2f}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
