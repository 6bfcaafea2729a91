"""The sd_notify protocol, heard on a datagram socket the test listens on, as systemd would."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from dataclasses import replace

import httpx
import pytest

from daemon.cli import main
from daemon.ops import notify
from daemon.ops.notify import Notifier, PassReport, Reload
from daemon.ops.scheduler import run_forever
from daemon.ops.service import PassObservers
from daemon.ops.stopping import StopSignal
from tests.e2e import cli
from tests.inprocess import NotifySocket, Unreachable, Wedged, application, ats_down, service_over
from tests.world import application as dovecot_application


@pytest.fixture
def listener():
    heard = NotifySocket()
    yield heard
    heard.close()


def reported(service, notifier, interval=60):
    return replace(service, observer=PassObservers(PassReport(notifier, interval)))


def test_each_message_is_one_datagram_of_key_value_lines(listener):
    """READY=1 with its status, WATCHDOG=1 when a watchdog is asked for, RELOADING=1 with a timestamp, STOPPING=1."""
    notifier = Notifier(listener.path, watchdog_seconds=30)
    notifier.ready_now("pass 1 at 10:02: 1 submitted")
    notifier.ready_now("pass 2 at 10:03: 0 submitted")  # ready once: then only the status
    notifier.progress()
    notifier.reloading()
    notifier.stopping()
    heard = listener.drain()
    assert heard[:3] == [["READY=1", "STATUS=pass 1 at 10:02: 1 submitted"], ["STATUS=pass 2 at 10:03: 0 submitted"],
                         ["WATCHDOG=1"]]
    assert heard[3][0] == "RELOADING=1" and heard[3][1].startswith("MONOTONIC_USEC=")
    assert heard[4][0] == "STOPPING=1"


def test_an_abstract_socket_is_addressed_with_a_nul():
    """NOTIFY_SOCKET="@name" is the abstract socket "\\0name"."""
    name = f"ats-inbox-test-{os.getpid()}"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind("\0" + name)
    server.settimeout(2)
    try:
        Notifier.from_environ({"NOTIFY_SOCKET": "@" + name}).status("line one\nline two")
        assert server.recv(512) == b"STATUS=line one line two"  # one line: a newline would start a new field
    finally:
        server.close()


@pytest.mark.parametrize(("environ", "enabled", "watchdog"), [
    ({}, False, None),
    ({"NOTIFY_SOCKET": "/run/x"}, True, None),
    ({"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "600000000"}, True, 600.0),
    ({"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "600000000", "WATCHDOG_PID": str(os.getpid())}, True, 600.0),
    ({"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "600000000", "WATCHDOG_PID": "1"}, True, None),
    ({"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "soon"}, True, None),
], ids=["no socket", "no watchdog", "watchdog", "watchdog for us", "watchdog for another pid", "garbled"])
def test_what_systemd_asked_for_is_read_from_the_environment(environ, enabled, watchdog):
    """$NOTIFY_SOCKET turns notify on; $WATCHDOG_USEC the watchdog, unless $WATCHDOG_PID names another process."""
    notifier = Notifier.from_environ(environ)
    assert (notifier.enabled, notifier.watchdog_seconds) == (enabled, watchdog)


def test_without_a_socket_nothing_is_sent_and_nothing_fails():
    """Outside systemd every call is a no-op."""
    notifier = Notifier.from_environ({})
    notifier.ready_now("x")
    notifier.progress()
    notifier.stopping()
    assert notifier.ready


def test_ready_after_the_first_good_pass_and_status_lines_say_what_it_did(tmp_path, listener):
    """READY=1 comes once the mailbox opened (after the first message); STATUS says what each pass did."""
    box = Wedged([application(1), application(2, attach=False)])
    with service_over(tmp_path, box) as (service, _sandbox):
        notifier = Notifier(listener.path, watchdog_seconds=600)
        service = reported(service, notifier)
        service.run_pass()
        service.run_pass()
    lines = listener.lines()
    assert lines.count("READY=1") == 1
    assert lines.index("STATUS=pass 1: working") < lines.index("READY=1")
    assert any(line.startswith("STATUS=pass 1 at ") and line.endswith(": 1 submitted, 1 set aside (2 seen)")
               for line in lines), lines
    assert any(line.startswith("STATUS=pass 2 at ") and "0 submitted" in line for line in lines), lines
    assert lines.count("WATCHDOG=1") >= 3  # two messages and two passes


def test_no_ready_while_the_mailbox_refuses_the_login(tmp_path, listener):
    """A first pass that cannot log in leaves the unit starting, saying why; the first that can says READY=1."""
    box = Unreachable([application(1)])
    with service_over(tmp_path, box) as (service, _sandbox):
        notifier = Notifier(listener.path)
        service = reported(service, notifier)
        with pytest.raises(Exception, match="login refused"):
            service.run_pass()
        lines = listener.lines()
        assert "READY=1" not in lines
        assert any(line.startswith("STATUS=starting: waiting: mailbox down since ") for line in lines), lines
        box.refusing = False
        service.run_pass()
    assert "READY=1" in listener.lines()


def test_status_says_since_when_the_ats_is_down(tmp_path, listener):
    """Passes stopped by an ATS outage: "waiting: ATS down since HH:MM", the time of the first one."""
    with service_over(tmp_path, Wedged([application(1)])) as (service, sandbox):
        ats_down(sandbox)
        service = reported(service, Notifier(listener.path))
        assert service.run_pass().ats_down
        service.run_pass()
    down = [line for line in listener.lines() if line.startswith("STATUS=waiting: ATS down since ")]
    assert len(down) == 2 and down[0][:40] == down[1][:40], down


def test_watchdog_pings_stop_while_a_pass_is_wedged_and_resume_after(tmp_path, listener):
    """A pass hung in a mailbox read: no WATCHDOG=1 from the loop, and the IDLE side's pings are held back too."""
    box = Wedged([application(1)])
    with service_over(tmp_path, box) as (service, _sandbox):
        notifier = Notifier(listener.path, watchdog_seconds=1.0)
        notify.install(notifier)
        service = reported(service, notifier)
        stop = StopSignal()
        loop = threading.Thread(target=run_forever, args=(service.run_pass, 1, stop),
                                kwargs={"after_pass": notifier.pass_done})
        loop.start()
        try:
            listener.wait_for("WATCHDOG=1")
            box.hung.set()
            assert box.entered.wait(5)
            time.sleep(0.6)  # past half the watchdog interval
            listener.drain()
            before = len(listener.messages)
            for _ in range(6):
                notify.progress()  # what the IDLE watcher calls after each round trip
                time.sleep(0.25)
            wedged = [line for message in listener.drain()[before:] for line in message]
            assert "WATCHDOG=1" not in wedged
            box.hung.clear()
            box.release.set()
            listener.wait_for("STATUS=pass 2 at ")
            before = len(listener.drain())
            notify.progress()
            assert ["WATCHDOG=1"] in listener.drain()[before:]
        finally:
            box.release.set()
            stop.request("test over")
            loop.join(10)
            notify.install(Notifier())


def test_idle_pings_are_held_back_only_while_a_pass_is_stuck(listener):
    """notify.progress() (IDLE) pings between passes and while a pass moves; not once a pass is silent for half
    the watchdog interval; again once that pass ended."""
    now = [100.0]
    notifier = Notifier(listener.path, watchdog_seconds=10)
    notifier._clock = lambda: now[0]
    sent = []
    for step in ("idle", "pass moving", "4 s later", "6 s later", "pass over"):
        if step == "pass moving":
            notifier.pass_moving()
        elif step.endswith("later"):
            now[0] += 2 if step.startswith("4") else 4
        elif step == "pass over":
            notifier.pass_done()
        before = len(listener.drain())
        notifier.side_progress()
        sent.append(["WATCHDOG=1"] in listener.drain()[before:])
    assert sent == [True, True, True, False, True]


def test_a_reload_says_reloading_at_once_and_ready_with_what_it_found(listener):
    """SIGHUP's handler sends RELOADING=1 and asks for the rules; the main loop then sends READY=1 and the result."""
    asked = []
    reload = Reload(Notifier(listener.path), lambda: asked.append(True), lambda: "reloaded: 4 rule(s)")
    reload.report()
    assert listener.drain() == []
    reload.requested()
    assert asked == [True] and listener.drain()[0][0] == "RELOADING=1"
    reload.report()
    reload.report()
    assert listener.drain()[1:] == [["READY=1", "STATUS=reloaded: 4 rule(s)"]]


def test_run_refuses_an_interval_the_watchdog_would_not_survive(tmp_path, monkeypatch, capsys):
    """interval_seconds at or above half of WatchdogSec=: exit 2, naming both."""
    config = tmp_path / "config.toml"
    config.write_text('[imap]\nhost = "127.0.0.1"\nusername = "jobs"\npassword = "p"\n'
                      '[ats]\nbase_url = "http://127.0.0.1:1"\ntoken = "t"\n[schedule]\ninterval_seconds = 300\n')
    monkeypatch.setenv("WATCHDOG_USEC", "600000000")
    assert main(["run", "--config", str(config)]) == 2
    said = capsys.readouterr().err
    assert "schedule.interval_seconds" in said and "WatchdogSec" in said


@pytest.mark.imap
def test_run_under_a_notify_socket_end_to_end(tmp_path, dovecot, listener):
    """`ats-inbox run` with NOTIFY_SOCKET: READY=1 and a status after the first pass, watchdog pings, /healthz 200,
    RELOADING=1 then READY=1 on SIGHUP, STOPPING=1 on SIGTERM, exit 0."""
    from tests.world import World

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    world = World(tmp_path, dovecot, extra=f'[metrics]\nlisten = "127.0.0.1:{port}"')
    world.deliver(dovecot_application(1))
    env = {**os.environ, "NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": "30000000"}
    process = subprocess.Popen([*cli(), "run", "--config", str(world.config)], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    try:
        listener.wait_for("READY=1", timeout=30)
        lines = listener.wait_for("STATUS=pass 1 at ", timeout=30)
        assert any(line.endswith(": 1 submitted, 0 set aside (1 seen)") for line in lines), lines
        listener.wait_for("WATCHDOG=1")
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
        assert health.status_code == 200 and health.text.startswith("healthy: ")
        assert 'ats_inbox_messages_total{mailbox="default",outcome="submitted"} 1.0' in httpx.get(
            f"http://127.0.0.1:{port}/metrics", timeout=5).text
        before = len(listener.drain())
        process.send_signal(signal.SIGHUP)
        listener.wait_for("STATUS=reloaded: ")
        after = [m[0] for m in listener.messages[before:]]
        assert after.index("RELOADING=1") < after.index("READY=1")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        assert "STOPPING=1" in listener.lines()
    finally:
        process.kill()
        stderr = process.stderr.read() if process.stderr else ""
        world.close()
    assert "daemon.stopped" in stderr
