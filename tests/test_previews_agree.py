"""The previews cannot disagree with the run: every mail of the test corpus goes through the real
run (in process: the runner over a fake mailbox into the sandbox ATS), through `rules test`'s
planning and through the dry run's, with the same settings; they agree on each mail's status, job,
candidate and forwarder."""

from __future__ import annotations

from pathlib import Path

import daemon
from daemon.cli import rules_tryout
from daemon.config import load_settings
from daemon.domain import Status
from daemon.intake import preview
from daemon.intake.planning import FOUND_BY_CV, Directory, FlowOptions, Plan, named
from daemon.routing import load_rules
from tests.e2e import FIXTURES
from tests.inprocess import in_process_world  # noqa: F401 (the fixture `world`)
from tests.mailfactory import build_email
from tests.world import PDF

REPO_RULES = Path(__file__).resolve().parent.parent / "rules"
SAMPLES = Path(daemon.__file__).resolve().parent / "samples"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
# the sandbox reads the address and the PDF's author (the name: never made from the address)
CV_WITH_ADDRESS = b"%PDF-1.4\n<< /Author (Kim Reader) >>\n% the CV of kim.reader@example.org\n%%EOF\n"
BUILT = {
    "built-no-cv.eml": build_email(sender=("No Cv", "nocv@example.org"), subject="Data Analyst"),
    "built-jpeg-only.eml": build_email(sender=("Pic", "pic@example.org"), subject="Data Analyst",
                                       attachments=[("me.jpg", JPEG, "image/jpeg")]),
    "built-agency.eml": build_email(sender=("Ann Agent", "ann@agency.example"), subject="Data Analyst",
                                    attachments=[("kim-reader.pdf", CV_WITH_ADDRESS, "application/pdf")]),
    "built-agency-forward.eml": build_email(
        sender=("Ann Agent", "ann@agency.example"), subject="Fwd: Application: Data Analyst",
        body="See below.\n\n---------- Forwarded message ---------\nFrom: Bo Lee <bo.lee@example.org>\n"
             "Date: Mon, 6 Jan 2025 09:00:00 +0100\nSubject: Application: Data Analyst\nTo: <ann@agency.example>\n\n"
             "Hello, my CV is attached.\n",
        attachments=[("bo-lee-cv.pdf", PDF, "application/pdf")]),
}


def corpus() -> dict[str, bytes]:
    """Every .eml of the fixtures and the samples, and the built cases, by name."""
    mails = {p.name: p.read_bytes() for p in sorted((FIXTURES / "emails").glob("*.eml"))}
    mails |= {f"sample-{p.name}": p.read_bytes() for p in sorted(SAMPLES.glob("*.eml"))}
    return mails | BUILT




def options(tmp_path: Path) -> FlowOptions:
    """The options from a configuration file, as the service, the dry run and `rules test` build them."""
    path = tmp_path / "config.toml"
    path.write_text('[imap]\nhost = "127.0.0.1"\nusername = "jobs@example.com"\n'
                    '[ats]\nbase_url = "http://sandbox.test"\nsource = "Email"\n'
                    f'[database]\nurl = "sqlite:///{tmp_path / "unused.db"}"\n[rules]\npath = "{REPO_RULES}"\n'
                    '[intake]\ninternal_senders = ["acme.test", "agency.example"]\n')
    return FlowOptions.from_settings(load_settings(path, {}, need_secrets=False))


def said(plan: Plan) -> tuple[str, str, str, str, str]:
    """What a preview says: status, job, candidate addresses (or that the ATS reads them), forwarder, how found."""
    job = plan.job.title if plan.status == Status.SUBMITTED and plan.job is not None else ""
    people = sorted(c.person.address if c.person and c.person.address else FOUND_BY_CV
                    for c in plan.candidates) if plan.status == Status.SUBMITTED else []
    return str(plan.status), job, ", ".join(people), named(plan.forwarder), plan.found_by if plan.rule else ""


def test_rules_test_and_the_dry_run_say_what_the_run_does_with_every_corpus_mail(world, tmp_path):
    """Forwards, automatic replies, no-CV and JPEG-only mail, agency mail with internal_senders set, broken
    mail: for each, the run's record and the two previews agree on status, job, candidate and forwarder."""
    mails, opts, rules = corpus(), options(tmp_path), load_rules(REPO_RULES)
    world.deliver(*mails.values())
    world.poll(opts, rules=rules)
    records = {r.uid: r for r in world.store.messages(limit=1000)}
    applicants = {str(a["id"]): a["email"] for a in world.sandbox.state()["applicants"]}
    client = world.client
    everything = rules_tryout.Directory(client.search_jobs(), client.pipelines(), client.sources())
    planner = preview.Planner(opts, rules, Directory(world.directory.open_jobs(), world.directory.pipelines(),
                                                     world.directory.sources()))
    compared, seen, wrong = 0, set(), []
    for uid, (name, raw) in enumerate(mails.items(), start=1):
        record = records[uid]
        if record.status == Status.DUPLICATE:  # the runner's: a copy of a mail recorded before
            continue
        people = sorted(applicants[i.strip()] if record.found_by != FOUND_BY_CV else FOUND_BY_CV
                        for i in record.applicant_id.split(",") if i.strip())
        run = (record.status, record.job_title, ", ".join(people), record.forwarded_by,
               record.found_by if record.rule else "")
        tried = rules_tryout.try_mail(name, raw, rules, everything, opts)
        dry = planner.preview(uid, frozenset(), len(raw), raw)
        wrong += [(name, "rules test", said(tried.plan), run)] if said(tried.plan) != run else []
        wrong += [(name, "dry run", said(dry.plan), run)] if said(dry.plan) != run else []
        compared += 1
        seen.add(record.status)
        seen |= {"forwarded"} if record.forwarded_by else set()
    assert wrong == []
    assert compared >= len(mails) - 3
    assert seen >= {"submitted", "review", "ignored", "forwarded"}
