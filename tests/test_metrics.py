"""Metrics and /healthz scraped over HTTP while passes succeed, while the ATS is down and while the
mailbox refuses the login; `ats-inbox status` judges alike and exits 1 when unhealthy."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from daemon.cli import main
from daemon.config import ConfigError, load_settings
from daemon.ops.health import Health, Watch, no_success_window
from daemon.ops.metrics import Listener, Metrics
from daemon.ops.service import PassObservers
from daemon.store import open_store
from tests.inprocess import Unreachable, Wedged, application, ats_down, service_over


class Clock:
    def __init__(self):
        self.now = datetime.now(UTC)

    def __call__(self):
        return self.now


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """(name, labels) -> value, for every sample of an exposition text."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


@pytest.fixture
def scraped(tmp_path):
    """A service with metrics and a listener on a free loopback port; yields (service, sandbox, box, get, clock)."""
    box = Wedged([application(1), application(2, attach=False)])
    with service_over(tmp_path, box) as (service, sandbox):
        clock = Clock()
        watch = Watch(service.store, timedelta(minutes=15), started=clock(), clock=clock)
        metrics = Metrics(watch, lambda: service.client.breaker.is_open)
        service.client.observe = metrics.ats_exchange
        service = replace(service, observer=PassObservers(metrics))
        with Listener("127.0.0.1", 0, metrics, watch.judge) as listener:
            base = "http://{}:{}".format(*listener.address)
            yield service, sandbox, box, lambda path: httpx.get(base + path, timeout=5), clock


def test_metrics_and_healthz_while_passes_succeed(scraped):
    """Messages by outcome, ATS calls by step and status, the per-message histogram, queue, backlog, health 200."""
    service, _sandbox, _box, get, _clock = scraped
    assert get("/healthz").status_code == 200  # started, no pass yet: within the window
    service.run_pass()
    got = samples(get("/metrics").text)
    assert got[("ats_inbox_messages_total", (("mailbox", "default"), ("outcome", "submitted")))] == 1
    assert got[("ats_inbox_messages_total", (("mailbox", "default"), ("outcome", "review")))] == 1
    assert got[("ats_inbox_message_seconds_count", ())] == 2
    assert got[("ats_inbox_passes_total", (("mailbox", "default"), ("outcome", "ok")))] == 1
    assert got[("ats_inbox_ats_requests_total", (("status", "201"), ("step", "create candidate")))] == 1
    assert got[("ats_inbox_review_queue", ())] == 1 and got[("ats_inbox_backlog", ())] == 0
    assert 0 <= got[("ats_inbox_review_oldest_seconds", ())] < 60  # the set-aside mail, recorded just now
    assert got[("ats_inbox_recorded_messages", (("status", "submitted"),))] == 1
    assert 0 <= got[("ats_inbox_seconds_since_last_success", ())] < 60
    assert got[("ats_inbox_healthy", ())] == 1 and got[("ats_inbox_ats_circuit_open", ())] == 0
    health = get("/healthz")
    assert (health.status_code, health.text.split(":")[0]) == (200, "healthy")
    assert "last successful pass" in health.text


def test_metrics_and_healthz_while_the_ats_is_down(scraped):
    """Passes stopped by an outage: 503s and retries counted, the circuit open, the backlog shown; /healthz turns
    503 once no pass succeeded for the window, with the reason, and 200 again after a good pass."""
    service, sandbox, box, get, clock = scraped
    service.run_pass()
    ats_down(sandbox)
    box.messages[3] = application(3)
    assert service.run_pass().ats_down
    got = samples(get("/metrics").text)
    assert got[("ats_inbox_passes_total", (("mailbox", "default"), ("outcome", "ats down")))] == 1
    assert got[("ats_inbox_backlog", ())] == 1
    assert sum(v for (name, labels), v in got.items()
               if name == "ats_inbox_ats_requests_total" and ("status", "503") in labels) >= 5
    assert sum(v for (name, _), v in got.items() if name == "ats_inbox_ats_retries_total") >= 1
    assert got[("ats_inbox_ats_circuit_open", ())] == 1
    assert get("/healthz").status_code == 200  # down for seconds only
    clock.now += timedelta(minutes=20, seconds=30)
    health = get("/healthz")
    assert health.status_code == 503
    assert health.text.startswith("UNHEALTHY: no successful pass for 20 min (limit 15 min")
    assert samples(get("/metrics").text)[("ats_inbox_healthy", ())] == 0
    sandbox.clear_faults()
    service.client.breaker.reset()
    service.run_pass()
    clock.now = datetime.now(UTC)  # the clock moved on to the time of this pass
    assert get("/healthz").status_code == 200
    assert samples(get("/metrics").text)[("ats_inbox_backlog", ())] == 0


def test_healthz_is_503_when_the_mailbox_cannot_be_reached(tmp_path):
    """The last pass failed on the mailbox: 503 at once, naming the error; 200 once a pass gets through."""
    box = Unreachable([application(1)])
    with service_over(tmp_path, box) as (service, _sandbox):
        watch = Watch(service.store, timedelta(minutes=15), started=datetime.now(UTC))
        with Listener("127.0.0.1", 0, Metrics(watch), watch.judge) as listener:
            url = "http://{}:{}/healthz".format(*listener.address)
            with pytest.raises(Exception, match="login refused"):
                service.run_pass()
            health = httpx.get(url, timeout=5)
            assert health.status_code == 503
            assert "the last pass (#1) failed: IMAP login refused" in health.text
            box.refusing = False
            service.run_pass()
            assert httpx.get(url, timeout=5).status_code == 200


def test_only_metrics_and_healthz_are_served(scraped):
    """Any other path is a 404."""
    *_, get, _clock = scraped
    assert get("/").status_code == 404 and get("/admin").status_code == 404


# -- `ats-inbox status` ----------------------------------------------------------------------


def _config(tmp_path: Path, extra: str = "") -> Path:
    config = tmp_path / "config.toml"
    config.write_text('[imap]\nhost = "127.0.0.1"\nusername = "jobs"\npassword = "p"\n'
                      '[ats]\nbase_url = "http://127.0.0.1:1"\ntoken = "t"\n'
                      f'[database]\nurl = "sqlite:///{tmp_path / "db.sqlite"}"\n{extra}')
    return config


def _pass(store, outcome: str, error: str = "", minutes_ago: int = 0) -> None:
    pass_id = store.start_pass()
    store.finish_pass(pass_id, outcome=outcome, seen=0, submitted=0, set_aside=0, error=error)
    if minutes_ago:
        from daemon.store.models import PassRecord

        with store.session() as s:
            s.get(PassRecord, pass_id).finished_at = datetime.now(UTC) - timedelta(minutes=minutes_ago)


@pytest.mark.parametrize(("passes", "code", "said"), [
    ([], 0, "Health: healthy: no pass recorded yet"),
    ([("ok", "", 1)], 0, "Health: healthy: last successful pass"),
    ([("ok", "", 2), ("deferred", "", 1)], 0, "Health: healthy: last successful pass"),
    ([("ok", "", 30)], 1, "Health: UNHEALTHY: no successful pass for 30 min"),
    ([("ok", "", 3), ("ats down", "ATS unavailable (503)", 1)], 0, "Health: healthy"),
    ([("ok", "", 40), ("ats down", "ATS unavailable (503)", 1)], 1, "no successful pass for 40 min"),
    ([("ok", "", 2), ("failed", "IMAP login refused", 1)], 1, "the last pass (#2) failed: IMAP login refused"),
], ids=["fresh", "ok", "deferred", "stale", "ats down briefly", "ats down long", "mailbox"])
def test_status_shows_health_and_exits_1_when_unhealthy(tmp_path, capsys, passes, code, said):
    """`ats-inbox status` starts with the health line and is usable as a monitoring check."""
    config = _config(tmp_path)
    store = open_store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    for outcome, error, minutes in passes:
        _pass(store, outcome, error, minutes)
    store.close()
    assert main(["status", "--config", str(config)]) == code
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("Health: ") and said in first, first


def test_the_no_success_window_is_at_least_three_intervals():
    """An hourly schedule is not unhealthy after 15 minutes."""
    assert no_success_window(15, 60) == timedelta(minutes=15)
    assert no_success_window(15, 3600) == timedelta(hours=3)


# -- [metrics] -------------------------------------------------------------------------------


@pytest.mark.parametrize(("extra", "host", "port"), [
    ("", "", 0),
    ('[metrics]\nlisten = "127.0.0.1:9464"', "127.0.0.1", 9464),
    ('[metrics]\nlisten = "localhost:9464"', "127.0.0.1", 9464),
    ('[metrics]\nlisten = "[::1]:9464"', "::1", 9464),
    ('[metrics]\nlisten = "192.0.2.7:9464"\nallow_remote = true', "192.0.2.7", 9464),
], ids=["off", "loopback", "localhost", "ipv6 loopback", "remote allowed"])
def test_metrics_listen_addresses(tmp_path, extra, host, port):
    """Off by default; loopback addresses as given; another address only when allowed."""
    metrics = load_settings(_config(tmp_path, extra)).metrics
    assert (metrics.host, metrics.port) == (host, port)


@pytest.mark.parametrize(("listen", "said"), [
    ("0.0.0.0:9464", "reachable from other machines"),
    ("192.0.2.7:9464", "reachable from other machines"),
    ("127.0.0.1", "must be an IP address and a port"),
    ("127.0.0.1:0", "port from 1 to 65535"),
    ("metrics.example.org:9464", "must be an IP address and a port"),
])
def test_metrics_listen_refuses_what_it_should_not_take(tmp_path, listen, said):
    """A non-loopback address without allow_remote, no port, a host name: exit 2 naming metrics.listen."""
    with pytest.raises(ConfigError, match=said) as raised:
        load_settings(_config(tmp_path, f'[metrics]\nlisten = "{listen}"'))
    assert "metrics.listen" in str(raised.value)


# -- the listener under a flood ----------------------------------------------------------------

FLOOD = """
import socket, sys
held = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(int(sys.argv[2]))]
print("connected", flush=True)
sys.stdin.read()
"""


def descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def healthz_answers(url: str, within: float) -> httpx.Response:
    """The first answer /healthz gives within `within` seconds (a refused or cut connection is tried again)."""
    deadline = time.monotonic() + within
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def test_a_flood_of_idle_connections_takes_few_descriptors_and_healthz_still_answers():
    """300 connections held open without a request: the listener keeps only a few descriptors (the daemon's
    work keeps the rest), cuts each after its time, and /healthz answers again within seconds."""
    with Listener("127.0.0.1", 0, Metrics(), lambda: Health(True, ("fine",)), connections=8,
                  seconds=0.5) as listener:
        url = "http://{}:{}/healthz".format(*listener.address)
        before = descriptors()
        flood = subprocess.Popen([sys.executable, "-c", FLOOD, str(listener.address[1]), "300"],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert flood.stdout.readline() == "connected\n"
            answered = healthz_answers(url, within=10)  # the flood came first: every connection of it was taken
            held = descriptors() - before
        finally:
            flood.kill()
            flood.wait()
    assert answered.status_code == 200
    assert held <= 8 + 2, held  # the connections in hand, and httpx's own


STARVED = """
import os, resource, sys
from daemon.ops.health import Health
from daemon.ops.metrics import Listener, Metrics
resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + 16, resource.getrlimit(
    resource.RLIMIT_NOFILE)[1]))
with Listener("127.0.0.1", 0, Metrics(), lambda: Health(True, ("fine",))) as listener:
    taken = []
    try:
        while True:
            taken.append(open(os.devnull))
    except OSError:
        pass
    print(listener.address[1], flush=True)
    sys.stdin.readline()  # the daemon's own work has every descriptor until told
    for f in taken:
        f.close()
    print("freed", flush=True)
    sys.stdin.readline()
"""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_out_of_descriptors_the_listener_waits_instead_of_spinning_and_recovers():
    """With every descriptor taken by the daemon's work, connections waiting to be accepted cost no CPU; once
    descriptors are free again, /healthz answers."""
    root = Path(__file__).resolve().parent.parent
    daemon = subprocess.Popen([sys.executable, "-c", STARVED], cwd=root, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        port = int(daemon.stdout.readline())
        waiting = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
        start = cpu_seconds(daemon.pid)
        time.sleep(1.0)  # a window to measure the CPU in, not a wait for something to happen
        spent = cpu_seconds(daemon.pid) - start
        daemon.stdin.write("free\n")
        daemon.stdin.flush()
        assert daemon.stdout.readline() == "freed\n"
        for connection in waiting:
            connection.close()
        assert healthz_answers(f"http://127.0.0.1:{port}/healthz", within=10).status_code == 200
    finally:
        daemon.kill()
        daemon.wait()
    assert spent < 0.3, spent
