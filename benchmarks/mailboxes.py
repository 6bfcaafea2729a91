"""Many mailboxes on one daemon: throughput, and the delay from arrival to submission per mailbox (fairness).

    .venv/bin/python -m benchmarks.mailboxes [--mailboxes 30] [--mails 6] [--backlog 300] [--every-ms 100]
                                             [--instances N] [--postgres]

Starts Dovecot on loopback (tests/imapserver.py) with one folder per mailbox, and the sandbox ATS in its own
process with 20 ms added to every answer (as benchmarks.run). Mailbox 1 ("huge") holds a backlog of
`--backlog` mails before the daemon starts. One `ats-inbox run` serves every mailbox ([[mailbox]] tables: IDLE
on, the scheduled pass each minute as the safety net). Once every other mailbox has had its first pass (huge
may still be working through its backlog), `--mails` mails per mailbox are appended round-robin, one every
`--every-ms`, each mail's arrival time noted; the run ends once every mail is settled. The delay of a mail is
from its append to its record's last update (candidate created, comment written, mail marked), read from the
daemon's database. Prints per-mailbox figures and writes them to benchmarks/results-mailboxes.json.

`--postgres` keeps the state in a PostgreSQL started on loopback (tests/pgserver.py) instead of SQLite;
`--instances N` (implies it) runs N `ats-inbox run` daemons sharing the mailboxes through it, and reports how
many mailboxes each one served.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, nullcontext
from pathlib import Path
from typing import Any

from benchmarks.common import epoch, rows, spread, wait_passes, wait_settled
from benchmarks.run import TOKEN, Sandbox
from tests.e2e import cli
from tests.imapserver import Dovecot, running
from tests.pgserver import running as postgresql
from tests.world import application

HERE = Path(__file__).parent
RESULTS = HERE / "results-mailboxes.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.mailboxes", description=__doc__.splitlines()[0])
    parser.add_argument("--mailboxes", type=int, default=30)
    parser.add_argument("--mails", type=int, default=6, help="mails appended to each mailbox while the daemon runs")
    parser.add_argument("--backlog", type=int, default=300, help="mails waiting in mailbox 1 before the start")
    parser.add_argument("--every-ms", type=float, default=100.0, help="between two appended mails")
    parser.add_argument("--ats-latency-ms", type=float, default=20.0)
    parser.add_argument("--instances", type=int, default=1, help="daemons sharing the mailboxes (PostgreSQL)")
    parser.add_argument("--postgres", action="store_true", help="the state in PostgreSQL (implied by --instances)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    args.postgres = args.postgres or args.instances > 1
    with tempfile.TemporaryDirectory(prefix="bench-mailboxes-") as folder, running() as dovecot, \
            (postgresql() if args.postgres else nullcontext()) as server:
        url = server.database("bench") if server is not None else f"sqlite:///{Path(folder) / 'daemon.db'}"
        results = measure(Path(folder), dovecot, url, args)
    report(results)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {args.out}")
    return 0


def names(count: int) -> list[str]:
    return ["huge", *(f"m{n:02d}" for n in range(2, count + 1))]


def measure(work: Path, dovecot: Dovecot, database: str, args: argparse.Namespace) -> dict[str, Any]:
    boxes = names(args.mailboxes)
    imap = dovecot.client()
    for name in boxes:
        imap.create_folder(name)
    arrived: dict[str, tuple[str, float]] = {}  # sender -> (mailbox, when appended)
    for n in range(args.backlog):
        imap.append("huge", application(n, email=f"backlog-{n}@example.org"))
    with Sandbox(work / "ats.db", args.ats_latency_ms / 1000) as ats, ExitStack() as running_daemons:
        config = write_config(work, dovecot, ats.url, database, boxes)
        started = time.time()
        logs = [running_daemons.enter_context((work / f"run-{n}.err").open("w")) for n in range(args.instances)]
        daemons = [subprocess.Popen([*cli(), "run", "--config", str(config)], stdout=subprocess.DEVNULL, stderr=log)
                   for log in logs]
        try:
            ready = wait_passes(database, len(boxes) - 1, daemons, work)  # each mailbox but huge passed once
            for k in range(args.mails):
                for index, name in enumerate(boxes):
                    sender = f"{name}-{k}@example.org"
                    arrived[sender] = (name, time.time())
                    imap.append(name, application(1000 + k * len(boxes) + index, email=sender))
                    time.sleep(args.every_ms / 1000)
            done = wait_settled(database, args.backlog + len(arrived), daemons, work)
        finally:
            for daemon in daemons:
                daemon.terminate()
            for daemon in daemons:
                daemon.wait(timeout=60)
    imap.logout()
    served = [_served(work / f"run-{n}.err") for n in range(args.instances)]
    return {**figures(args, boxes, arrived, database, started, done), "start_seconds": round(ready - started, 1),
            "store": "postgresql" if args.postgres else "sqlite", "instances": args.instances,
            "mailboxes_served_per_instance": [len(names) for names in served]}


def _served(log: Path) -> set[str]:
    """The mailboxes whose passes one daemon started (its log)."""
    return {json.loads(line).get("mailbox", "") for line in log.read_text().splitlines() if '"poll.started"' in line}


def write_config(work: Path, dovecot: Dovecot, ats_url: str, database: str, boxes: list[str],
                 interval_seconds: int = 60) -> Path:
    (work / "imap-password").write_text(dovecot.password + "\n")
    (work / "ats-token").write_text(TOKEN + "\n")
    lines = ["[imap]", 'host = "127.0.0.1"', f"port = {dovecot.imaps_port}", f'username = "{dovecot.user}"',
             f'password_file = "{work / "imap-password"}"', f'ca_file = "{dovecot.cert_path}"', 'since = "all"',
             "[ats]", f'base_url = "{ats_url}"', f'token_file = "{work / "ats-token"}"',
             "[database]", f'url = "{database}"', "[schedule]", f"interval_seconds = {interval_seconds}"]
    lines += [f'[[mailbox]]\nname = "{name}"\nfolder = "{name}"' for name in boxes]
    path = work / "config.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def figures(args: argparse.Namespace, boxes: list[str], arrived: dict[str, tuple[str, float]], database: str,
            started: float, done: float) -> dict[str, Any]:
    found = rows(database, "SELECT sender_email, status, updated_at FROM messages")
    statuses: dict[str, int] = {}
    delays: dict[str, list[float]] = {name: [] for name in boxes}
    for sender, status, updated in found:
        statuses[status] = statuses.get(status, 0) + 1
        if sender in arrived:
            name, when = arrived[sender]
            delays[name].append(epoch(updated) - when)
    every = sorted(d for values in delays.values() for d in values)
    per_mailbox = {name: {"mails": len(values), "median_s": round(statistics.median(values), 2),
                          "max_s": round(max(values), 2)} for name, values in delays.items() if values}
    medians = [figure["median_s"] for figure in per_mailbox.values()]
    total = len(found)
    return {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "system": platform.platform()},
        "mailboxes": len(boxes), "mails_per_mailbox": args.mails, "backlog_in_huge": args.backlog,
        "every_ms": args.every_ms, "ats_latency_ms": args.ats_latency_ms, "statuses": statuses,
        "seconds": round(done - started, 1), "mails": total, "mails_per_second": round(total / (done - started), 2),
        "delay_s": spread(every),
        "median_delay_spread_s": {"lowest": min(medians), "highest": max(medians)},
        "huge_mailbox_delay_s": per_mailbox.get("huge"), "per_mailbox": per_mailbox,
    }


def report(results: dict[str, Any]) -> None:
    print(f"{results['instances']} instance(s) on {results['store']}, mailboxes served by each: "
          f"{results['mailboxes_served_per_instance']}")
    print(f"{results['mailboxes']} mailboxes, {results['mails']} mails ({results['backlog_in_huge']} waiting in "
          f"'huge' at the start) in {results['seconds']} s: {results['mails_per_second']} mails/s; "
          f"{results['statuses']}")
    delay = results["delay_s"]
    print(f"arrival to submitted, mails appended while running: median {delay['median']} s, p95 {delay['p95']} s, "
          f"max {delay['max']} s; per-mailbox medians from {results['median_delay_spread_s']['lowest']} to "
          f"{results['median_delay_spread_s']['highest']} s")
    for name, figure in results["per_mailbox"].items():
        print(f"  {name:5} {figure['mails']:3} mails  median {figure['median_s']:6} s  max {figure['max_s']:6} s")


if __name__ == "__main__":
    sys.exit(main())
