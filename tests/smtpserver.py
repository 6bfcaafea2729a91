"""A real SMTP server in process (aiosmtpd) for the replies' tests: STARTTLS required, with a self-signed
certificate as tests/imapserver.py makes for Dovecot; every mail it accepted, kept."""

from __future__ import annotations

import socket
import ssl
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller

from tests.imapserver import _make_certificate


class _Keep:
    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server, session, envelope):
        self.mails.append(message_from_bytes(envelope.content, policy=policy.SMTP))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


class SmtpServer:
    """aiosmtpd on 127.0.0.1 with a self-signed certificate for localhost and 127.0.0.1 in `workdir`."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        _make_certificate(workdir)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(workdir / "cert.pem", workdir / "key.pem")
        self.port = free_port()
        self.handler = _Keep()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, tls_context=context,
                                     require_starttls=True)

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
