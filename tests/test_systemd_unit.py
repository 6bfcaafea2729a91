"""The systemd unit runs the daemon in the foreground, restarts it, keeps secrets out of the environment."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

from daemon.ops import metrics

UNIT = Path(__file__).resolve().parent.parent / "systemd" / "ats-inbox.service"


def directives() -> dict[str, list[str]]:
    """Every `Key=Value` line of the unit; repeated keys (LoadCredential=) keep all values."""
    found: dict[str, list[str]] = defaultdict(list)
    for line in UNIT.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            found[key.strip()].append(value.strip())
    return found


def test_unit_runs_the_daemon_and_restarts_it():
    """ExecStart runs `ats-inbox run` in the foreground; failures restart it."""
    unit = directives()
    assert " run " in unit["ExecStart"][0] + " "
    assert unit["Restart"] == ["on-failure"]
    assert unit["Type"][0] in {"exec", "simple", "notify"}


def test_unit_keeps_state_and_secrets_where_they_belong():
    """State in StateDirectory=, secrets by LoadCredential=, never Environment=."""
    unit = directives()
    assert unit["StateDirectory"] == ["ats-inbox"]
    assert {c.split(":")[0] for c in unit["LoadCredential"]} == {"imap-password", "ats-token"}
    assert "Environment" not in unit


def test_unit_is_hardened():
    """The usual protections are on."""
    unit = directives()
    for key, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "PrivateTmp": "yes",
                       "ProtectHome": "yes", "DynamicUser": "yes"}.items():
        assert unit[key] == [value], key


def test_unit_does_not_restart_on_a_configuration_error():
    """Exit 2 (bad configuration) is not restarted: a restart cannot fix it and would loop."""
    assert directives()["RestartPreventExitStatus"] == ["2"]


def test_unit_tells_systemd_when_it_is_ready_and_alive():
    """Type=notify with a watchdog well above the default schedule, a start timeout, and SIGHUP for reload."""
    unit = directives()
    assert unit["Type"] == ["notify"] and unit["NotifyAccess"] == ["main"]
    assert unit["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert _seconds(unit["WatchdogSec"][0]) > 2 * 60  # the default interval_seconds (60) below half of it
    assert _seconds(unit["TimeoutStartSec"][0]) >= 60


def test_unit_gives_the_daemon_descriptors_to_spare():
    """LimitNOFILE= sets soft and hard limits well above systemd's default soft 1024 (which a connection flood
    used up) and far above what the metrics listener may hold at once."""
    limits = directives()["LimitNOFILE"]
    assert len(limits) == 1
    soft, _, hard = limits[0].partition(":")
    assert int(soft) >= 8192 and int(hard or soft) >= int(soft)
    assert int(soft) > 100 * metrics.MAX_CONNECTIONS


def _seconds(value: str) -> int:
    number, unit = int(value.rstrip("minsec")), value.lstrip("0123456789")
    return number * {"min": 60, "s": 1, "": 1}[unit]


def _analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.skip("systemd-analyze is not installed")
    return found


def test_unit_passes_systemd_analyze_verify(tmp_path):
    """`systemd-analyze verify` finds nothing wrong (ats-inbox itself replaced by a stub: it is not installed here)."""
    stub = tmp_path / "ats-inbox"
    stub.write_text("#!/bin/sh\n")
    stub.chmod(0o755)
    unit = tmp_path / "ats-inbox.service"
    unit.write_text(UNIT.read_text().replace("/opt/ats-inbox/bin/ats-inbox", str(stub)))
    done = subprocess.run([_analyze(), "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "ats-inbox.service" not in done.stderr, done.stderr


def test_unit_hardening_scores_2_or_lower():
    """`systemd-analyze security --offline=true` rates the exposure at 2.0 or lower (docs/admin.md states it)."""
    done = subprocess.run([_analyze(), "security", "--offline=true", str(UNIT)], capture_output=True, text=True,
                          timeout=60, check=False)
    score = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout)
    if score is None and "offline" in done.stderr:
        pytest.skip(f"this systemd-analyze has no --offline: {done.stderr.strip()[:200]}")
    assert score, done.stdout[-2000:] + done.stderr
    assert float(score.group(1)) <= 2.0
