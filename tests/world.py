"""A test world for fault and daemon tests: a Dovecot folder, a sandbox ATS, a config tying them."""

from __future__ import annotations

from daemon.sandbox import SandboxATS
from tests import invariant
from tests.e2e import FIXTURES, SANDBOX_TOKEN, imap_settings, run_cli, write_config
from tests.mailfactory import build_email

PDF = (FIXTURES / "resumes" / "rendercv-john-doe-classic.pdf").read_bytes()
CREATES = ("/api/v1/upload-cv-file", "/api/v1/applicant", "/api/v1/candidate", "/api/v1/candidates/{id}/actions")


def application(n: int, job: str = "Data Analyst", email: str | None = None) -> bytes:
    return build_email(sender=(f"Person {n} Example", email or f"person{n}@example.org"),
                       subject=f"Application: {job}", attachments=[(f"cv-{n}.pdf", PDF, "application/pdf")])


class World:
    """A Dovecot folder, a sandbox ATS and a config file tying them together."""

    def __init__(self, tmp_path, dovecot, folder: str = "INBOX", seed=None, extra: str = ""):
        self.tmp, self.dovecot, self.folder, self.extra = tmp_path, dovecot, folder, extra
        self.sandbox = SandboxATS(tmp_path / "sandbox.db", seed_path=seed, token=SANDBOX_TOKEN)
        self.url = self.sandbox.start()
        self.database = tmp_path / "ats-inbox.db"
        self.delivered: list[bytes] = []
        self.config = self.configure(folder)

    def configure(self, folder: str, name: str = "config.toml"):
        imap = imap_settings(self.dovecot, folder=folder, reconnect_attempts=8, processed_folder="",
                             review_folder="")
        return write_config(self.tmp / name, imap=imap, ats_url=self.url, database=self.database, extra=self.extra)

    def deliver(self, *mails: bytes, folder: str | None = None) -> None:
        for mail in mails:
            self.dovecot.append(folder or self.folder, mail)
            self.delivered.append(mail)

    def poll(self, config=None, env=None, expect: int = 0):
        result = run_cli("poll", "--config", str(config or self.config), env=env)
        assert result.code == expect, result.stderr[-3000:]
        return result

    def check(self) -> dict[str, str]:
        return invariant.check(self.sandbox.state(), self.database, self.delivered)

    def close(self) -> None:
        self.sandbox.stop()


def set_ats(world: World, key: str, value: int) -> None:
    """Add one key to the [ats] table of the world's config."""
    text = world.config.read_text().replace('source = "Email"', f'source = "Email"\n{key} = {value}')
    world.config.write_text(text)
