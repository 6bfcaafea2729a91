"""`ats-inbox rules check` and `rules test`, in process, against a sandbox ATS over HTTP."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

import daemon
from daemon.cli import main
from tests.e2e import SANDBOX_TOKEN
from tests.mailfactory import build_email
from tests.world import PDF

REPO_RULES = Path(__file__).resolve().parent.parent / "rules"
SAMPLES = Path(daemon.__file__).resolve().parent / "samples"
CREATES = ("POST /api/v1/upload-cv-file", "POST /api/v1/applicant", "POST /api/v1/candidate")


@pytest.fixture(autouse=True)
def _no_secrets_from_the_environment(monkeypatch):
    for name in ("ATS_INBOX_ATS_TOKEN", "ATS_INBOX_IMAP_PASSWORD", "ATS_INBOX_CONFIG"):
        monkeypatch.delenv(name, raising=False)


def config(tmp_path: Path, base_url: str, rules: Path, token: bool = True) -> Path:
    """A config whose [rules] path is `rules`; the ATS token in a file when `token`."""
    (tmp_path / "ats-token").write_text(SANDBOX_TOKEN + "\n")
    token_line = f'token_file = "{tmp_path / "ats-token"}"' if token else ""
    path = tmp_path / "config.toml"
    path.write_text(f'[imap]\nhost = "127.0.0.1"\nusername = "jobs"\n'
                    f'[ats]\nbase_url = "{base_url}"\n{token_line}\nsource = "Email"\n'
                    f'[database]\nurl = "sqlite:///{tmp_path / "db.sqlite"}"\n[rules]\npath = "{rules}"\n')
    return path


def rule_folder(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "10-rules.toml").write_text(text)
    return folder


def created(sandbox) -> dict[str, int]:
    return {k: v for k, v in sandbox.state()["requests"].items() if k in CREATES or k.startswith("POST /api/v1/cand")}


def test_check_of_the_example_rules_against_the_sandbox(tmp_path, sandbox, capsys):
    """The repository's rules are valid against the sandbox seed: exit 0 and a one-line summary."""
    path = config(tmp_path, sandbox.base_url, REPO_RULES)
    assert main(["rules", "check", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "rules in 4 files, all valid; checked against the ATS: 4 open jobs" in out


def test_check_without_a_token_skips_the_ats_and_says_so(tmp_path, capsys):
    """No ATS token: the files are checked, the ATS is not asked, and the output says so."""
    path = config(tmp_path, "http://127.0.0.1:9", REPO_RULES, token=False)
    assert main(["--config", str(path), "rules", "check"]) == 0
    assert "all valid; the ATS checks were skipped: no ATS token" in capsys.readouterr().out


def test_check_reports_every_problem_with_file_and_line_and_exits_1(tmp_path, capsys):
    """Broken rules: each problem on its own line as file:line: message, exit 1."""
    folder = rule_folder(tmp_path, '[[rule]]\nname = "a"\nsubjct = "x"\njob_code = "A-1"\n\n'
                                   '[[rule]]\nname = "b"\nsubject_regex = "(("\njob_code = "A-1"\n')
    path = config(tmp_path, "http://127.0.0.1:9", folder, token=False)
    assert main(["rules", "check", "--config", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{folder / '10-rules.toml'}:3: rule 'a': unknown key 'subjct'")
    assert out[1].startswith(f"{folder / '10-rules.toml'}:8: rule 'b': `subject_regex`")
    assert out[2].startswith("2 problems in the rules")


def test_check_against_the_sandbox_names_an_unknown_job_and_stage(tmp_path, sandbox, capsys):
    """A job code and a stage the ATS does not have: problems at the rule's line, exit 1."""
    folder = rule_folder(tmp_path, '[[rule]]\nname = "a"\nsubject = "x"\njob_code = "ENG-99"\n'
                                   '[[rule]]\nname = "b"\nsubject = "y"\njob_code = "ENG-7"\nstage = "Hired"\n'
                                   '[[rule]]\nname = "c"\nsubject = "z"\njob_code = "OPS-1"\n')
    path = config(tmp_path, sandbox.base_url, folder)
    assert main(["rules", "check", "--config", str(path)]) == 1
    out = capsys.readouterr().out
    assert "10-rules.toml:1: rule 'a': the ATS has no open job with the code 'ENG-99'" in out
    assert "10-rules.toml:5: rule 'b': the pipeline 'Engineering hiring'" in out and "no stage 'Hired'" in out
    assert "10-rules.toml:10: warning: rule 'c': the job 'Office Manager'" in out
    assert "2 problems against the ATS" in out


def test_test_over_the_sample_folder_prints_a_line_a_mail_and_creates_nothing(tmp_path, sandbox, capsys):
    """A folder: one line per mail and a summary per action and job; no create call is made."""
    path = config(tmp_path, sandbox.base_url, REPO_RULES)
    assert main(["rules", "test", str(SAMPLES), "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"02-data-analyst-docx.eml +submit +Data Analyst +Screening +Email +Data Analyst applicants", out)
    assert re.search(r"01-senior-python-pdf.eml +submit +Senior Python Developer +Applied +Email +job title", out)
    assert "05-unknown-job.eml" in out and "no job matched" in out
    assert re.search(r"04-no-resume.eml +review .*no resume attached", out)  # as the run sets it aside
    assert "9 mails: 2 ignore, 2 review, 5 submit" in out
    assert ("per job: Customer Support Specialist 1, Data Analyst 1, Python Developer 2, "
            "Senior Python Developer 1") in out
    assert created(sandbox) == {}


def test_test_one_mail_explains_each_rule_tried(tmp_path, sandbox, capsys):
    """One file with --explain: the decision, the rule and its condition, stage, source, and every rule tried."""
    path = config(tmp_path, sandbox.base_url, REPO_RULES)
    assert main(["--config", str(path), "rules", "test", "--explain", str(SAMPLES / "02-data-analyst-docx.eml")]) == 0
    out = capsys.readouterr().out
    assert "decision: submit to 'Data Analyst' (#103, DATA-3)" in out
    assert "by:       rule 'Data Analyst applicants start at Screening' (" in out
    assert "stage:    'Screening'" in out and "source:   'Email' ([ats] source)" in out
    assert "why:      subject contains 'data analyst'" in out
    assert "no    'newsletters and job-board digests'" in out
    assert "MATCH 'Data Analyst applicants start at Screening'" in out


def test_test_json_is_one_object_per_mail(tmp_path, sandbox, capsys):
    """--json: one parseable object per line with the decision's facts."""
    path = config(tmp_path, sandbox.base_url, REPO_RULES)
    assert main(["rules", "test", "--json", "--explain", str(SAMPLES), "--config", str(path)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 9
    first = next(o for o in lines if o["mail"] == "01-senior-python-pdf.eml")
    assert (first["action"], first["rule"], first["job"]["id"]) == ("submit", "job title in the subject", 101)
    assert first["stage"] == {"id": "s-eng-applied", "name": "Applied"} and first["stage_is_default"] is True
    assert first["source"] == {"id": 1, "name": "Email"} and len(first["rules_tried"]) == 6


def test_test_reports_unreadable_mail_and_goes_on(tmp_path, sandbox, capsys):
    """A mail that is not one (no header) is reported as unparseable; the others are decided."""
    mail = tmp_path / "mail"
    mail.mkdir()
    (mail / "a-broken.eml").write_bytes(b"\x00\x01 not a mail at all")
    (mail / "b-good.eml").write_bytes(build_email(to="jobs+eng-8@example.com", subject="Hi",
                                                  attachments=[("cv.pdf", PDF, "application/pdf")]))
    path = config(tmp_path, sandbox.base_url, REPO_RULES)
    assert main(["rules", "test", str(mail), "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"a-broken.eml +unreadable .*unparseable mail", out)
    assert re.search(r"b-good.eml +submit +Python Developer +Applied +Email +jobs\+CODE@", out)
    assert "2 mails: 1 submit, 1 unreadable" in out


def sample_maildir(tmp_path: Path, *, new: str, cur: str) -> Path:
    """A Maildir holding sample 01 in new/ and sample 05 (read) in cur/, under the given file names."""
    maildir = tmp_path / "Maildir"
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True)
    shutil.copy(SAMPLES / "01-senior-python-pdf.eml", maildir / "new" / new)
    shutil.copy(SAMPLES / "05-unknown-job.eml", maildir / "cur" / cur)
    return maildir


def test_test_reads_a_maildir(tmp_path, sandbox, capsys):
    """A Maildir's new/ and cur/ mail is tried like a folder of .eml files."""
    maildir = sample_maildir(tmp_path, new="1.host", cur="2.host:2,S")
    path = config(tmp_path, sandbox.base_url, REPO_RULES)
    assert main(["rules", "test", str(maildir), "--config", str(path)]) == 0
    assert "2 mails: 1 review, 1 submit" in capsys.readouterr().out


def test_test_a_new_rule_folder_before_switching_it_on(tmp_path, sandbox, capsys):
    """--rules FOLDER tries another rule set than [rules] path."""
    folder = rule_folder(tmp_path, '[[rule]]\nname = "all to support"\nsubject = "a"\njob_code = "SUP-2"\n')
    path = config(tmp_path, sandbox.base_url, REPO_RULES)
    assert main(["rules", "test", str(SAMPLES / "01-senior-python-pdf.eml"), "--rules", str(folder),
                 "--config", str(path)]) == 0
    assert "submit to 'Customer Support Specialist'" in capsys.readouterr().out


@pytest.mark.parametrize(("setup", "words"), [
    ("invalid rules", "invalid routing rules"),
    ("missing path", "no such file or folder"),
    ("no token", "needs the ATS token"),
])
def test_test_refuses_what_it_cannot_do_with_exit_2(tmp_path, capsys, setup, words):
    """Invalid rules, a missing mail path, no ATS token: exit 2 and what is wrong."""
    folder = rule_folder(tmp_path, '[[rule]]\nname = "a"\nsubjct = "x"\n' if setup == "invalid rules" else "")
    path = config(tmp_path, "http://127.0.0.1:9", folder, token=setup != "no token")
    target = tmp_path / "nope.eml" if setup == "missing path" else SAMPLES
    assert main(["rules", "test", str(target), "--config", str(path)]) == 2
    assert words in capsys.readouterr().err


JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
EMAILS = Path(__file__).resolve().parent / "fixtures" / "emails"


@pytest.mark.parametrize(("mail", "status", "words", "candidate", "forwarded_by"), [
    ("crafted-recruiter-forward-as-attachment.eml", "review", "no job matched", "jane.candidate@example.org",
     "rita@acme.test"),
    ("crafted-out-of-office-with-pdf.eml", "ignored", "automatic reply", None, None),
    ("04-no-resume.eml", "review", "no resume attached", "tom.becker@example.net", None),
    ("jpeg-only.eml", "review", "JPEG image", "p@example.org", None),
])
def test_test_json_says_what_the_run_would_record_and_for_whom(tmp_path, sandbox, capsys, mail, status, words,
                                                               candidate, forwarded_by):
    """--json: the status the run would record, the candidate and who forwarded (internal senders as configured)."""
    (tmp_path / "jpeg-only.eml").write_bytes(build_email(sender=("P", "p@example.org"), subject="Data Analyst",
                                                         attachments=[("me.jpg", JPEG, "image/jpeg")]))
    path = config(tmp_path, sandbox.base_url, REPO_RULES)
    path.write_text(path.read_text() + '[intake]\ninternal_senders = ["acme.test"]\n')
    found = next(p for p in (EMAILS / mail, SAMPLES / mail, tmp_path / mail) if p.exists())
    assert main(["rules", "test", "--json", str(found), "--config", str(path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == status and words in out["reason"]
    assert ((out["candidate"] or {}).get("email") if status != "ignored" else None) == candidate
    assert (out["forwarded_by"] or {}).get("email") == forwarded_by
    if status == "review":
        assert out["action"] == "review" and out["job"] is None
