"""A real SMTP server in process (aiosmtpd) for the replies' tests, with a self-signed certificate as
tests/imapserver.py makes for Dovecot; every mail it accepted, kept. STARTTLS required by default; or TLS from
the first byte (`implicit_tls`), or plain text allowed (`plain`: a client that fell back to it would deliver);
with `users`, SMTP AUTH required (every login tried, kept)."""

from __future__ import annotations

import socket
import ssl
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.imapserver import _make_certificate


class _Keep:
    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server, session, envelope):
        self.mails.append(message_from_bytes(envelope.content, policy=policy.SMTP))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


class _Logins:
    """An authenticator: the logins tried (user, whether it was let in), `users` (name -> password) let in."""

    def __init__(self, users: dict[str, str]):
        self.users = users
        self.tried: list[tuple[str, bool]] = []

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = auth_data.login.decode(), auth_data.password.decode()
        ok = self.users.get(user) == password
        self.tried.append((user, ok))
        return AuthResult(success=ok, handled=False)


class SmtpServer:
    """aiosmtpd on 127.0.0.1 with a self-signed certificate for localhost and 127.0.0.1 in `workdir`."""

    def __init__(self, workdir: Path, *, tls: str = "starttls", users: dict[str, str] | None = None):
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        _make_certificate(workdir)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(workdir / "cert.pem", workdir / "key.pem")
        self.port = free_port()
        self.handler = _Keep()
        self.logins = _Logins(users or {})
        security = {"starttls": {"tls_context": context, "require_starttls": True},
                    "implicit": {"ssl_context": context}, "optional": {"tls_context": context}, "none": {}}[tls]
        auth = {"authenticator": self.logins, "auth_required": True,
                "auth_require_tls": tls != "implicit"} if users else {}  # aiosmtpd sees TLS only after STARTTLS
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **security, **auth)

    @property
    def cert_path(self) -> Path:
        return self.workdir / "cert.pem"

    @property
    def mails(self) -> list[EmailMessage]:
        return self.handler.mails

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
