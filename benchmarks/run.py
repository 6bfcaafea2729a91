"""The benchmark: the daemon against the I/O floor and the naive flow, on one generated mailbox.

    .venv/bin/python -m benchmarks.run [--messages N] [--concurrency C ...] [--skip-naive] [--skip-growth]

Starts Dovecot on loopback (tests/imapserver.py), loads N generated mails (benchmarks/generate.py),
and runs, each as a subprocess against a fresh sandbox ATS (its own process) and with the
mailbox's flags cleared: the floor, the naive flow, `ats-inbox poll` once per concurrency;
then loads 3N more mails and runs `ats-inbox poll` over the 4N. Prints the figures and
the ratios, and writes them to benchmarks/results.json (the previous file's figures are
printed beside the new ones).
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import json
import os
import platform
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import Target
from benchmarks.generate import mail
from tests import rusage
from tests.e2e import wait_healthy
from tests.imapserver import Dovecot, running

HERE = Path(__file__).parent
RESULTS = HERE / "results.json"
TOKEN = "bench-token"  # noqa: S105 (the sandbox's, on loopback)
ROUTES = [("POST", "/api/v1/jobs/search"), ("GET", "/api/v1/pipelines/all"), ("GET", "/api/v1/sources/all"),
          ("POST", "/api/v1/upload-cv-file"), ("POST", "/api/v1/applicant"), ("POST", "/api/v1/candidate"),
          ("POST", "/api/v1/candidates/{id}/actions")]
OUR_FLAGS = [b"\\Seen", b"\\Flagged", b"$AtsInboxDone", b"$AtsInboxReview"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000, help="mails in the mailbox (default 2000)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4],
                        help="[ats] concurrency of each daemon run (default: 1 4)")
    parser.add_argument("--ats-latency-ms", type=float, nargs="+", default=[1.0, 20.0],
                        help="added to every ATS answer, one set of runs each (default: 1 20; a very fast ATS and "
                             "a fast one; loopback alone is under 1 ms); the naive and 4N runs use the last")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-naive", action="store_true", help="leave out the naive flow (the slowest run)")
    parser.add_argument("--skip-growth", action="store_true", help="leave out the run over 4N mails")
    parser.add_argument("--repeat", type=int, default=1,
                        help="rounds of the floors and the daemon, one after another, per ATS speed (default 1); "
                             "with more, each run's figures are its median round's, and the ratios taken within "
                             "each round are reported too (their median): for a machine whose speed drifts")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    previous = json.loads(args.out.read_text()) if args.out.exists() else None
    compiled()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ats-inbox-bench-") as work, running() as dovecot:
        bench = Bench(Path(work), dovecot, args.seed, args.ats_latency_ms[0] / 1000)
        results = bench.measure(args)
    results["total_seconds"] = round(time.monotonic() - started, 1)
    report(results, previous)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {args.out}")
    return 0


def compiled() -> None:
    """The daemon's bytecode written, its migrations' too, as installing a wheel does (pip compiles each module,
    the migrations inside the package): the daemon's runs then start as a user's do, even where
    PYTHONDONTWRITEBYTECODE is set (as here) and the source was edited."""
    for folder in ("daemon", "migrations"):
        compileall.compile_dir(str(HERE.parent / folder), quiet=1)


class Bench:
    def __init__(self, work: Path, dovecot: Dovecot, seed: int, latency: float):
        self.work, self.dovecot, self.seed, self.latency = work, dovecot, seed, latency
        self.manifest = work / "manifest.jsonl"
        self.count = 0
        self.bytes = 0

    def measure(self, args: argparse.Namespace) -> dict[str, Any]:
        n = args.messages
        load = self.load(n)
        results: dict[str, Any] = {
            "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "messages": n, "seed": args.seed,
            "ats_latency_ms": args.ats_latency_ms,
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "system": platform.platform()},
            "mailbox": {"bytes": self.bytes, "load_seconds": load}, "runs": {},
        }
        runs = results["runs"]
        widest = max(args.concurrency)
        rounds: list[dict[str, Any]] = [{} for _ in range(args.repeat)]
        for ms in args.ats_latency_ms:  # the fastest ATS first: CPU is the limit there
            self.latency = ms / 1000
            for measured_round in rounds:  # each round measures the floors and the daemon one after another
                measured_round[f"floor_{ms:g}ms"] = self.script("floor")
                if widest > 1:
                    measured_round[f"floor_c{widest}_{ms:g}ms"] = self.script("floor", widest)
                for concurrency in args.concurrency:
                    measured_round[f"daemon_c{concurrency}_{ms:g}ms"] = self.daemon(concurrency)
        runs.update(median_runs(rounds))
        if args.repeat > 1:
            results["rounds"] = rounds
            results["paired_ratios"] = paired_ratios(
                [ratios({"runs": r}, args.concurrency, args.ats_latency_ms) for r in rounds])
        if not args.skip_naive:
            runs[f"naive_{ms:g}ms"] = self.script("naive")
        if not args.skip_growth:
            results["mailbox"]["load_4n_seconds"] = self.load(4 * n)
            results["mailbox"]["bytes_4n"] = self.bytes
            runs[f"daemon_c{widest}_{ms:g}ms_4n"] = self.daemon(widest)
        results["ratios"] = ratios(results, args.concurrency, args.ats_latency_ms)
        return results

    # -- the mailbox -----------------------------------------------------------------------

    def load(self, upto: int) -> float:
        """Append mails count+1..upto to INBOX (UID = mail number) and to the manifest."""
        started = time.monotonic()
        imap = self.dovecot.client()
        with self.manifest.open("a") as manifest:
            for n in range(self.count + 1, upto + 1):
                raw, spec = mail(self.seed, n)
                imap.append("INBOX", raw)
                manifest.write(json.dumps(spec.to_json()) + "\n")
                self.bytes += len(raw)
        imap.logout()
        self.count = upto
        return round(time.monotonic() - started, 1)

    def reset_flags(self) -> None:
        imap = self.dovecot.client()
        imap.select_folder("INBOX")
        uids = imap.search("ALL")
        for start in range(0, len(uids), 1000):
            imap.remove_flags(uids[start:start + 1000], OUR_FLAGS, silent=True)
        imap.logout()

    def target(self, ats_url: str) -> Target:
        d = self.dovecot
        return Target(host="127.0.0.1", port=d.imaps_port, user=d.user, password=d.password,
                      ca_file=str(d.cert_path), folder="INBOX", ats_url=ats_url, token=TOKEN,
                      manifest=str(self.manifest))

    # -- the runs ----------------------------------------------------------------------------

    def script(self, name: str, concurrency: int = 1) -> dict[str, Any]:
        """The floor (`concurrency` messages at a time) or the naive flow, in a subprocess, against a fresh sandbox."""
        with Sandbox(self.work / f"{name}-ats.db", self.latency) as ats:
            path = self.target(ats.url).save(self.work / f"{name}.json")
            run = measured([sys.executable, "-m", f"benchmarks.{name}", str(path),
                            *([str(concurrency)] if concurrency > 1 else [])], self.work / name)
            said = json.loads(run.pop("stdout").strip().splitlines()[-1])
            calls = ats.calls()
        print(f"{name} (concurrency {concurrency}, ATS +{1000 * self.latency:g} ms): {said['messages']} mails in "
              f"{run['seconds']} s, {run['cpu_seconds']} s CPU", flush=True)
        return {**run, "concurrency": concurrency, "messages": said["messages"], "applications": said["applications"],
                "ats_calls": calls, "messages_per_second": round(said["messages"] / run["seconds"], 2),
                "cpu_ms_per_message": round(1000 * run["cpu_seconds"] / max(said["messages"], 1), 2)}

    def daemon(self, concurrency: int, source: Path | None = None) -> dict[str, Any]:
        """`ats-inbox poll` over the whole folder, in a subprocess, against a fresh sandbox and database; the
        daemon of `source` (a directory holding another version's `daemon` and `benchmarks`) when given, run
        with `python -P` and PYTHONPATH so that neither the current directory nor the editable install comes
        first."""
        self.reset_flags()
        name = f"daemon-c{concurrency}-{self.count}"
        database = self.work / f"{name}.db"
        counts = self.work / f"{name}-counts.json"
        env = {"BENCH_COUNTS": str(counts), **({"PYTHONPATH": str(source)} if source else {})}
        daemon = [sys.executable, *(["-P"] if source else []), "-m", "benchmarks.counted"]
        with Sandbox(self.work / f"{name}-ats.db", self.latency) as ats:
            config = self.config(name, ats.url, database, concurrency)
            # As the systemd unit does before each start (ExecStartPre): the schema is created here, once, not
            # in the measured poll. Its own cost is kept beside the run's.
            created = measured([*daemon, "--config", str(config), "db", "upgrade"], self.work / f"{name}-upgrade",
                               env=env)
            run = measured([*daemon, "poll", "--config", str(config)], self.work / name, env=env)
            calls = ats.calls()
        run.pop("stdout")
        statuses = dict(sqlite3.connect(database).execute("SELECT status, count(*) FROM messages GROUP BY status"))
        _remove_database(database)
        db = json.loads(counts.read_text())
        submitted = statuses.get("submitted", 0)
        seen = sum(statuses.values())
        print(f"daemon (concurrency {concurrency}, ATS +{1000 * self.latency:g} ms): {seen} mails in "
              f"{run['seconds']} s, {run['cpu_seconds']} s CPU, {run['peak_rss_mb']} MB, {statuses} (the schema "
              f"created before, by `db upgrade`: {created['seconds']} s)", flush=True)
        return {**run, "concurrency": concurrency, "messages": seen, "statuses": statuses, "ats_calls": calls,
                "db_upgrade": {key: created[key] for key in ("seconds", "cpu_seconds")},
                "messages_per_second": round(seen / run["seconds"], 2),
                "ats_calls_per_application": round(sum(calls.values()) / max(submitted, 1), 3),
                "creates_per_application": round(_creates(calls) / max(submitted, 1), 3),
                "database": db,
                "write_transactions_per_message": round(db.get("writes", 0) / max(seen, 1), 2),
                "read_transactions_per_message": round(db.get("reads", 0) / max(seen, 1), 2),
                "statements_per_message": round(db.get("statements", 0) / max(seen, 1), 2),
                "cpu_ms_per_message": round(1000 * run["cpu_seconds"] / max(seen, 1), 2)}

    def config(self, name: str, ats_url: str, database: Path, concurrency: int) -> Path:
        d = self.dovecot
        (self.work / "imap-password").write_text(d.password + "\n")
        (self.work / "ats-token").write_text(TOKEN + "\n")
        lines = [
            "[imap]", 'host = "127.0.0.1"', f"port = {d.imaps_port}", 'security = "ssl"', f'username = "{d.user}"',
            f'password_file = "{self.work / "imap-password"}"', f'ca_file = "{d.cert_path}"', 'since = "all"',
            "[ats]", f'base_url = "{ats_url}"', f'token_file = "{self.work / "ats-token"}"', 'source = "Email"',
            f"concurrency = {concurrency}",
            "[database]", f'url = "sqlite:///{database}"',
        ]
        path = self.work / f"{name}.toml"
        path.write_text("\n".join(lines) + "\n")
        return path


class Sandbox:
    """The sandbox ATS in its own process (`ats-inbox sandbox`), so it takes no CPU from the measured one."""

    def __init__(self, db: Path, latency: float):
        self.db, self.latency = db, latency
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.log = db.with_suffix(".log").open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.sandbox", "--host", "127.0.0.1", "--port", str(port),
             "--db", str(db), "--token", TOKEN, "--log-level", "WARNING"], stdout=self.log, stderr=self.log)

    def __enter__(self) -> Sandbox:
        if not wait_healthy(self.url + "/_sandbox/health"):
            raise RuntimeError(f"the sandbox ATS did not start: see {self.log.name}")
        for method, path in ROUTES if self.latency else ():
            fault = {"method": method, "path": path, "after_commit": True, "delay": self.latency, "times": -1}
            httpx.post(self.url + "/_sandbox/faults", json=fault, headers={"Authorization": f"Bearer {TOKEN}"})
        return self

    def calls(self) -> dict[str, int]:
        state = httpx.get(self.url + "/_sandbox/state", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
        return state.json()["requests"]

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()
        _remove_database(self.db)


@contextlib.contextmanager
def poll_config(messages: int, concurrency: int, latency: float, prefix: str) -> Iterator[Path]:
    """The config of a poll over `messages` generated mails in a new Dovecot folder, against a new sandbox ATS
    (its own process, each answer delayed by `latency` seconds) and a new database: for a poll run in process
    (benchmarks.profile, benchmarks.phases)."""
    with tempfile.TemporaryDirectory(prefix=prefix) as work, running() as dovecot:
        bench = Bench(Path(work), dovecot, seed=1, latency=latency)
        bench.load(messages)
        with Sandbox(Path(work) / "ats.db", latency) as ats:
            yield bench.config("poll", ats.url, Path(work) / "intake.db", concurrency)


def measured(argv: list[str], stem: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run `argv`; its wall time, CPU time and peak RSS (its own rusage, taken by tests/rusage.py: waited for from
    this process, a child's ru_maxrss would start at this process's own peak)."""
    out, err = stem.with_suffix(".out"), stem.with_suffix(".err")
    with out.open("w") as stdout, err.open("w") as stderr:
        started = time.monotonic()
        used = rusage.run(argv, stem.with_suffix(".usage.json"), stdout=stdout, stderr=stderr,
                          env={**os.environ, **(env or {})})
        seconds = time.monotonic() - started
    if used.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {used.returncode}: {err.read_text()[-3000:]}")
    return {"seconds": round(seconds, 2), "cpu_seconds": round(used.cpu_seconds, 2),
            "peak_rss_mb": round(used.peak_rss_mb, 1), "stdout": out.read_text()}


def median_runs(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Each run's round of median wall time (its figures as measured together), with every round's seconds."""
    runs: dict[str, Any] = {}
    for name in rounds[0]:
        ordered = sorted((r[name] for r in rounds), key=lambda run: run["seconds"])
        runs[name] = {**ordered[len(ordered) // 2], "seconds_each_round": [r[name]["seconds"] for r in rounds],
                      "cpu_seconds_each_round": [r[name]["cpu_seconds"] for r in rounds]}
    return runs


def paired_ratios(each: list[dict[str, float]]) -> dict[str, float]:
    """The median over the rounds of each ratio taken within one round (floor and daemon measured minutes
    apart): steadier than the ratio of the medians where the machine's speed drifts between rounds."""
    return {key: round(statistics.median(r[key] for r in each), 3) for key in each[0]}


def _remove_database(path: Path) -> None:
    """An SQLite database file and its WAL and shared-memory files."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _creates(calls: dict[str, int]) -> int:
    return sum(count for route, count in calls.items() if route.startswith("POST") and "search" not in route)


def ratios(results: dict[str, Any], concurrency: list[int], latencies: list[float]) -> dict[str, float]:
    """Per ATS latency: the daemon against the sequential floor one message at a time, against the
    concurrent floor at the highest concurrency, and in CPU; naive/daemon and the growth at 4N."""
    runs = results["runs"]
    widest = max(concurrency)
    found: dict[str, float] = {}
    for ms in latencies:
        floor = runs[f"floor_{ms:g}ms"]
        wide_floor = runs.get(f"floor_c{widest}_{ms:g}ms", floor)
        for c in concurrency:
            daemon = runs[f"daemon_c{c}_{ms:g}ms"]
            against = floor if c == 1 else wide_floor
            found[f"{ms:g}ms: daemon_c{c}/floor_c{against['concurrency']}"] = round(
                daemon["seconds"] / against["seconds"], 3)
            if c > 1:  # with concurrency against the sequential floor too (issue 21: faster than it)
                found[f"{ms:g}ms: daemon_c{c}/floor_c1"] = round(daemon["seconds"] / floor["seconds"], 3)
            found[f"{ms:g}ms: cpu daemon_c{c}/floor"] = round(daemon["cpu_seconds"] / floor["cpu_seconds"], 2)
        if f"naive_{ms:g}ms" in runs:
            for c in concurrency:
                found[f"{ms:g}ms: naive/daemon_c{c}"] = round(
                    runs[f"naive_{ms:g}ms"]["seconds"] / runs[f"daemon_c{c}_{ms:g}ms"]["seconds"], 2)
        growth = runs.get(f"daemon_c{widest}_{ms:g}ms_4n")
        if growth is not None:
            found[f"{ms:g}ms: rss_4n/rss_n (c{widest})"] = round(
                growth["peak_rss_mb"] / runs[f"daemon_c{widest}_{ms:g}ms"]["peak_rss_mb"], 3)
    return found


def report(results: dict[str, Any], previous: dict[str, Any] | None) -> None:
    print(f"\n{results['messages']} mails, {results['mailbox']['bytes'] / 2**20:.0f} MB")
    print(f"{'run':<24}{'s':>9}{'msg/s':>9}{'cpu s':>9}{'cpu ms/msg':>11}{'rss MB':>9}{'calls/app':>11}"
          f"{'writes/msg':>12}{'reads/msg':>11}")
    for name, run in results["runs"].items():
        calls = run.get("ats_calls_per_application", "")
        writes = run.get("write_transactions_per_message", "")
        reads = run.get("read_transactions_per_message", "")
        print(f"{name:<24}{run['seconds']:>9}{run['messages_per_second']:>9}{run['cpu_seconds']:>9}"
              f"{run.get('cpu_ms_per_message', '')!s:>11}{run['peak_rss_mb']:>9}{calls!s:>11}{writes!s:>12}"
              f"{reads!s:>11}")
    print()
    before = (previous or {}).get("ratios", {})
    paired = results.get("paired_ratios", {})
    for key, value in results["ratios"].items():
        was = f" (previous run: {before[key]})" if key in before else ""
        within = f" (median of the rounds' own: {paired[key]})" if key in paired else ""
        print(f"{key:<34}{value}{within}{was}")


if __name__ == "__main__":
    sys.exit(main())
