"""End to end: a real Dovecot and the sandbox ATS over HTTP, `ats-inbox poll` as a subprocess."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from tests.e2e import FIXTURES, imap_settings, run_cli, write_config
from tests.mailfactory import MailAttachment, build_email

pytestmark = pytest.mark.imap

PDF = (FIXTURES / "resumes" / "rendercv-john-doe-classic.pdf").read_bytes()
DOCX = (FIXTURES / "resumes" / "pandocresume-johnny-coder.docx").read_bytes()


@pytest.fixture
def config(tmp_path, dovecot, sandbox):
    return write_config(tmp_path / "config.toml", imap=imap_settings(dovecot), ats_url=sandbox.base_url,
                        database=tmp_path / "ats-inbox.db")


def poll(config) -> str:
    result = run_cli("poll", "--config", str(config))
    assert result.code == 0, result.stderr
    return result.stdout


def test_cv_becomes_a_candidate_on_the_right_job(dovecot, sandbox, config):
    """A mailed PDF arrives byte for byte; applicant, candidate (job, pipeline, first stage), comment."""
    dovecot.append("INBOX", build_email(sender=("Jane Doe", "Jane.Doe@Example.org"),
                                        subject="Application: Senior Python Developer",
                                        attachments=[("My CV.pdf", PDF, "application/pdf", "base64")]))
    poll(config)
    state = sandbox.state()
    [cv] = state["cvs"]
    assert cv["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert httpx.get(f"{sandbox.base_url}/_sandbox/cvs/{cv['id']}", headers=sandbox.auth_headers()).content == PDF
    [applicant] = state["applicants"]
    assert [str(i) for i in applicant["cv_ids"]] == [str(cv["id"])]
    assert (applicant["first_name"], applicant["last_name"], applicant["email"]) == ("Jane", "Doe",
                                                                                      "jane.doe@example.org")
    [candidate] = state["candidates"]
    assert str(candidate["applicant_id"]) == str(applicant["id"])
    assert (str(candidate["job_id"]), str(candidate["pipeline_id"])) == ("101", "p-eng")
    assert str(candidate["pipeline_stage_id"]) == "s-eng-applied"  # lowest position, not list order
    assert str(candidate["source_id"]) == "1"
    [action] = state["actions"]
    assert str(action["candidate_id"]) == str(candidate["id"])
    assert "Application: Senior Python Developer" in action["comment"]
    assert "jane.doe@example.org" in action["comment"] and "My CV.pdf" in action["comment"]


def test_processed_mail_is_marked_read_and_moved(dovecot, sandbox, config):
    """After the ATS confirmed, the mail is \\Seen and moved to processed_folder."""
    dovecot.append("INBOX", build_email(subject="Data Analyst", attachments=[("cv.pdf", PDF, "application/pdf")]))
    poll(config)
    assert dovecot.uids("INBOX") == []
    [uid] = dovecot.uids("Processed")
    assert b"\\Seen" in dovecot.flags("Processed", uid)


def test_second_poll_creates_nothing(dovecot, sandbox, config):
    """Mail already recorded is never sent to the ATS again."""
    for subject in ("Data Analyst", "Python Developer application"):
        dovecot.append("INBOX", build_email(subject=subject, attachments=[("cv.pdf", PDF, "application/pdf")]))
    poll(config)
    before = sandbox.state()
    assert len(before["candidates"]) == 2
    poll(config)
    after = sandbox.state()
    for kind in ("cvs", "applicants", "candidates", "actions"):
        assert after[kind] == before[kind]


def test_directory_reads_are_cached_within_a_pass(dovecot, sandbox, config):
    """Jobs, pipelines and sources are read once for several messages, not once per message."""
    for subject in ("Data Analyst", "Python Developer", "Customer Support Specialist"):
        dovecot.append("INBOX", build_email(subject=subject, attachments=[("cv.pdf", PDF, "application/pdf")]))
    poll(config)
    requests = sandbox.state()["requests"]
    assert requests.get("POST /api/v1/candidate") == 3
    assert requests.get("GET /api/v1/pipelines/all") == 1
    assert requests.get("GET /api/v1/sources/all") == 1
    assert requests.get("POST /api/v1/jobs/search") == 1


@pytest.mark.parametrize(("mail", "reason"), [
    (build_email(subject="Python Developer", body="I'd like to apply, CV to follow."), "no resume attached"),
    (build_email(subject="Application for Head Chef", attachments=[("cv.pdf", PDF, "application/pdf")]),
     "no job matched"),
    (build_email(subject="Python Developer", attachments=[("cv.pdf", b"MZ\x90\x00 not a pdf", "application/pdf")]),
     "no resume attached"),
])
def test_mail_that_needs_a_person_is_set_aside_with_its_reason(dovecot, sandbox, config, mail, reason):
    """No resume or no job: nothing is created in the ATS; the reason is recorded and shown; mail flagged."""
    dovecot.append("INBOX", mail)
    poll(config)
    state = sandbox.state()
    assert state["cvs"] == state["applicants"] == state["candidates"] == []
    status = run_cli("status", "--config", str(config))
    assert status.code == 0
    assert "review" in status.stdout and reason in status.stdout
    [uid] = dovecot.uids("Review")
    flags = dovecot.flags("Review", uid)
    assert b"\\Flagged" in flags and b"\\Seen" not in flags


def test_quoted_printable_docx_arrives_identical(dovecot, sandbox, config):
    """A DOCX sent quoted-printable with an RFC 2231 name is uploaded byte for byte."""
    attachment = MailAttachment("Lebenslauf Jürgen.docx", DOCX, "application/octet-stream", "quoted-printable")
    dovecot.append("INBOX", build_email(subject="Customer Support Specialist", attachments=[attachment]))
    poll(config)
    [cv] = sandbox.state()["cvs"]
    assert httpx.get(f"{sandbox.base_url}/_sandbox/cvs/{cv['id']}", headers=sandbox.auth_headers()).content == DOCX
    assert cv["filename"].endswith(".docx")


def test_starttls_with_a_trusted_certificate_works(tmp_path, dovecot, sandbox):
    """security = "starttls" upgrades the plain port and checks the certificate."""
    config = write_config(tmp_path / "config.toml", imap=imap_settings(dovecot, "starttls"),
                          ats_url=sandbox.base_url, database=tmp_path / "db.sqlite")
    dovecot.append("INBOX", build_email(subject="Data Analyst", attachments=[("cv.pdf", PDF, "application/pdf")]))
    poll(config)
    assert len(sandbox.state()["candidates"]) == 1


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_untrusted_certificate_is_refused(tmp_path, dovecot, sandbox, security):
    """Without the server's CA the pass fails (exit 1) and says why; nothing is read or sent."""
    config = write_config(tmp_path / "config.toml", imap=imap_settings(dovecot, security, trust=False),
                          ats_url=sandbox.base_url, database=tmp_path / "db.sqlite")
    dovecot.append("INBOX", build_email(subject="Data Analyst", attachments=[("cv.pdf", PDF, "application/pdf")]))
    result = run_cli("poll", "--config", str(config))
    assert result.code == 1
    assert "certificate" in result.stderr and "ca_file" in result.stderr
    assert sandbox.state()["cvs"] == []
    assert len(dovecot.uids("INBOX")) == 1


def test_unreachable_mailbox_fails_the_pass(tmp_path, sandbox):
    """A mailbox that does not answer: exit 1 with a message, and the failed pass is recorded."""
    imap = {"host": "127.0.0.1", "port": 1, "security": "none", "username": "jobs", "password": "x"}
    config = write_config(tmp_path / "config.toml", imap=imap, ats_url=sandbox.base_url,
                          database=tmp_path / "db.sqlite")
    result = run_cli("poll", "--config", str(config))
    assert result.code == 1
    assert "IMAP" in result.stderr
    assert "failed" in run_cli("status", "--config", str(config)).stdout


def test_bad_config_exits_2_naming_key_and_file(tmp_path):
    """A missing key stops start-up with exit 2 and names the key and the file."""
    config = tmp_path / "config.toml"
    config.write_text('[imap]\nusername = "jobs"\npassword = "x"\n[ats]\nbase_url = "https://x"\ntoken = "t"\n')
    result = run_cli("poll", "--config", str(config))
    assert result.code == 2
    assert "imap.host" in result.stderr and str(config) in result.stderr
