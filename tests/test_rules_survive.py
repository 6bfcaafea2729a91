"""A rules edit never stops intake: the last good rule set is kept in the store and used by a start with invalid
files; health, metrics, alerts and `status` say so while the files on disk are invalid."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from daemon.cli import main
from daemon.ops.alerts import CLEARED, FIRING, RULES, Alerting
from daemon.ops.health import Facts, Watch, assess
from daemon.ops.metrics import Listener, Metrics
from daemon.routing.live import LiveRules, RulesState, on_disk
from daemon.routing.ruleset import RulesInvalid, load_rules
from daemon.store import open_store
from daemon.store.kept_rules import RulesKeeper
from tests.test_alerts import Outbox
from tests.test_metrics import samples

T0 = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
GOOD = '[[rule]]\nname = "data"\nsubject = "data"\njob_code = "DATA-3"\n'
OTHER = '[[rule]]\nname = "support"\nsubject = "support"\njob_code = "SUP-2"\n'
BROKEN = '[[rule]]\nname = "broken"\nsubjet = "x"\njob_code = "DATA-3"\n'


def write(folder, text, name="10-jobs.toml"):
    """Write a rule file whose times move on (an edit within the same clock tick is still seen)."""
    path = folder / name
    path.write_text(text)
    later = path.stat().st_mtime_ns + 10**9
    os.utime(path, ns=(later, later))


@pytest.fixture
def store(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'daemon.db'}")
    yield store
    store.close()


@pytest.fixture
def rules(tmp_path):
    folder = tmp_path / "rules"
    folder.mkdir()
    write(folder, GOOD)
    return folder


def test_a_valid_set_is_kept_in_the_store_as_it_was_read(store, rules):
    """Starting with valid files keeps their text and fingerprint in the database."""
    live = LiveRules(rules, keeper=RulesKeeper(store, str(rules)), clock=lambda: T0)
    kept = RulesKeeper(store, str(rules)).last_good()
    assert kept is not None and kept.fingerprint == live.rules.fingerprint
    assert kept.files == (("10-jobs.toml", GOOD),)
    assert live.state() == RulesState(live.rules.fingerprint, kept.accepted_at)


def test_a_start_with_invalid_files_runs_with_the_last_good_set(store, rules, caplog):
    """A restart after a bad edit runs with the kept rules and says the files on disk are invalid."""
    good = LiveRules(rules, keeper=RulesKeeper(store, str(rules))).rules
    write(rules, BROKEN)
    with caplog.at_level(logging.ERROR):
        live = LiveRules(rules, keeper=RulesKeeper(store, str(rules)))
    assert live.rules == good and [r.name for r in live.rules.rules] == ["data"]
    state = live.state()
    assert not state.valid and state.fingerprint == good.fingerprint
    assert "10-jobs.toml:3" in state.problems[0] and "subjet" in state.problems[0]
    assert any(r.message == "rules.invalid" for r in caplog.records)


def test_the_very_first_start_with_invalid_files_is_refused(store, rules):
    """Invalid files and no set kept: RulesInvalid (exit 2), nothing to run with."""
    write(rules, BROKEN)
    with pytest.raises(RulesInvalid):
        LiveRules(rules, keeper=RulesKeeper(store, str(rules)))


def test_the_kept_set_belongs_to_its_folder(store, rules, tmp_path):
    """Another rules folder in the same database does not start with this folder's set."""
    LiveRules(rules, keeper=RulesKeeper(store, str(rules)))
    other = tmp_path / "other"
    other.mkdir()
    write(other, BROKEN)
    with pytest.raises(RulesInvalid):
        LiveRules(other, keeper=RulesKeeper(store, str(other)))


def test_a_change_is_noticed_by_the_watch_without_a_message(store, rules, caplog):
    """check() (the main loop's chore) reads a change at once: invalid, then fixed; each logged once."""
    live = LiveRules(rules, keeper=RulesKeeper(store, str(rules)))
    first = live.rules.fingerprint
    write(rules, BROKEN)
    with caplog.at_level(logging.INFO):
        live.check()
        live.check()
    assert [r.message for r in caplog.records if r.message.startswith("rules.")] == ["rules.invalid"]
    assert not live.state().valid and live.state().fingerprint == first
    caplog.clear()
    write(rules, OTHER)
    with caplog.at_level(logging.INFO):
        live.check()
    assert [r.message for r in caplog.records if r.message.startswith("rules.")] == ["rules.reloaded"]
    assert live.state().valid and live.state().fingerprint != first
    assert RulesKeeper(store, str(rules)).last_good().files == (("10-jobs.toml", OTHER),)


def test_putting_back_the_rules_in_force_ends_the_invalid_state(store, rules, caplog):
    """A broken edit undone (the files as they were) is valid again and logged as such."""
    live = LiveRules(rules, keeper=RulesKeeper(store, str(rules)))
    write(rules, BROKEN)
    live.check()
    write(rules, GOOD)
    with caplog.at_level(logging.INFO):
        live.check()
    assert live.state().valid and "rules.reloaded" in [r.message for r in caplog.records]


def test_a_kept_set_is_the_rule_set_its_text_was_when_read_from_disk(store, rules):
    """The rules read back from the store are those of the files: same rules, same fingerprint."""
    write(rules, OTHER, name="20-more.toml")
    from_disk = load_rules(rules)
    RulesKeeper(store, str(rules)).keep(from_disk.fingerprint, from_disk.texts)
    for path in rules.iterdir():
        path.unlink()
    write(rules, BROKEN)
    kept = LiveRules(rules, keeper=RulesKeeper(store, str(rules))).rules
    assert (kept.rules, kept.fingerprint, kept.files) == (from_disk.rules, from_disk.fingerprint, from_disk.files)


# -- health, metrics and alerts ------------------------------------------------------------------------------


FACTS = Facts(last_success=T0, last_finished=None, review_queue=0, backlog=0, counts={})
INVALID = RulesState("abc123", T0 - timedelta(hours=2), ("rules/10-jobs.toml:3: unknown key 'subjet'", "another"))


@pytest.mark.parametrize(("rules", "ok", "line"), [
    (None, True, "healthy: "),
    (RulesState("abc123", T0), True, "healthy: "),
    (INVALID, False, "DEGRADED: the rule files on disk are invalid: rules/10-jobs.toml:3: unknown key 'subjet' "
                     "(and 1 more); intake goes on with the last good rules (abc123, accepted 2 h 0 min ago)"),
    (RulesState("", None, ("x.toml:1: bad",)), False, "DEGRADED: the rule files on disk are invalid: x.toml:1: bad; "
                                                      "no good rule set is kept"),
])
def test_invalid_rule_files_make_health_degraded(rules, ok, line):
    """Healthy passes with invalid files on disk: degraded (still healthy for a liveness check), with the reason."""
    health = assess(FACTS, T0 + timedelta(seconds=30), timedelta(minutes=15), T0, rules)
    assert health.healthy and health.ok == ok and health.rules_invalid == (not ok)
    assert health.line().startswith(line)


def test_unhealthy_and_degraded_says_both():
    """A stale daemon with invalid files: UNHEALTHY first, the rules after."""
    health = assess(FACTS, T0 + timedelta(hours=1), timedelta(minutes=15), T0, INVALID)
    assert not health.healthy and health.line().startswith("UNHEALTHY: no successful pass")
    assert "the rule files on disk are invalid" in health.line()


def test_healthz_livez_and_metrics_while_the_files_are_invalid(store):
    """/healthz 503 DEGRADED with the reason, /livez 200, ats_inbox_rules_valid 0, the set in force; fixed: 200, 1."""
    state = [INVALID]
    watch = Watch(store, timedelta(minutes=15), started=T0, clock=lambda: T0, rules=lambda: state[0])
    metrics = Metrics(watch)
    with Listener("127.0.0.1", 0, metrics, watch.judge) as listener:
        base = "http://{}:{}".format(*listener.address)
        health = httpx.get(base + "/healthz", timeout=5)
        assert health.status_code == 503 and health.text.startswith("DEGRADED: the rule files on disk are invalid")
        assert "10-jobs.toml:3" in health.text
        assert httpx.get(base + "/livez", timeout=5).status_code == 200
        got = samples(httpx.get(base + "/metrics", timeout=5).text)
        assert got[("ats_inbox_rules_valid", ())] == 0 and got[("ats_inbox_healthy", ())] == 0
        assert got[("ats_inbox_rules_info", (("fingerprint", "abc123"),))] == 1
        assert got[("ats_inbox_rules_age_seconds", ())] == 7200
        state[0] = RulesState("def456", T0)
        assert httpx.get(base + "/healthz", timeout=5).status_code == 200
        got = samples(httpx.get(base + "/metrics", timeout=5).text)
        assert got[("ats_inbox_rules_valid", ())] == 1 and got[("ats_inbox_healthy", ())] == 1
        assert ("ats_inbox_rules_info", (("fingerprint", "abc123"),)) not in got


def test_the_rules_alert_is_raised_at_once_when_the_files_turn_invalid_and_cleared_when_fixed(store):
    """The next tick after the change raises (not `every` seconds later), once; a valid edit clears it."""
    state, outbox, now = [RulesState("abc123", T0)], Outbox(), [0.0]
    watch = Watch(store, timedelta(minutes=15), started=datetime.now(UTC), rules=lambda: state[0])
    alerting = Alerting([outbox], every=15, clock=lambda: now[0])
    alerting.tick(watch)
    state[0] = INVALID
    now[0] = 1.0
    alerting.tick(watch)
    assert outbox.said() == [(RULES, FIRING)]
    for second in (2, 3, 20, 40):
        now[0] = float(second)
        alerting.tick(watch)
    assert outbox.said() == [(RULES, FIRING)]
    assert "10-jobs.toml:3" in outbox.alerts[0].summary
    now[0] = 41.0
    state[0] = RulesState("def456", T0)
    alerting.tick(watch)
    assert outbox.said() == [(RULES, FIRING), (RULES, CLEARED)]


# -- ats-inbox status --------------------------------------------------------------------------------------


def status_config(tmp_path, rules):
    config = tmp_path / "config.toml"
    config.write_text(f'[imap]\nhost = "127.0.0.1"\nusername = "jobs"\npassword = "p"\n'
                      f'[ats]\nbase_url = "http://127.0.0.1:1"\ntoken = "t"\n'
                      f'[database]\nurl = "sqlite:///{tmp_path / "daemon.db"}"\n[rules]\npath = "{rules}"\n')
    return config


def test_status_exits_3_while_the_files_are_invalid_and_names_the_rules_in_force(tmp_path, store, rules, capsys):
    """`status`: exit 0 with valid files, 3 (degraded) with invalid ones and the set a daemon runs with named."""
    config = status_config(tmp_path, rules)
    kept = LiveRules(rules, keeper=RulesKeeper(store, os.path.abspath(rules))).rules
    assert main(["status", "--config", str(config)]) == 0
    write(rules, BROKEN)
    capsys.readouterr()
    assert main(["status", "--config", str(config)]) == 3
    out = capsys.readouterr().out
    assert out.startswith("Health: DEGRADED: the rule files on disk are invalid")
    assert f"The daemon runs with the last good rule set ({kept.fingerprint}" in out
    assert on_disk(rules, RulesKeeper(store, os.path.abspath(rules))).fingerprint == kept.fingerprint


def test_status_with_invalid_files_and_nothing_kept_says_a_start_is_refused(tmp_path, rules, capsys):
    """A fresh install with broken rules: exit 3 and the line says poll and run will not start."""
    write(rules, BROKEN)
    assert main(["status", "--config", str(status_config(tmp_path, rules))]) == 3
    assert "No good rule set is kept: `poll` and `run` refuse to start" in capsys.readouterr().out


def test_a_rules_change_whose_check_could_not_read_the_database_is_checked_at_the_next_tick(store):
    """The database busy at the tick after the change: the next tick (not `every` seconds later) raises the alert."""
    from daemon.errors import StoreBusy

    busy = []  # one entry per read to refuse

    class Busy(Watch):
        def facts(self):
            if busy:
                busy.pop()
                raise StoreBusy("database is locked")
            return super().facts()

    state, outbox, now = [RulesState("abc123", T0)], Outbox(), [0.0]
    watch = Busy(store, timedelta(minutes=15), started=datetime.now(UTC), rules=lambda: state[0])
    alerting = Alerting([outbox], every=15, clock=lambda: now[0])
    alerting.tick(watch)
    state[0], busy[:] = INVALID, [True]
    for second in (1, 2):
        now[0] = float(second)
        alerting.tick(watch)
    assert outbox.said() == [(RULES, FIRING)]


def test_two_daemons_keeping_the_first_set_at_once_both_go_on(store_url, monkeypatch):
    """Two instances starting together on one database both find no kept set and both insert it: the one that loses
    the race reads the other's row and keeps its own set, instead of failing its start (SQLite and PostgreSQL)."""
    from sqlalchemy.orm import Session

    from daemon.store.models import KeptRules

    first, second = open_store(store_url), open_store(store_url)
    try:
        RulesKeeper(first, "/etc/ats-inbox/rules").keep("aaaa", [("10-jobs.toml", GOOD)])
        real_get, hidden = Session.get, []

        def unseen_once(session, entity, *args, **kwargs):  # the other's row not visible yet to this transaction
            if entity is KeptRules and not hidden:
                hidden.append(True)
                return None
            return real_get(session, entity, *args, **kwargs)

        monkeypatch.setattr(Session, "get", unseen_once)
        RulesKeeper(second, "/etc/ats-inbox/rules").keep("bbbb", [("10-jobs.toml", OTHER)])
        monkeypatch.undo()
        kept = RulesKeeper(first, "/etc/ats-inbox/rules").last_good()
        assert hidden and kept is not None and kept.fingerprint == "bbbb"
    finally:
        first.close()
        second.close()
