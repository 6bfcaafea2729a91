"""`ats-inbox demo`: the whole flow on the bundled samples into a local sandbox, no setup needed."""

from __future__ import annotations

import itertools
import os
import shlex
import stat
import subprocess
from pathlib import Path

import pytest

from daemon.cli.demo import run_demo
from daemon.sandbox import SandboxATS
from tests.e2e import Result, run_cli

SUBMITTED = ("01-senior-python-pdf.eml", "02-data-analyst-docx.eml", "03-support-pdf-qp.eml",
             "06-python-dev-octet-stream.eml", "07-recruiter-forward.eml")


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, Result]:
    """One run of the demo on the bundled samples (its work folder, and what it printed)."""
    workdir = tmp_path_factory.mktemp("demo")
    result = run_cli("demo", "--workdir", str(workdir))
    assert result.code == 0, result.stderr
    return workdir, result


def section(report: str, title: str) -> list[str]:
    """The indented lines under the closing summary's section that starts with `title`."""
    lines = report.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title)) + 1
    return [line.strip() for line in itertools.takewhile(lambda line: line.startswith("  "), lines[start:])]


def test_demo_processes_the_samples_once(demo):
    """First run: 5 candidates, 2 set aside with reasons, 2 ignored; second run: nothing new, nothing created."""
    workdir, first = demo
    assert "Processed 9 new message(s): 5 submitted, 2 set aside" in first.stdout
    assert "no resume attached" in first.stdout and "no job matched" in first.stdout
    for sample in SUBMITTED:
        assert any(line.startswith(sample) and "submitted" in line for line in first.stdout.splitlines())
    for sample in ("08-out-of-office.eml", "09-newsletter.eml"):
        assert any(line.startswith(sample) and "ignored" in line for line in first.stdout.splitlines())
    second = run_cli("demo", "--workdir", str(workdir))
    assert second.code == 0, second.stderr
    assert "Nothing new" in second.stdout
    sandbox = SandboxATS(workdir / "sandbox-ats.db")  # the demo's sandbox state, read back
    assert len(sandbox.state()["candidates"]) == len(SUBMITTED)


def test_the_recruiters_forward_lands_under_the_candidate_with_the_forwarder_named(demo):
    """The forward's applicant in the ATS is the forwarded mail's sender; the comment and summary name the recruiter."""
    workdir, result = demo
    (line,) = section(result.stdout, "A recruiter's forward")
    assert line.startswith("07-recruiter-forward.eml: sent by Nora Lindqvist <nora.lindqvist@example.com>")
    assert "applicant Aisha Rahman <aisha.rahman@example.org>" in line
    state = SandboxATS(workdir / "sandbox-ats.db").state()
    (applicant,) = [a for a in state["applicants"] if a["email"] == "aisha.rahman@example.org"]
    assert (applicant["first_name"], applicant["last_name"]) == ("Aisha", "Rahman")
    assert not any("nora" in a["email"] for a in state["applicants"])  # the recruiter is never an applicant
    (candidate,) = [c for c in state["candidates"] if c["applicant_id"] == applicant["id"]]
    (comment,) = [a["comment"] for a in state["actions"] if a["candidate_id"] == candidate["id"]]
    assert "Forwarded by: Nora Lindqvist (nora.lindqvist@example.com)" in comment


def test_the_summary_shows_ignored_mail_the_rules_at_work_and_the_review_queue(demo):
    """The closing summary names the ignored auto-reply, each rule's effect in the ATS, and the mail set aside."""
    _, result = demo
    ignored = section(result.stdout, "Mail that is not an application is ignored")
    assert [line.split(":")[0] for line in ignored] == ["08-out-of-office.eml", "09-newsletter.eml"]
    assert "automatic reply (Auto-Submitted: auto-replied)" in ignored[0]
    rules = section(result.stdout, "Routing rules at work")
    assert "02-data-analyst-docx.eml: rule 'Data Analyst applicants start at Screening' -> stage Screening" in rules[0]
    assert "07-recruiter-forward.eml: rule 'a recruiter's forward is a referral' -> stage Applied, source Referral" \
        in rules[1]
    queue = section(result.stdout, "The review queue")
    assert [line.split(":")[0] for line in queue[:2]] == ["04-no-resume.eml", "05-unknown-job.eml"]
    assert " messages list --config " in queue[2]


def test_the_review_queue_command_it_prints_lists_the_mail_set_aside(demo):
    """The printed `messages list` command runs as printed (no secrets needed), the two set-aside mails first."""
    _, result = demo
    command = shlex.split(section(result.stdout, "The review queue")[-1])
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    rows = done.stdout.splitlines()[2:]
    assert [row.split()[3] for row in rows[:2]] == ["review", "review"]
    assert {"tom.becker@example.net", "lucia.ferrante@example.org"} <= {row.split()[4] for row in rows[:2]}
    assert len(rows) == 9


def test_demo_reads_another_folder_of_mail(tmp_path):
    """--mail points the demo at any folder of .eml files."""
    mail = tmp_path / "mail"
    mail.mkdir()
    (mail / "a.eml").write_bytes(b"From: x@example.org\r\nSubject: Hello\r\n\r\nno attachment\r\n")
    result = run_cli("demo", "--workdir", str(tmp_path / "work"), "--mail", str(mail))
    assert result.code == 0, result.stderr
    assert "Processed 1 new message(s): 0 submitted, 1 set aside" in result.stdout


def test_demo_work_folder_and_files_are_owner_only(tmp_path):
    """Under a umask of 000 the work folder is 0700 and every file the demo writes is 0600."""
    workdir = tmp_path / "work"
    previous = os.umask(0)
    try:
        run_demo(workdir)
    finally:
        os.umask(previous)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in [workdir, *workdir.iterdir()]}
    assert modes.pop("work") == 0o700
    assert {"sandbox-ats.db", "ats-inbox.db", "config.toml"} <= set(modes)
    assert set(modes.values()) == {0o600}, modes
