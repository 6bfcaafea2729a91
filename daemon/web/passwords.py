"""Local accounts' passwords: scrypt (stdlib), a random salt each, the parameters stored with the hash."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

N, R, P = 2**14, 8, 1  # about 16 MiB and some tens of milliseconds per check
PREFIX = "scrypt"
MIN_LENGTH = 10


class WeakPassword(ValueError):
    """Too short to be a password for a page with applicants' personal data."""


def hash_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_LENGTH} characters")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=N, r=R, p=P, maxmem=64 * 2**20)
    return "$".join([PREFIX, str(N), str(R), str(P), _b64(salt), _b64(digest)])


def verify(password: str, stored: str) -> bool:
    """Whether `password` matches the stored hash (constant-time; a malformed hash never matches)."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != PREFIX:
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             maxmem=64 * 2**20, dklen=len(expected))
    except ValueError:
        return False
    return hmac.compare_digest(got, expected)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
