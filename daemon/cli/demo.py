"""`ats-inbox demo`: the whole flow on bundled sample mail into a local sandbox ATS.

No mail server and no ATS account: the sandbox runs on a free local port, the mail comes
from a folder of .eml files, and the state is kept in --workdir so a second run shows
that nothing is processed twice. The work folder and the files the demo writes in it
(its database, the sandbox's state with the CV bytes, a configuration file for the read-only
commands) are readable by their owner only.

After the table, the report says where each part of the product shows in this run, read
from the records and from what the sandbox ATS received: a recruiter's forward (the
applicant is the forwarded mail's sender; the forwarder is named), mail that is not an
application (an automatic reply, a newsletter) ignored, the routing rules at work (the
stage and source they set), and the review queue with the command that lists it.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import daemon
from daemon.ats.client import AtsClient
from daemon.ats.directory import AtsDirectory
from daemon.cli.report import routed_by, table
from daemon.domain import NEEDS_PERSON, Status
from daemon.files import private_dir, private_file
from daemon.intake.flow import FlowOptions
from daemon.intake.planning import INFERENCE_STEPS
from daemon.intake.runner import PassSummary, RunnerOptions
from daemon.mailbox.local import LocalFolder
from daemon.ops.service import Service
from daemon.routing.live import LiveRules
from daemon.sandbox import SandboxATS
from daemon.store import open_store
from daemon.store.models import MessageRecord

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
                      # one mail at a time: the ATS numbers its applicants in the mails' order, every run the
                      # same as the README prints it (nine mails gain nothing from flows at once)
                      options=RunnerOptions(concurrency=1), flow_options=FlowOptions(), mailbox_factory=lambda: folder,
                      rules=LiveRules(example_rules()))
    try:
        summary = service.run_pass()
        _write_config(workdir)
        return _report(service, folder, summary, workdir, sandbox.state())
    finally:
        service.close()
        sandbox.stop()


def _report(service: Service, folder: LocalFolder, summary: PassSummary, workdir: Path,
            received: Mapping[str, Any]) -> str:
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
        *_what_it_shows(sorted((names[r.uid], r) for r in records if r is not None), received, workdir),
        f"State is in {workdir}/. To browse what the sandbox ATS received:",
        f"  {ats_inbox_command()} sandbox --db {shlex.quote(str(workdir / 'sandbox-ats.db'))}"
        "   (then open http://127.0.0.1:8025/)",
    ])


def _what_it_shows(records: Sequence[tuple[str, MessageRecord]], received: Mapping[str, Any],
                   workdir: Path) -> list[str]:
    """Where each part of the product shows in this run: forwards, ignored mail, rules, the review queue."""
    ats = _Received(received)
    sections = [
        ("A recruiter's forward lands under the candidate; the comment on the candidate names the forwarder:",
         [f"{name}: sent by {r.forwarded_by}; applicant {ats.applicant(r.applicant_id)} (found by the {r.found_by})"
          for name, r in records if r.forwarded_by and r.applicant_id]),
        ("Mail that is not an application is ignored: nothing sent, nobody needs to look:",
         [f"{name}: {r.reason}" for name, r in records if r.status == Status.IGNORED]),
        ("Routing rules at work (the example set in rules/):",
         [f"{name}: rule '{r.rule}' -> {ats.placement(r.candidate_id) or r.status}" for name, r in records
          if r.rule and r.rule not in INFERENCE_STEPS]),
        ("The review queue: mail set aside for a person, with the reason; list it, then `messages show ID`:",
         [f"{name}: {r.reason}" for name, r in records if r.status in NEEDS_PERSON]
         + [f"{ats_inbox_command()} messages list --config {shlex.quote(str(workdir / 'config.toml'))}"]),
    ]
    return [line for title, items in sections if items for line in (title, *(f"  {i}" for i in items), "")]


class _Received:
    """What the sandbox ATS received, looked up by the ids the records hold."""

    def __init__(self, state: Mapping[str, Any]):
        self.applicants = {str(a["id"]): a for a in state["applicants"]}
        self.candidates = {str(c["id"]): c for c in state["candidates"]}
        self.sources = {str(s["id"]): s["name"] for s in state["sources"]}
        self.stages = {str(st["id"]): st["name"] for p in state["pipelines"] for st in p["stages"]}

    def applicant(self, applicant_id: str) -> str:
        """"First Last <address>" as the ATS holds the applicant."""
        found = self.applicants.get(str(applicant_id), {})
        name = " ".join(part for part in (found.get("first_name"), found.get("last_name")) if part)
        return f"{name} <{found.get('email') or '?'}>" if found else f"applicant {applicant_id}"

    def placement(self, candidate_id: str) -> str:
        """"stage Screening, source Referral" of a candidate ("" when there is none)."""
        found = self.candidates.get(str(candidate_id))
        if not found:
            return ""
        return (f"stage {self.stages.get(str(found['pipeline_stage_id']), '?')}, "
                f"source {self.sources.get(str(found['source_id']), '?')}")


def _write_config(workdir: Path) -> None:
    """A configuration naming the demo's database and rules, for the commands that read only the
    database (`messages list|show`, `status`); its mail server and ATS are placeholders."""
    path = private_file(workdir / "config.toml")
    path.write_text(
        "# Written by `ats-inbox demo` for `messages list|show` and `status` on the demo's records.\n"
        "# Those read only the database; the [imap] and [ats] values below are placeholders.\n"
        '[imap]\nhost = "localhost"\nusername = "jobs@example.com"\n\n'
        '[ats]\nbase_url = "http://127.0.0.1:8025"\n\n'
        '[database]\nurl = "sqlite:///ats-inbox.db"\n\n'
        f"[rules]\npath = {_toml_string(str(example_rules()))}\n", encoding="utf-8")


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def ats_inbox_command(cwd: Path | None = None) -> str:
    """How to run ats-inbox from here, as it was installed: `.venv/bin/ats-inbox` for the README's
    virtual environment (relative when it lies under the current folder), else `python -m daemon.cli`."""
    script = Path(sys.executable).with_name("ats-inbox")
    if not script.exists():
        return f"{shlex.quote(sys.executable)} -m daemon.cli"
    here = (cwd or Path.cwd()).resolve()
    shown = script.relative_to(here) if script.is_relative_to(here) else script
    return shlex.quote(str(shown))
