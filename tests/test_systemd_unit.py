"""The systemd unit runs the daemon in the foreground, restarts it, keeps secrets out of the environment."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

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
