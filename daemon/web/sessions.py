"""Sessions in a signed cookie: who is logged in, since when, and the CSRF token of their forms.

The cookie is an HMAC-SHA256 signed JSON object; the key is random per process unless one is given
(a restart logs everyone out). A session older than its lifetime is no session. The CSRF token is
bound to the session and checked on every POST (daemon.web.app)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

COOKIE = "ats_inbox_session"


@dataclass(frozen=True, slots=True)
class Session:
    user: str  # "" before a login
    issued: float  # seconds since the epoch
    csrf: str

    @classmethod
    def fresh(cls, user: str, now: float) -> Session:
        return cls(user, now, secrets.token_urlsafe(24))


class Signer:
    def __init__(self, key: bytes | None = None, lifetime_seconds: float = 8 * 3600):
        self._key = key or secrets.token_bytes(32)
        self.lifetime = lifetime_seconds

    def dump(self, session: Session) -> str:
        body = base64.urlsafe_b64encode(json.dumps([session.user, session.issued, session.csrf]).encode())
        return f"{body.decode()}.{self._mac(body)}"

    def load(self, cookie: str | None, now: float) -> Session | None:
        """The session in the cookie; None when it is missing, forged, malformed or expired."""
        if not cookie or "." not in cookie:
            return None
        body, mac = cookie.rsplit(".", 1)
        if not hmac.compare_digest(mac, self._mac(body.encode())):
            return None
        try:
            user, issued, csrf = json.loads(base64.urlsafe_b64decode(body))
            session = Session(str(user), float(issued), str(csrf))
        except (ValueError, TypeError):
            return None
        return session if 0 <= now - session.issued <= self.lifetime else None

    def _mac(self, body: bytes) -> str:
        return hmac.new(self._key, body, hashlib.sha256).hexdigest()


def same_token(given: str, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())
