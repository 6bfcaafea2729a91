"""Routing rules end to end over Dovecot and the sandbox ATS, their reload in a running daemon, and a bad edit
that never stops intake (also across a restart)."""

from __future__ import annotations

import signal
import socket
import subprocess

import httpx
import pytest

from tests import invariant
from tests.e2e import cli, wait_for
from tests.mailfactory import build_email
from tests.world import PDF, World

pytestmark = pytest.mark.imap

RULES = """
[[rule]]
name = "jobs+data@ is the Data Analyst opening"
to_tag = "data"
job_code = "DATA-3"
stage = "Screening"
source = "LinkedIn"

[[rule]]
name = "the agency's candidates"
from_domain = "agency.example"
job_title = "Python Developer"
stage = "Interview"
source = "Referral"
comment = "Sent by our agency."
"""


def mail(sender: str, to: str, subject: str) -> bytes:
    return build_email(sender=("Some One", sender), to=to, subject=subject,
                       attachments=[("cv.pdf", PDF, "application/pdf")])


@pytest.fixture
def world(tmp_path, dovecot):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "10-jobs.toml").write_text(RULES)
    w = World(tmp_path, dovecot, extra=f'[rules]\npath = "{tmp_path / "rules"}"\n')
    yield w
    w.close()


def test_rules_route_mail_to_two_jobs_and_two_stages_with_a_source(world):
    """A plus-address and an agency's domain send mail to their jobs, stages and sources; the comment names the rule."""
    world.deliver(mail("ann@example.org", "jobs+data@example.com", "my CV"),
                  mail("bo@agency.example", "jobs@example.com", "candidate for you"))
    world.poll()
    state = world.sandbox.state()
    placed = sorted((str(c["job_id"]), str(c["pipeline_stage_id"]), str(c["source_id"])) for c in state["candidates"])
    assert placed == [("102", "s-eng-interview", "3"), ("103", "22", "2")]
    comments = [a["comment"] for a in state["actions"]]
    assert any("Routed by: the agency's candidates" in c and "Sent by our agency." in c for c in comments)
    rules = {r.rule for r in invariant.records(world.database)}
    assert rules == {"jobs+data@ is the Data Analyst opening", "the agency's candidates"}


def test_invalid_rules_refuse_to_start(world):
    """poll with a broken rule file: exit 2, every problem with its file and line, nothing done."""
    (world.tmp / "rules" / "20-broken.toml").write_text('[[rule]]\nname = "x"\nsubjet = "y"\njob_code = "DATA-3"\n')
    world.deliver(mail("ann@example.org", "jobs+data@example.com", "my CV"))
    result = world.poll(expect=2)
    assert "20-broken.toml:3" in result.stderr and "subject" in result.stderr
    assert world.sandbox.state()["candidates"] == []


def test_a_running_daemon_picks_up_a_rule_change_and_keeps_good_rules_over_a_broken_one(world):
    """run: an edited rule file is used for the next mail; a broken edit keeps the rules in force."""
    daemon = subprocess.Popen([*cli(), "run", "--config", str(world.config)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    try:
        world.deliver(mail("al@example.org", "jobs+data@example.com", "my CV"))
        wait_for(lambda: len(world.sandbox.state()["candidates"]) == 1)
        edited = RULES.replace('job_code = "DATA-3"', 'job_code = "SUP-2"')
        (world.tmp / "rules" / "10-jobs.toml").write_text(edited)
        world.deliver(mail("ann@example.org", "jobs+data@example.com", "my CV"))
        wait_for(lambda: len(world.sandbox.state()["candidates"]) == 2)
        (world.tmp / "rules" / "10-jobs.toml").write_text(edited + '\n[[rule]]\nname = "broken"\nsubject_regex = "("\n')
        world.deliver(mail("cy@example.org", "jobs+data@example.com", "my CV"))
        wait_for(lambda: len(world.sandbox.state()["candidates"]) == 3)
        daemon.send_signal(signal.SIGTERM)
        _, err = daemon.communicate(timeout=30)
    finally:
        daemon.kill()
    assert daemon.returncode == 0, err[-2000:]
    assert "rules.invalid" in err
    jobs = [str(c["job_id"]) for c in world.sandbox.state()["candidates"]]
    assert jobs == ["103", "104", "104"]  # the edit took effect; the broken edit did not replace it






def test_a_bad_rules_edit_and_a_restart_with_it_never_stop_intake(tmp_path, dovecot):
    """run: a broken edit turns health DEGRADED with the reason, ats_inbox_rules_valid 0 and the rules alert, while
    mail flows under the last good rules; a restart with the broken files starts and goes on alike; a fix ends it."""
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "10-jobs.toml").write_text(RULES)
    port, alerts = free_port(), tmp_path / "alerts.log"
    world = World(tmp_path, dovecot, extra=(
        f'[rules]\npath = "{tmp_path / "rules"}"\n[metrics]\nlisten = "127.0.0.1:{port}"\n'
        f"[alerts]\ncommand = [\"/bin/sh\", \"-c\", 'echo \"$1 $2\" >> {alerts}', \"alert\"]\n"))
    base = f"http://127.0.0.1:{port}"

    def healthz() -> httpx.Response | None:
        try:
            return httpx.get(base + "/healthz", timeout=5)
        except httpx.TransportError:
            return None

    def jobs() -> list[str]:
        return [str(c["job_id"]) for c in world.sandbox.state()["candidates"]]

    def said() -> list[str]:
        return alerts.read_text().splitlines() if alerts.exists() else []

    daemon = start_run(world)
    try:
        world.deliver(mail("al@example.org", "jobs+data@example.com", "my CV"))
        wait_for(lambda: jobs() == ["103"])
        (tmp_path / "rules" / "10-jobs.toml").write_text(RULES + '\n[[rule]]\nname = "broken"\nsubject_regex = "("\n')
        wait_for(lambda: (h := healthz()) is not None and h.status_code == 503)
        degraded = healthz().text
        assert degraded.startswith("DEGRADED: the rule files on disk are invalid") and "10-jobs.toml" in degraded
        assert httpx.get(base + "/livez", timeout=5).status_code == 200
        assert "ats_inbox_rules_valid 0.0" in httpx.get(base + "/metrics", timeout=5).text
        wait_for(lambda: said() == ["firing rules"])
        world.deliver(mail("bo@example.org", "jobs+data@example.com", "my CV"))
        wait_for(lambda: jobs() == ["103", "103"])  # the last good rules route it

        stop_run(daemon)
        daemon = start_run(world)  # the broken files still on disk
        wait_for(lambda: healthz() is not None)
        assert healthz().status_code == 503 and "intake goes on with the last good rules" in healthz().text
        world.deliver(mail("cy@example.org", "jobs+data@example.com", "my CV"))
        wait_for(lambda: jobs() == ["103", "103", "103"])
        wait_for(lambda: said() == ["firing rules", "firing rules"])  # a restart announces it once more

        (tmp_path / "rules" / "10-jobs.toml").write_text(RULES.replace('job_code = "DATA-3"', 'job_code = "SUP-2"'))
        wait_for(lambda: (h := healthz()) is not None and h.status_code == 200)
        assert "ats_inbox_rules_valid 1.0" in httpx.get(base + "/metrics", timeout=5).text
        wait_for(lambda: said()[-1:] == ["cleared rules"])
        world.deliver(mail("di@example.org", "jobs+data@example.com", "my CV"))
        wait_for(lambda: jobs() == ["103", "103", "103", "104"])
        stop_run(daemon)
    finally:
        daemon.kill()
        world.close()
    assert said() == ["firing rules", "firing rules", "cleared rules"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_run(world: World) -> subprocess.Popen:
    log = (world.tmp / "run.log").open("a")  # a file, not a pipe: a long log never blocks the daemon
    return subprocess.Popen([*cli(), "run", "--config", str(world.config)], stdout=subprocess.DEVNULL, stderr=log)


def stop_run(daemon: subprocess.Popen) -> None:
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=30) == 0
