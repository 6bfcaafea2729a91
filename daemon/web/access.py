"""Who is asking (pure): a logged-in account, a person a trusted proxy names, or the local admin
when no login is configured (loopback only); and what their role lets them reach."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from daemon.domain import Role

LOCAL = "local admin"


@dataclass(frozen=True, slots=True)
class Access:
    auth: str = "accounts"  # accounts, header or none
    trusted_header: str = "X-Remote-User"
    trusted_proxies: tuple[str, ...] = ()  # empty: loopback only
    session_minutes: int = 480
    secure_cookies: bool = False

    def proxy_trusted(self, client: str) -> bool:
        try:
            address = ipaddress.ip_address(client)
        except ValueError:
            return False
        if not self.trusted_proxies:
            return address.is_loopback
        return any(address == ipaddress.ip_address(p) for p in self.trusted_proxies)


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    role: Role

    @property
    def admin(self) -> bool:
        return self.role is Role.ADMIN


class Throttle:
    """Logins that failed: after `allowed` in a row for one name, that name waits `pause` seconds
    before the next try is even checked."""

    def __init__(self, allowed: int = 5, pause: float = 60.0):
        self.allowed, self.pause = allowed, pause
        self._failed: dict[str, tuple[int, float]] = {}

    def blocked(self, name: str, now: float) -> bool:
        count, last = self._failed.get(name, (0, 0.0))
        return count >= self.allowed and now - last < self.pause

    def failed(self, name: str, now: float) -> None:
        count, _ = self._failed.get(name, (0, 0.0))
        self._failed[name] = (count + 1, now)

    def succeeded(self, name: str) -> None:
        self._failed.pop(name, None)
