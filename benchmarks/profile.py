"""Where one poll's CPU time goes: cProfile of `ats-inbox poll` in process over a few hundred mails.

    .venv/bin/python -m benchmarks.profile [--messages 300] [--top 25]

Dovecot and the sandbox ATS (its own process, no added latency) as in benchmarks.run; every thread is
profiled (the flows run in worker threads), on cProfile's wall-clock timer: what a thread waits for (a lock,
the next flow, a socket's answer) counts among the builtins; with `--cpu`, on each thread's CPU time instead. Prints
the time spent in each area (by the package that holds the function: self time) and the
functions with the most cumulative and self time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable

from benchmarks.run import poll_config
from daemon.cli import main as cli

AREAS = [  # the first match names the area of a function's file
    ("email/", "stdlib email (MIME tree)"), ("daemon/mail/parsing", "daemon parsing"),
    ("daemon/mail/identity", "daemon identity"), ("sqlalchemy", "SQLAlchemy"), ("sqlite3", "sqlite3"),
    ("alembic", "alembic"), ("httpx", "httpx/httpcore"), ("httpcore", "httpx/httpcore"), ("h11", "httpx/httpcore"),
    ("imapclient", "imapclient"), ("imaplib", "imaplib"), ("ssl", "TLS"), ("socket", "sockets"),
    ("logging", "logging"), ("daemon/logs", "logging"), ("json", "json"), ("base64", "base64"),
    ("daemon/", "daemon (other)"), ("~", "builtins"),
]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile")
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--cpu", action="store_true",
                        help="each thread's CPU time (time.thread_time) instead of the wall clock: waits drop out")
    args = parser.parse_args(argv)
    timer = time.thread_time if args.cpu else time.perf_counter
    with poll_config(args.messages, args.concurrency, 0.0, "ats-inbox-profile-") as config:
        profilers = [cProfile.Profile(timer)]
        threading.setprofile(lambda *_: _profiled(profilers, timer))  # the flows' worker threads too
        started = time.monotonic()
        try:
            profilers[0].runcall(cli, ["poll", "--config", str(config), "--log-level", "WARNING"])
        finally:
            threading.setprofile(None)  # type: ignore[arg-type]
        seconds = time.monotonic() - started
    stats = pstats.Stats(*profilers)
    counted = "CPU only" if args.cpu else "waits included"
    print(f"{args.messages} mails, {seconds:.1f} s wall, {stats.total_tt:.1f} s profiled in {len(profilers)} threads "
          f"({1000 * stats.total_tt / args.messages:.1f} ms per mail, {counted})\n")
    print(areas(stats))
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(*profilers, stream=out).sort_stats(order).print_stats(args.top)
        print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[-(args.top + 2) * 200:])


def _profiled(profilers: list[cProfile.Profile], timer: Callable[[], float]) -> None:
    """A new thread's first event (threading.setprofile): its own profiler from here on (cProfile profiles
    only the thread that enabled it; the flows run in worker threads, even with concurrency 1)."""
    sys.setprofile(None)
    profiler = cProfile.Profile(timer)
    profilers.append(profiler)
    profiler.enable()


def areas(stats: pstats.Stats) -> str:
    spent: Counter[str] = Counter()
    for (filename, _line, _name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        area = next((label for key, label in AREAS if key in filename), "other")
        spent[area] += tottime
    total = sum(spent.values())
    return "\n".join(f"{label:<28}{seconds:>7.2f} s {100 * seconds / total:>5.1f} %"
                     for label, seconds in spent.most_common()) + "\n"


if __name__ == "__main__":
    main()
