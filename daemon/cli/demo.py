"""`ats-inbox demo`: the whole flow on bundled sample mail into a local sandbox ATS.

No mail server and no ATS account: the sandbox runs on a free local port, the mail comes
from a folder of .eml files, and the state is kept in --workdir so a second run shows
that nothing is processed twice. The work folder and the files the demo writes in it
(its database, the sandbox's state with the CV bytes) are readable by their owner only.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import daemon
from daemon.ats.client import AtsClient
from daemon.ats.directory import AtsDirectory
from daemon.cli.report import routed_by, table
from daemon.files import private_dir, private_file
from daemon.intake.flow import FlowOptions
from daemon.intake.runner import PassSummary, RunnerOptions
from daemon.mailbox.local import LocalFolder
from daemon.ops.service import Service
from daemon.routing.live import LiveRules
from daemon.sandbox import SandboxATS
from daemon.store import open_store

SAMPLES = Path(daemon.__file__).resolve().parent / "samples"


def example_rules() -> Path:
    """The documented example rule set: `rules/` of a checkout, or its copy inside the wheel."""
    package = Path(daemon.__file__).resolve().parent
    installed = package / "_rules"
    return installed if installed.is_dir() else package.parent / "rules"
SOURCE_NAME = "Email"


def run_demo(workdir: Path, mail: Path | None = None) -> str:
    """Run one pass over the sample mail; return the report to print."""
    private_dir(workdir)
    folder = LocalFolder(mail or SAMPLES)
    sandbox = SandboxATS(private_file(workdir / "sandbox-ats.db"))
    base_url = sandbox.start()
    service = Service(store=open_store(f"sqlite:///{(workdir / 'ats-inbox.db').resolve()}"),
                      client=(client := AtsClient(base_url, "demo-token", timeout=10)),
                      directory=AtsDirectory(client, source_name=SOURCE_NAME),
                      options=RunnerOptions(), flow_options=FlowOptions(), mailbox_factory=lambda: folder,
                      rules=LiveRules(example_rules()))
    try:
        summary = service.run_pass()
        return _report(service, folder, summary, workdir)
    finally:
        service.close()
        sandbox.stop()


def _report(service: Service, folder: LocalFolder, summary: PassSummary, workdir: Path) -> str:
    folder.open()
    names = folder.file_names()
    records = [service.store.message_in(folder.account, folder.folder, uid) for uid in names]
    rows = [[names[r.uid], r.status, r.job_title or "-", routed_by(r.rule, r.job_title) or "-",
             r.applicant_id or "-", r.candidate_id or "-", r.reason or r.last_error or ""]
            for r in records if r is not None]
    head = (f"Processed {summary.seen} new message(s): {summary.submitted} submitted, "
            f"{summary.set_aside} set aside, {summary.pending} waiting for retry."
            if summary.seen else "Nothing new: every message was already processed in an earlier run.")
    return "\n".join([
        head, "",
        table(["Mail", "Outcome", "Job", "Routed by", "Applicant", "Candidate", "Why set aside"], sorted(rows)),
        "",
        f"State is in {workdir}/. To browse what the sandbox ATS received:",
        f"  {ats_inbox_command()} sandbox --db {shlex.quote(str(workdir / 'sandbox-ats.db'))}"
        "   (then open http://127.0.0.1:8025/)",
    ])


def ats_inbox_command(cwd: Path | None = None) -> str:
    """How to run ats-inbox from here, as it was installed: `.venv/bin/ats-inbox` for the README's
    virtual environment (relative when it lies under the current folder), else `python -m daemon.cli`."""
    script = Path(sys.executable).with_name("ats-inbox")
    if not script.exists():
        return f"{shlex.quote(sys.executable)} -m daemon.cli"
    here = (cwd or Path.cwd()).resolve()
    shown = script.relative_to(here) if script.is_relative_to(here) else script
    return shlex.quote(str(shown))
