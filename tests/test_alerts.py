"""Alerts: once when an incident starts, once when it is over, never a storm; a command (no shell) and a
webhook (JSON) carry them."""

from __future__ import annotations

import contextlib
import json
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from daemon.config import ConfigError, load_settings
from daemon.errors import MailboxUnavailable
from daemon.ops.alerts import (
    CLEARED,
    FIRING,
    MAILBOX,
    NO_SUCCESS,
    REVIEW_QUEUE,
    REVIEW_WAITING,
    Alert,
    Alerting,
    AlertNotSent,
    CommandSender,
    Incidents,
    Thresholds,
    WebhookSender,
)
from daemon.ops.health import Facts, Health, Watch
from daemon.ops.service import PassObservers
from tests.inprocess import Unreachable, application, service_over

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


class Outbox:
    """A sender that keeps what it is given; fails while `failing`."""

    name = "test"

    def __init__(self):
        self.alerts: list[Alert] = []
        self.failing = False

    def send(self, alert):
        if self.failing:
            raise AlertNotSent("the pager is down")
        self.alerts.append(alert)

    def said(self):
        return [(a.kind, a.state) for a in self.alerts]


def facts(review=0):
    return Facts(last_success=T0, last_finished=None, review_queue=review, backlog=0, counts={})


HEALTHY = Health(True, ("last successful pass 10 s ago",))
STALE = Health(False, ("no successful pass for 20 min (limit 15 min)",), stale=True)


def test_incidents_fire_once_and_clear_once():
    """The same condition seen again and again opens one incident; its end clears it once; a new one fires again."""
    incidents = Incidents()
    seen = []
    for conditions in ({}, {NO_SUCCESS: "a"}, {NO_SUCCESS: "a, later"}, {NO_SUCCESS: "b"}, {}, {}, {NO_SUCCESS: "c"}):
        seen += [(a.kind, a.state, a.summary) for a in incidents.update(conditions, T0)]
    assert seen == [(NO_SUCCESS, FIRING, "a"), (NO_SUCCESS, CLEARED, "over: a"), (NO_SUCCESS, FIRING, "c")]


def test_each_kind_is_its_own_incident():
    """Two incidents at once: each fires and clears on its own."""
    incidents = Incidents()
    first = incidents.update({NO_SUCCESS: "x", REVIEW_QUEUE: "y"}, T0)
    second = incidents.update({REVIEW_QUEUE: "y"}, T0)
    assert {(a.kind, a.state) for a in first} == {(NO_SUCCESS, FIRING), (REVIEW_QUEUE, FIRING)}
    assert [(a.kind, a.state) for a in second] == [(NO_SUCCESS, CLEARED)]


def test_no_pass_succeeding_alerts_once_while_it_lasts_and_once_when_over():
    """Checked every few seconds for an hour of outage: two alerts in all."""
    outbox = Outbox()
    alerting = Alerting([outbox])
    for minute in range(120):
        health = STALE if 20 <= minute < 80 else HEALTHY
        alerting.check(health, facts(), T0 + timedelta(minutes=minute))
    assert outbox.said() == [(NO_SUCCESS, FIRING), (NO_SUCCESS, CLEARED)]
    assert outbox.alerts[0].summary.startswith("no successful pass for 20 min")
    assert outbox.alerts[1].since == T0 + timedelta(minutes=20)


def test_the_review_queue_alerts_above_its_threshold():
    """More than review_queue_above waiting for a person: one alert; back at or below: cleared; 0 turns it off."""
    outbox = Outbox()
    alerting = Alerting([outbox], Thresholds(review_queue_above=3))
    for size in (1, 3, 4, 9, 5, 3, 2):
        alerting.check(HEALTHY, facts(review=size), T0)
    assert outbox.said() == [(REVIEW_QUEUE, FIRING), (REVIEW_QUEUE, CLEARED)]
    assert "4 messages wait for a person" in outbox.alerts[0].summary
    off = Outbox()
    Alerting([off], Thresholds(review_queue_above=0)).check(HEALTHY, facts(review=500), T0)
    assert off.alerts == []


def test_the_oldest_set_aside_mail_alerts_once_it_waited_longer_than_the_setting():
    """The oldest review mail waiting more than oldest_waiting_hours: one alert; settled: cleared; 0 turns it off."""
    outbox = Outbox()
    alerting = Alerting([outbox], Thresholds(oldest_waiting_hours=48))
    waiting = Facts(last_success=T0, last_finished=None, review_queue=1, backlog=0, counts={}, oldest_waiting=T0)
    for hours in (1, 47, 49, 60):
        alerting.check(HEALTHY, waiting, T0 + timedelta(hours=hours))
    alerting.check(HEALTHY, facts(), T0 + timedelta(hours=61))
    assert outbox.said() == [(REVIEW_WAITING, FIRING), (REVIEW_WAITING, CLEARED)]
    assert "more than 48 h" in outbox.alerts[0].summary
    off = Outbox()
    Alerting([off], Thresholds(oldest_waiting_hours=0)).check(HEALTHY, waiting, T0 + timedelta(days=99))
    assert off.alerts == []


def test_login_failures_alert_after_so_many_passes_in_a_row_and_clear_on_a_good_one(tmp_path):
    """The mailbox refusing the login: nothing for the first two passes, one alert on the third, one when it works."""
    box = Unreachable([application(1)])
    outbox = Outbox()
    alerting = Alerting([outbox], Thresholds(login_failures=3))
    with service_over(tmp_path, box) as (service, _sandbox):
        service = replace(service, observer=PassObservers(alerting))
        watch = Watch(service.store, timedelta(minutes=15), started=datetime.now(UTC))
        said = []
        for attempt in range(5):
            if attempt == 4:
                box.refusing = False
            with contextlib.suppress(MailboxUnavailable):  # the pass failing is the point
                service.run_pass()
            alerting.check(watch.judge(), watch.facts(), datetime.now(UTC))
            said.append(outbox.said())
    assert said[1] == [] and said[2] == [(MAILBOX, FIRING)] and said[3] == [(MAILBOX, FIRING)]
    assert said[4] == [(MAILBOX, FIRING), (MAILBOX, CLEARED)]
    assert "3 passes in a row could not use the mailbox: IMAP login refused" in outbox.alerts[0].summary


@pytest.mark.parametrize(("error", "counts"), [
    (ConfigError("the provider refused the refresh token", key="imap.oauth2_refresh_token_file"), True),
    (MailboxUnavailable("connection refused"), True),
    (ConfigError("token refused", key="ats.token"), False),
    (RuntimeError("a bug"), False),
], ids=["refresh token refused", "imap down", "ats token", "bug"])
def test_what_counts_as_a_login_failure(error, counts):
    """The mailbox unreachable or refusing the login, a revoked OAuth2 refresh token too; not other failures."""
    outbox = Outbox()
    alerting = Alerting([outbox], Thresholds(login_failures=2))
    for pass_id in (1, 2):
        alerting.pass_ended(pass_id, None, error)
    alerting.check(HEALTHY, facts(), T0)
    assert outbox.said() == ([(MAILBOX, FIRING)] if counts else [])


def test_a_failed_delivery_is_tried_again_then_dropped():
    """The sender failing: tried at the next checks, three times in all, then dropped; nothing is sent twice."""
    outbox = Outbox()
    alerting = Alerting([outbox])
    outbox.failing = True
    alerting.check(STALE, facts(), T0)
    alerting.check(STALE, facts(), T0)
    outbox.failing = False
    alerting.check(STALE, facts(), T0)
    alerting.check(STALE, facts(), T0)
    assert outbox.said() == [(NO_SUCCESS, FIRING)]
    outbox.failing = True
    for _ in range(5):
        alerting.check(HEALTHY, facts(), T0)
    assert alerting.outbox == []


def test_tick_checks_at_most_every_so_often(tmp_path):
    """The main loop calls tick every second; the database is read every `every` seconds."""
    from daemon.store import open_store

    store = open_store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    reads = []

    class Counting(Watch):
        def facts(self):
            reads.append(1)
            return super().facts()

    now = [0.0]
    alerting = Alerting([], every=15, clock=lambda: now[0])
    watch = Counting(store, timedelta(minutes=15), started=datetime.now(UTC))
    for second in range(60):
        now[0] = float(second)
        alerting.tick(watch)
    store.close()
    assert len(reads) == 4


# -- the senders -----------------------------------------------------------------------------


def test_the_command_gets_the_alert_as_arguments_and_environment_without_a_shell(tmp_path):
    """argv + [state, kind, summary]; ATS_INBOX_ALERT_* set; no secrets, no systemd socket; `;` is just a character."""
    record = tmp_path / "alert.json"
    script = tmp_path / "page.py"
    script.write_text("import json, os, sys\n"
                      f"json.dump({{'argv': sys.argv[1:], 'env': dict(os.environ)}}, open({str(record)!r}, 'w'))\n")
    environ = {"PATH": "/usr/bin:/bin", "ATS_INBOX_ATS_TOKEN": "secret-token", "NOTIFY_SOCKET": "/run/systemd/notify"}
    sender = CommandSender([sys.executable, str(script), "--team", "hr"], timeout=10, environ=environ)
    sender.send(Alert(NO_SUCCESS, FIRING, "no pass; rm -rf /tmp/x", T0))
    got = json.loads(record.read_text())
    assert got["argv"] == ["--team", "hr", FIRING, NO_SUCCESS, "no pass; rm -rf /tmp/x"]
    assert got["env"]["ATS_INBOX_ALERT_KIND"] == NO_SUCCESS and got["env"]["ATS_INBOX_ALERT_STATE"] == FIRING
    assert got["env"]["ATS_INBOX_ALERT_SINCE"] == T0.isoformat()
    assert "ATS_INBOX_ATS_TOKEN" not in got["env"] and "NOTIFY_SOCKET" not in got["env"]


def test_the_command_gets_only_the_allowed_environment(tmp_path):
    """Only PATH, locale, time zone, home and user pass to the command, with ATS_INBOX_ALERT_*: no secret of
    any name (OAuth2 refresh token, client secret, webhook, a variable someone added), no credentials folder."""
    record = tmp_path / "env.json"
    script = tmp_path / "page.py"
    script.write_text(f"import json, os\njson.dump(dict(os.environ), open({str(record)!r}, 'w'))\n")
    allowed = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LC_TIME": "de_DE.UTF-8", "TZ": "Europe/Berlin",
               "HOME": "/var/lib/ats-inbox", "USER": "ats-inbox"}
    secrets = {"ATS_INBOX_IMAP_OAUTH2_REFRESH_TOKEN": "refresh-secret", "ATS_INBOX_IMAP_OAUTH2_CLIENT_SECRET":
               "client-secret", "ATS_INBOX_IMAP_PASSWORD": "imap-secret", "ATS_INBOX_ATS_TOKEN": "ats-secret",
               "ATS_INBOX_CONFIG": "/etc/ats-inbox/config.toml", "CREDENTIALS_DIRECTORY": "/run/credentials/x",
               "WEBHOOK_TOKEN": "hook-secret", "AWS_SECRET_ACCESS_KEY": "aws-secret", "LD_PRELOAD": "/tmp/evil.so",
               "PYTHONPATH": "/tmp", "WATCHDOG_USEC": "600000000", "NOTIFY_SOCKET": "/run/systemd/notify"}
    CommandSender([sys.executable, str(script)], timeout=10, environ={**allowed, **secrets}).send(
        Alert(MAILBOX, FIRING, "x", T0))
    got = json.loads(record.read_text())
    assert {k: v for k, v in got.items() if not k.startswith("ATS_INBOX_ALERT_")} == allowed
    assert not set(secrets.values()) & set(got.values())


@pytest.mark.parametrize(("argv", "said"), [
    (["/bin/false"], "exited 1"),
    (["/nonexistent/page-me"], "FileNotFoundError"),
    ([sys.executable, "-c", "import time; time.sleep(5)"], "TimeoutExpired"),
], ids=["fails", "missing", "hangs"])
def test_a_command_that_fails_is_not_sent(argv, said):
    """A non-zero exit, a missing program or a command past its timeout: AlertNotSent, saying which."""
    with pytest.raises(AlertNotSent, match=said):
        CommandSender(argv, timeout=0.3).send(Alert(MAILBOX, FIRING, "x", T0))


def test_the_webhook_gets_the_alert_as_json():
    """One POST with service, host, kind, state, summary and since; a 2xx is delivered, anything else is not."""
    posted = []

    def answer(request: httpx.Request) -> httpx.Response:
        posted.append((request.method, str(request.url), json.loads(request.content)))
        return httpx.Response(204 if len(posted) == 1 else 500)

    sender = WebhookSender("https://hooks.example.org/T0/secret", timeout=5, transport=httpx.MockTransport(answer))
    sender.send(Alert(REVIEW_QUEUE, FIRING, "30 messages wait for a person", T0))
    with pytest.raises(AlertNotSent, match="500") as raised:
        sender.send(Alert(REVIEW_QUEUE, CLEARED, "over", T0))
    method, url, body = posted[0]
    assert (method, url) == ("POST", "https://hooks.example.org/T0/secret")
    assert body == {"service": "ats-inbox", "host": sender.host, "kind": REVIEW_QUEUE, "state": FIRING,
                    "summary": "30 messages wait for a person", "since": T0.isoformat()}
    assert "secret" not in str(raised.value)


# -- [alerts] --------------------------------------------------------------------------------


def _config(tmp_path, alerts: str):
    config = tmp_path / "config.toml"
    config.write_text('[imap]\nhost = "127.0.0.1"\nusername = "jobs"\npassword = "p"\n'
                      f'[ats]\nbase_url = "http://127.0.0.1:1"\ntoken = "t"\n[alerts]\n{alerts}\n')
    return config


def test_alerts_settings_are_read(tmp_path):
    """The command as a list, the webhook URL from a file, the thresholds; the URL never in the repr."""
    (tmp_path / "hook").write_text("https://hooks.example.org/T0/secret\n")
    settings = load_settings(_config(tmp_path, 'command = ["/usr/local/bin/page", "-t", "hr"]\n'
                                               'webhook_url_file = "hook"\nreview_queue_above = 5\n'
                                               'login_failures = 2\ntimeout_seconds = 3')).alerts
    assert settings.command == ("/usr/local/bin/page", "-t", "hr")
    assert settings.webhook_url == "https://hooks.example.org/T0/secret"
    assert (settings.review_queue_above, settings.login_failures, settings.timeout_seconds) == (5, 2, 3.0)
    assert "secret" not in repr(settings)


@pytest.mark.parametrize(("alerts", "key", "said"), [
    ('webhook_url = "http://hooks.example.org/x"', "alerts.webhook_url", "https://"),
    ('webhook_url = "not a url"', "alerts.webhook_url", "https://"),
    ('command = [""]', "alerts.command", "must start with the program"),
    ('command = "/usr/bin/page-me --now"', "alerts.command", "list of strings"),
    ("review_queue_above = -1", "alerts.review_queue_above", "between 0"),
])
def test_alerts_settings_refuse_what_they_should_not_take(tmp_path, alerts, key, said):
    """A plain-http webhook to another host, a command as one string (it would need a shell): exit 2 naming the key."""
    with pytest.raises(ConfigError, match=said) as raised:
        load_settings(_config(tmp_path, alerts))
    assert key in str(raised.value)
