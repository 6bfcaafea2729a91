"""One place assembles the daemon from its settings; the crash hook exists only when its variable is set."""

from __future__ import annotations

import gc
from dataclasses import replace
from datetime import date

import pytest

from daemon.config import load_settings
from daemon.intake.planning import FlowOptions
from daemon.intake.runner import RunnerOptions
from daemon.ops import assembly
from daemon.ops.crash import CRASH_ENV, CrashAfter
from daemon.ops.metrics import MailboxMetrics, Metrics
from daemon.ops.notify import Notifier
from daemon.ops.service import NeverStop
from daemon.store.repository import Store


@pytest.fixture
def settings(tmp_path):
    (tmp_path / "rules").mkdir()
    config = tmp_path / "config.toml"
    config.write_text('[imap]\nhost = "127.0.0.1"\nusername = "jobs@example.org"\npassword = "p"\n'
                      'processed_folder = "Done"\n'
                      '[ats]\nbase_url = "http://127.0.0.1:1"\ntoken = "t"\nconcurrency = 3\n'
                      '[rules]\npath = "rules"\n[intake]\ninternal_senders = ["hr@example.org"]\n'
                      '[metrics]\nlisten = "127.0.0.1:9464"\n')
    return load_settings(config, environ={})


def test_the_service_takes_every_setting_from_one_place(settings):
    """The pass's options and the flow's come from the settings, the backfill date is given at assembly."""
    service = assembly.service(settings, NeverStop(), backfill_since=date(2026, 1, 2), environ={})
    try:
        assert (service.options.processed_folder, service.options.concurrency) == ("Done", 3)
        assert service.options.backfill_since == date(2026, 1, 2)
        assert service.flow_options.internal_senders == ("hr@example.org",)
        assert "jobs@example.org" in service.flow_options.own_addresses
    finally:
        service.close()


def test_no_crash_hook_unless_its_variable_is_set(settings):
    """Without ATS_INBOX_TEST_CRASH_AFTER the store is the store; with it, the store is wrapped by the hook."""
    plain = assembly.service(settings, NeverStop(), environ={})
    hooked = assembly.service(settings, NeverStop(), environ={CRASH_ENV: "candidate"})
    try:
        assert type(plain.store) is Store
        assert isinstance(hooked.store, CrashAfter) and hooked.store.step == "candidate"
    finally:
        plain.close()
        hooked.close()


def test_the_daemon_tells_metrics_of_each_pass_and_each_ats_exchange(settings):
    """With [metrics] listen, the metrics observe the passes and the ATS client reports to them, wired at build."""
    built = assembly.daemon(settings, NeverStop(), Notifier(None), environ={})
    try:
        assert isinstance(built.metrics, Metrics)
        told = [o for o in built.service.observer.observers if isinstance(o, MailboxMetrics)]
        assert [(o.metrics, o.mailbox) for o in told] == [(built.metrics, "default")]
        assert built.service.client.observe == built.metrics.ats_exchange
        assert built.health.store is built.service.store
    finally:
        built.service.close()


def test_unconfigured_options_are_the_configuration_s_defaults(tmp_path):
    """A runner or flow built without settings (the demo, the tests) behaves as a daemon whose file sets
    only what it must: each option's default is its configuration key's declared default."""
    (tmp_path / "rules").mkdir()
    config = tmp_path / "config.toml"
    config.write_text('[imap]\nhost = "127.0.0.1"\nusername = "jobs"\npassword = "p"\n'
                      '[ats]\nbase_url = "http://127.0.0.1:1"\ntoken = "t"\n[rules]\npath = "rules"\n')
    service = assembly.service(load_settings(config, environ={}), NeverStop(), environ={})
    try:
        assert replace(service.options, first_pass=None) == RunnerOptions()  # unconfigured: no first-pass window
        assert service.flow_options == FlowOptions()
    finally:
        service.close()


@pytest.fixture
def config(settings, tmp_path):
    """The settings fixture's file, with its database in `tmp_path`: for commands run through `main`."""
    path = tmp_path / "config.toml"
    path.write_text(path.read_text() + f'[database]\nurl = "sqlite:///{tmp_path / "intake.db"}"\n')
    return path


def test_a_command_that_reads_mail_builds_its_parts_without_the_collector_and_ends_with_it(config, monkeypatch):
    """`poll` builds its parts with the cyclic collector off (its collections would walk the modules and parts
    as they grow, all kept until the process ends); it is on again once they are built, and when the command
    fails before that."""
    from daemon.cli import EXIT_CONFIG, main
    from daemon.errors import ConfigError

    seen: list[bool] = []

    def services(*_args: object, **_kwargs: object) -> list[object]:
        seen.append(gc.isenabled())
        raise ConfigError("a part could not be built")

    monkeypatch.setattr(assembly, "services", services)
    assert main(["poll", "--config", str(config)]) == EXIT_CONFIG
    assert seen == [False]
    assert gc.isenabled()
    gc.disable()
    try:
        assembly.settle()
        assert gc.isenabled()
    finally:
        gc.enable()


def test_a_dry_run_reads_mail_with_the_collector_on(config, monkeypatch):
    """`poll --dry-run` builds no parts to settle: the collector stays on while it reads the mailbox."""
    from daemon.cli import EXIT_OK, main
    from daemon.intake import preview

    seen: list[bool] = []

    def run(*_args: object, **_kwargs: object) -> tuple[list[object], str]:
        seen.append(gc.isenabled())
        return [], "nothing to read"

    monkeypatch.setattr(preview, "run", run)
    assert main(["poll", "--dry-run", "--config", str(config)]) == EXIT_OK
    assert seen == [True]
