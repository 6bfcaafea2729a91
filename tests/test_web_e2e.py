"""End to end: `ats-inbox web` over Dovecot and the sandbox ATS, as a recruiter's browser would use it
(HTTP, a session cookie, the forms' tokens): the mail's text read from the review folder, a submit,
then the daemon's pass puts the candidate in the ATS and the mail in the processed folder."""

from __future__ import annotations

import re
import signal
import socket
import subprocess

import httpx
import pytest

from daemon.sandbox import SandboxATS
from tests.e2e import SANDBOX_TOKEN, cli, imap_settings, run_cli, wait_for, write_config
from tests.mailfactory import build_email
from tests.world import PDF

pytestmark = pytest.mark.imap


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def site(tmp_path, dovecot):
    sandbox = SandboxATS(tmp_path / "sandbox.db", token=SANDBOX_TOKEN)
    url = sandbox.start()
    port = free_port()
    for folder in ("Review", "Processed"):
        dovecot.create_folder(folder)
    imap = imap_settings(dovecot, review_folder="Review", processed_folder="Processed")
    config = write_config(tmp_path / "config.toml", imap=imap, ats_url=url, database=tmp_path / "ats-inbox.db",
                          extra=f'[web]\nlisten = "127.0.0.1:{port}"')
    try:
        added = subprocess.run([*cli(), "users", "add", "rita", "--password-stdin", "--config", str(config)],
                               input="a long test password\n", text=True, capture_output=True, timeout=60,
                               check=False)
        assert added.returncode == 0, added.stderr
        yield sandbox, dovecot, config, port, lambda: subprocess.Popen([*cli(), "web", "--config", str(config)],
                                                                      stdout=subprocess.PIPE, text=True)
    finally:
        sandbox.stop()


def test_a_recruiter_submits_a_set_aside_mail_from_the_page(site):
    """Set aside (no job in the subject), read and submitted on the page; the next pass creates the
    candidate and moves the mail from the review folder to the processed folder."""
    sandbox, dovecot, config, port, start = site
    dovecot.append("INBOX", build_email(sender=("Chef Dupont", "chef@example.org"), subject="Head Chef",
                                        body="I would like the JOB-CODE-77 job.\n",
                                        attachments=[("cv.pdf", PDF, "application/pdf")]))
    assert run_cli("poll", "--config", str(config)).code == 0
    assert len(dovecot.uids("Review")) == 1
    web = start()
    try:
        assert "review page on" in web.stdout.readline()
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, follow_redirects=True) as browser:
            form = browser.get("/login").text
            csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
            queue = browser.post("/login", data={"name": "rita", "password": "a long test password", "csrf": csrf})
            assert "Chef Dupont" in queue.text
            pk = re.search(r'href="/messages/(\d+)"', queue.text).group(1)
            page = browser.get(f"/messages/{pk}").text
            assert "JOB-CODE-77" in page  # the text, read from the review folder over IMAP
            csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
            said = browser.post(f"/messages/{pk}/submit", data={"csrf": csrf, "target": "103::Screening"}).text
            assert "mail moved back from the review folder" in said
    finally:
        web.send_signal(signal.SIGTERM)
        assert web.wait(timeout=20) == 0
    assert run_cli("poll", "--config", str(config)).code == 0
    [candidate] = sandbox.state()["candidates"]
    assert str(candidate["job_id"]) == "103"
    wait_for(lambda: len(dovecot.uids("Processed")) == 1)
    assert dovecot.uids("Review") == []
