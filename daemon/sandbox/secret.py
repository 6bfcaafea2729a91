"""Where the sandbox's token comes from: --token, --token-file, or $ATS_INBOX_SANDBOX_TOKEN.

A token on the command line is visible to every user of the machine (`ps`); a file or the
environment is not. A blank, non-ASCII or unreadable token is a ConfigError (exit 2).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from daemon.errors import ConfigError

SANDBOX_TOKEN_ENV = "ATS_INBOX_SANDBOX_TOKEN"  # noqa: S105 (a variable name, not a secret)


def sandbox_token(token: str | None, token_file: Path | None,
                  environ: Mapping[str, str] = os.environ) -> str | None:
    """The token the sandbox requires, or None for none: the first of --token,
    --token-file and the environment variable that is given."""
    if token is not None:
        return _checked(token, "--token")
    if token_file is not None:
        return _checked(_read(token_file), f"--token-file {token_file}")
    if SANDBOX_TOKEN_ENV in environ:
        return _checked(environ[SANDBOX_TOKEN_ENV], f"${SANDBOX_TOKEN_ENV}")
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the sandbox token: {exc}", path=str(path)) from exc


def _checked(token: str, where: str) -> str:
    if not token.strip():
        raise ConfigError(f"the sandbox token from {where} is blank")
    if not token.isascii() or not token.isprintable() or " " in token.strip():
        raise ConfigError(f"the sandbox token from {where} must be printable ASCII without spaces")
    return token.strip()
