"""What one change does to the daemon's time and CPU: two versions on the same mailbox, run in turns.

    .venv/bin/python -m benchmarks.compare BASE [HEAD] [--messages 260] [--concurrency 1 4] [--ats-latency-ms 1]
                                          [--rounds 5]

BASE and HEAD are git revisions (HEAD left out: the working tree). Each is exported to a temporary directory
(`git archive`; the working tree is copied), compiled, and run as `ats-inbox poll` as benchmarks.run runs the
daemon: a fresh sandbox ATS and database (its schema created first by `db upgrade`), the mailbox's flags
cleared. The two take turns, BASE first in even rounds and HEAD first in odd ones. This machine's speed
drifts by up to half from one minute to the next, and a change's effect is usually smaller than that: only
runs taken side by side can be compared. It prints each round's HEAD/BASE ratios of wall time and CPU, and
their medians.

Each version runs with `python -P` and PYTHONPATH set to its directory (`Bench.daemon`), so that neither the
current directory nor this checkout's editable install puts the other version's code first.
"""

from __future__ import annotations

import argparse
import compileall
import io
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from benchmarks.run import Bench
from tests.imapserver import running

HERE = Path(__file__).parent
CHECKOUT = HERE.parent
PARTS = ("daemon", "migrations", "benchmarks")  # what a measured run imports (benchmarks.counted, the daemon)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compare", description=__doc__.split("\n")[0])
    parser.add_argument("base", help="the git revision to compare against (e.g. a commit, HEAD~3, main)")
    parser.add_argument("head", nargs="?", default="", help="the git revision measured (default: the working tree)")
    parser.add_argument("--messages", type=int, default=260, help="mails in the mailbox (default 260)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4], help="[ats] concurrency (default 1 4)")
    parser.add_argument("--ats-latency-ms", type=float, default=1.0, help="added to every ATS answer (default 1)")
    parser.add_argument("--rounds", type=int, default=5, help="pairs of runs per concurrency (default 5)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ats-inbox-compare-") as work, running() as dovecot:
        base, head = export(args.base, Path(work) / "base"), export(args.head, Path(work) / "head")
        bench = Bench(Path(work), dovecot, seed=1, latency=args.ats_latency_ms / 1000)
        bench.load(args.messages)
        for concurrency in args.concurrency:
            wall, cpu = [], []
            for number in range(args.rounds):
                order = [("base", base), ("head", head)] if number % 2 == 0 else [("head", head), ("base", base)]
                got = {name: bench.daemon(concurrency, tree) for name, tree in order}
                wall.append(got["head"]["seconds"] / got["base"]["seconds"])
                cpu.append(got["head"]["cpu_seconds"] / got["base"]["cpu_seconds"])
                print(f"concurrency {concurrency}, round {number + 1}: head/base wall {wall[-1]:.3f}, "
                      f"CPU {cpu[-1]:.3f}", flush=True)
            print(f"concurrency {concurrency}, ATS +{args.ats_latency_ms:g} ms, {args.rounds} rounds: head/base "
                  f"median wall {statistics.median(wall):.3f} ({min(wall):.3f}-{max(wall):.3f}), median CPU "
                  f"{statistics.median(cpu):.3f} ({min(cpu):.3f}-{max(cpu):.3f})", flush=True)
    return 0


def export(revision: str, into: Path) -> Path:
    """The daemon, its migrations and the benchmarks at `revision` ("" for the working tree), compiled."""
    into.mkdir()
    if revision:
        archive = subprocess.run([shutil.which("git") or "git", "-C", str(CHECKOUT), "archive", "--format=tar",
                                  revision, *PARTS], check=True, capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(into, filter="data")
    else:
        for part in PARTS:
            shutil.copytree(CHECKOUT / part, into / part, ignore=shutil.ignore_patterns("__pycache__"))
    for part in ("daemon", "migrations"):
        compileall.compile_dir(str(into / part), quiet=1)
    return into


if __name__ == "__main__":
    sys.exit(main())
