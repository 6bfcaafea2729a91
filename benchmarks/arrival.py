"""The delay from a mail's arrival to its candidate under IDLE, at a steady arrival rate.

    .venv/bin/python -m benchmarks.arrival [--rate 2 8] [--seconds 20] [--ats-latency-ms 1 20]

Starts Dovecot on loopback (tests/imapserver.py). For each ATS speed and each rate: the sandbox ATS in its own
process with that latency added to every answer (benchmarks.run's Sandbox), a new folder and a new database, and
one `ats-inbox run` with IDLE on and a pass scheduled once an hour, so that only IDLE wakes it. Once its first
pass is done and its IDLE connection listens, mails are appended at `--rate` a second for `--seconds` (mail i at
start + i / rate, on one IMAP connection), each append's time and UID noted; the run ends once every mail is
settled. The mails are benchmarks.generate's mix (CVs of 100-400 KB, questions without a CV, copies, second
applications), without its one-in-500 26 MB mail. The delay of a mail runs from its APPEND to its record's last
update in the daemon's database (for a submitted mail: its candidate created, the comment written, the mail
marked); the figures are over the submitted mails. The backlog is the mails appended but not yet settled when
the last one was appended: a daemon that keeps up has a few at most, one that does not has a share of them all.
Writes everything to benchmarks/results-arrival.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from itertools import count
from pathlib import Path
from typing import Any

from benchmarks.common import epoch, rows, scalar, spread, wait_passes, wait_settled
from benchmarks.generate import mail
from benchmarks.mailboxes import write_config
from benchmarks.run import Sandbox
from tests.e2e import cli, wait_for
from tests.imapserver import Dovecot, running

HERE = Path(__file__).parent
RESULTS = HERE / "results-arrival.json"
SEED = 21
HOUR = 3600  # the scheduled pass: never during a run, so every pass is IDLE's
APPENDUID = re.compile(rb"APPENDUID \d+ (\d+)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.arrival", description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, nargs="+", default=[2.0, 8.0], help="mails appended per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long mail arrives, per run")
    parser.add_argument("--ats-latency-ms", type=float, nargs="+", default=[1.0, 20.0])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    load = os.getloadavg()
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-arrival-") as folder, running() as dovecot:
        for latency in args.ats_latency_ms:
            for rate in args.rate:
                work = Path(folder) / f"ats{latency:g}ms-{rate:g}per-s".replace(".", "_")
                work.mkdir()
                runs.append(measure(work, dovecot, latency, rate, args.seconds))
                print(line(runs[-1]), flush=True)
    results = {"when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
               "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "system": platform.platform(),
                           "load_average_before": [round(x, 2) for x in load],
                           "load_average_after": [round(x, 2) for x in os.getloadavg()]},
               "seconds_of_arrival": args.seconds, "runs": runs}
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"load average before {results['machine']['load_average_before']}, after "
          f"{results['machine']['load_average_after']}; written to {args.out}")
    return 0


def measure(work: Path, dovecot: Dovecot, latency_ms: float, rate: float, seconds: float) -> dict[str, Any]:
    """One run: a daemon over a new folder, mails appended at `rate` for `seconds`, until every one is settled."""
    folder, database = work.name, f"sqlite:///{work / 'daemon.db'}"
    imap = dovecot.client()
    imap.create_folder(folder)
    with Sandbox(work / "ats.db", latency_ms / 1000) as ats:
        config = write_config(work, dovecot, ats.url, database, [folder], interval_seconds=HOUR)
        log = work / "run-0.err"
        with log.open("w") as err:
            daemon = subprocess.Popen([*cli(), "run", "--config", str(config)], stdout=subprocess.DEVNULL, stderr=err)
            try:
                wait_passes(database, 1, [daemon], work)
                wait_for(lambda: '"idle.listening"' in log.read_text(), timeout=60)
                appended = arrive(imap, folder, rate, seconds)
                last = max(appended.values())
                backlog = len(appended) - scalar(database, "SELECT count(*) FROM messages WHERE status != 'pending'")
                done = wait_settled(database, len(appended), [daemon], work, limit=600)
            finally:
                daemon.terminate()
                daemon.wait(timeout=60)
    imap.logout()
    return figures(database, appended, latency_ms, rate, backlog, done - last)


def arrive(imap, folder: str, rate: float, seconds: float) -> dict[int, float]:
    """Mails appended at a steady `rate` (mail i at start + i / rate): each one's UID and when its APPEND returned."""
    numbers = (n for n in count() if n % 500 != 250)  # benchmarks.generate's 26 MB mails left out
    appended: dict[int, float] = {}
    start = time.time()
    for i in range(int(rate * seconds)):
        time.sleep(max(0.0, start + i / rate - time.time()))
        raw, _spec = mail(SEED, next(numbers))
        uid = int(APPENDUID.search(imap.append(folder, raw)).group(1))
        appended[uid] = time.time()
    return appended


def figures(database: str, appended: dict[int, float], latency_ms: float, rate: float, backlog: int,
            drained: float) -> dict[str, Any]:
    statuses: dict[str, int] = {}
    delays = []
    for uid, status, updated in rows(database, "SELECT uid, status, updated_at FROM messages"):
        statuses[status] = statuses.get(status, 0) + 1
        if status == "submitted" and uid in appended:
            delays.append(epoch(updated) - appended[uid])
    return {"ats_latency_ms": latency_ms, "rate_per_second": rate, "mails": len(appended), "statuses": statuses,
            "delay_s": spread(delays), "backlog_at_end": backlog, "drained_after_last_s": round(drained, 2)}


def line(run: dict[str, Any]) -> str:
    delay = run["delay_s"]
    return (f"ATS {run['ats_latency_ms']:g} ms, {run['rate_per_second']:g} mails/s, {run['mails']} mails: arrival to "
            f"candidate median {delay['median']} s, p95 {delay['p95']} s, max {delay['max']} s; backlog when the last "
            f"arrived {run['backlog_at_end']}, all settled {run['drained_after_last_s']} s after it; "
            f"{run['statuses']}")


if __name__ == "__main__":
    sys.exit(main())
