"""A real Dovecot IMAP server on 127.0.0.1, owned by the tests.

`Dovecot(workdir)` writes a self-signed certificate, a passwd-file with one account, a
Maildir and a configuration into `workdir`, then runs `dovecot -F -c CONF` as a child
process in its own process group: plain IMAP (STARTTLS capable) and IMAPS (implicit TLS)
on two free loopback ports. `stop()`, `restart()` (same ports, same mail) and `kill()`
(SIGKILL of the whole group, to test reconnects) control it; the helpers deliver and
inspect mail through IMAP with imapclient.

Works as root (as on CI): Dovecot's login and mail processes drop to the `dovecot` and
`dovenull` users, so `workdir` is chowned to `dovecot` and its parents must be traversable.

A refused login is answered at once and costs later logins nothing (`auth_failure_delay = 0`,
anvil's auth-penalty listener off), so tests of wrong passwords take milliseconds.

`extra_config` is appended to the configuration, to imitate other servers: `NO_MOVE` (no
MOVE, as Courier-IMAP), `NO_UIDPLUS` (neither MOVE nor UIDPLUS) and `COURIER_NAMESPACE`
(personal folders under `INBOX.`, as Courier-IMAP). `running(extra_config)` starts one in a
temporary directory for a session-scoped fixture.

`files` are written into `workdir` beside the configuration, and `${dir}` in `extra_config`
is the work directory: `OAUTH2_PASSDB` with `oauth2_files(url)` makes a Dovecot that takes
XOAUTH2 and OAUTHBEARER logins (besides the password) and asks `url` whether a bearer token
is good (Dovecot's oauth2 passdb, RFC 7662 introspection by POST).
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path
from string import Template
from typing import IO

from imapclient import IMAPClient

from tests.serverprocess import ServerProcess, free_port, started_in_temporary_folder

INSTALL_HINT = "apt-get install -y dovecot-imapd"
STARTUP_TIMEOUT = 15.0
SHUTDOWN_TIMEOUT = 10.0
CLIENT_TIMEOUT = 10.0

CONFIG = Template("""\
base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <${dir}/cert.pem
ssl_key = <${dir}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:${dir}/mail/%u
default_login_user = dovenull
default_internal_user = dovecot
default_internal_group = dovecot
first_valid_uid = 0
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${dir}/users
}
userdb {
  driver = static
  args = uid=dovecot gid=dovecot home=${dir}/mail/%u
}
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = ${imap_port}
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = ${imaps_port}
    ssl = yes
  }
}
service anvil {
  chroot =
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
protocol imap {
  mail_max_userip_connections = 100
}
${extra}
""")

# Dovecot 2.3's own capability list after login, without MOVE (and without UIDPLUS below).
_CAPABILITIES = ("IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES "
                 "THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN "
                 "NAMESPACE LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN "
                 "CONTEXT=SEARCH LIST-STATUS BINARY SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE "
                 "SAVEDATE LITERAL+ NOTIFY")
NO_MOVE = f"imap_capability = {_CAPABILITIES} UIDPLUS\n"
NO_UIDPLUS = f"imap_capability = {_CAPABILITIES}\n"
COURIER_NAMESPACE = """\
namespace inbox {
  separator = .
  prefix = INBOX.
  inbox = yes
}
"""

OAUTH2_PASSDB = """\
auth_mechanisms = plain login xoauth2 oauthbearer
passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = ${dir}/dovecot-oauth2.conf.ext
}
"""


def oauth2_files(introspection_url: str) -> dict[str, str]:
    """The oauth2 passdb's settings: POST `token=...` to the URL; good when it answers
    `{"active": true, "username": USER}` for the user logging in."""
    return {"dovecot-oauth2.conf.ext": (f"introspection_mode = post\nintrospection_url = {introspection_url}\n"
                                        "force_introspection = yes\nusername_attribute = username\n"
                                        "active_attribute = active\nactive_value = true\n")}


_APPENDUID = re.compile(rb"\[APPENDUID (\d+) (\d+)\]")


class DovecotUnavailable(RuntimeError):
    """Dovecot (or a tool it needs) is not installed, or the server would not start."""


def _executable(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found is None:
        raise DovecotUnavailable(f"'{name}' not found; install it with: {INSTALL_HINT}")
    return found


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _make_certificate(directory: Path) -> None:
    """A self-signed certificate for localhost and 127.0.0.1 (cert.pem, key.pem)."""
    subprocess.run(
        [_executable("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes",
         "-keyout", str(directory / "key.pem"), "-out", str(directory / "cert.pem"),
         "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )


def _chown_tree(root: Path, user: str) -> None:
    """Give `root` and everything below it to `user`, so Dovecot's mail processes can write."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError as exc:
        raise DovecotUnavailable(f"system user '{user}' missing; run: {INSTALL_HINT}") from exc
    for path in [root, *root.rglob("*")]:
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _check_traversable(directory: Path) -> None:
    for parent in directory.resolve().parents:
        if not parent.stat().st_mode & 0o001:
            raise DovecotUnavailable(
                f"{parent} is not traversable by other users; Dovecot's mail processes "
                "(user dovecot) need o+x on every parent of the work directory")


class Dovecot(ServerProcess):
    """One Dovecot process on loopback with one passwd-file account and a Maildir; `stop()` is a SIGTERM to the
    master, waited for with its children (they hold the ports), `kill()` a SIGKILL to all at once."""

    host = "127.0.0.1"
    name = "Dovecot"
    shutdown_timeout = SHUTDOWN_TIMEOUT

    def __init__(
        self, workdir: Path, user: str = "jobs", password: str = "secret",  # noqa: S107 - test account
        extra_config: str = "", files: dict[str, str] | None = None,
    ) -> None:
        self.workdir = Path(workdir).resolve()
        self.extra_config = extra_config
        self.files = dict(files or {})
        self.user = user
        self.password = password
        self._ports: tuple[int, int] | None = None
        self._stderr: IO[bytes] | None = None

    # -- properties -----------------------------------------------------------------
    @property
    def imap_port(self) -> int:
        """Plain IMAP port; the server offers STARTTLS on it."""
        return self._require_ports()[0]

    @property
    def imaps_port(self) -> int:
        """IMAP over implicit TLS."""
        return self._require_ports()[1]

    @property
    def cert_path(self) -> Path:
        """The server's self-signed certificate (PEM): the file a client must trust."""
        return self.workdir / "cert.pem"

    @property
    def maildir(self) -> Path:
        """The account's Maildir (kept across restarts)."""
        return self.workdir / "mail" / self.user

    @property
    def log_path(self) -> Path:
        return self.workdir / "dovecot.log"

    def _require_ports(self) -> tuple[int, int]:
        if self._ports is None:
            raise RuntimeError("Dovecot has no ports yet: call start() first")
        return self._ports

    # -- life cycle -----------------------------------------------------------------
    def start(self) -> None:
        """Start the server (first start: set up the work dir) and wait until both ports accept."""
        self._refuse_if_running()
        dovecot = _executable("dovecot")
        if self._ports is None:
            self._set_up()
        self._stderr = (self.workdir / "stderr.log").open("ab")
        self._launch([dovecot, "-F", "-c", str(self.workdir / "dovecot.conf")], self._stderr)
        self._wait_until_listening()

    def _ended(self, pgid: int, sig: signal.Signals) -> None:
        self._wait_group_gone(pgid)
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    @staticmethod
    def _wait_group_gone(pgid: int) -> None:
        """Children (imap, imap-login) outlive the master briefly; they hold the ports."""
        deadline = time.monotonic() + SHUTDOWN_TIMEOUT
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        os.killpg(pgid, signal.SIGKILL)

    def _set_up(self) -> None:
        _executable("dovecot")
        _check_traversable(self.workdir)
        for sub in ("run", "state", "mail"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        self.workdir.chmod(0o755)
        _make_certificate(self.workdir)
        (self.workdir / "users").write_text(f"{self.user}:{{PLAIN}}{self.password}\n")
        for name, text in self.files.items():
            (self.workdir / name).write_text(text)
        ports = (free_port(), free_port())
        while ports[0] == ports[1]:
            ports = (ports[0], free_port())
        conf = CONFIG.substitute(dir=self.workdir, imap_port=ports[0], imaps_port=ports[1],
                                 extra=Template(self.extra_config).safe_substitute(dir=self.workdir))
        (self.workdir / "dovecot.conf").write_text(conf)
        _chown_tree(self.workdir, "dovecot")
        self._ports = ports

    def _wait_until_listening(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                self._process = None
                raise DovecotUnavailable(f"dovecot exited at start-up:\n{self._log_tail()}")
            if _accepts(self.imap_port) and _accepts(self.imaps_port):
                return
            time.sleep(0.05)
        self.kill()
        raise DovecotUnavailable(f"dovecot did not listen within {STARTUP_TIMEOUT}s:\n"
                                 f"{self._log_tail()}")

    def _log_tail(self, lines: int = 20) -> str:
        text = ""
        for name in ("stderr.log", "dovecot.log"):
            path = self.workdir / name
            if path.exists():
                text += "".join(path.read_text(errors="replace").splitlines(True)[-lines:])
        return text

    # -- IMAP helpers ---------------------------------------------------------------
    def ssl_context(self) -> ssl.SSLContext:
        """A default TLS context that also trusts this server's certificate."""
        return ssl.create_default_context(cafile=str(self.cert_path))

    def client(self, ssl: bool = False) -> IMAPClient:
        """A logged-in client: plain IMAP, or IMAPS trusting `cert_path` when `ssl`."""
        if ssl:
            imap = IMAPClient(self.host, port=self.imaps_port, ssl=True,
                              ssl_context=self.ssl_context(), timeout=CLIENT_TIMEOUT)
        else:
            imap = IMAPClient(self.host, port=self.imap_port, ssl=False, timeout=CLIENT_TIMEOUT)
        imap.login(self.user, self.password)
        return imap

    @contextmanager
    def _session(self) -> Iterator[IMAPClient]:
        imap = self.client()
        try:
            yield imap
        finally:
            imap.logout()

    def append(self, folder: str, raw: bytes, flags: Sequence[bytes | str] = (),
               arrived: datetime | None = None) -> int:
        """Deliver `raw` into `folder` (created if missing), arrived at `arrived` (its INTERNALDATE;
        default now); return the new message's UID."""
        with self._session() as imap:
            if not imap.folder_exists(folder):
                imap.create_folder(folder)
            response = imap.append(folder, raw, flags=tuple(flags), msg_time=arrived)
        match = _APPENDUID.search(response)
        if match is None:
            raise RuntimeError(f"no APPENDUID in the APPEND reply: {response!r}")
        return int(match.group(2))

    def uids(self, folder: str, criteria: str | Sequence[str] = "ALL") -> list[int]:
        """UID SEARCH in `folder` (read-only select), ascending."""
        with self._session() as imap:
            imap.select_folder(folder, readonly=True)
            return sorted(imap.search(criteria))

    def flags(self, folder: str, uid: int) -> tuple[bytes, ...]:
        """The flags of one message, as imapclient returns them (e.g. b'\\\\Seen')."""
        with self._session() as imap:
            imap.select_folder(folder, readonly=True)
            return tuple(imap.get_flags([uid]).get(uid, ()))

    def create_folder(self, folder: str) -> None:
        with self._session() as imap:
            imap.create_folder(folder)

    def delete_folder(self, folder: str) -> None:
        with self._session() as imap:
            imap.delete_folder(folder)

    def folder_uidvalidity(self, folder: str) -> int:
        with self._session() as imap:
            return int(imap.folder_status(folder, [b"UIDVALIDITY"])[b"UIDVALIDITY"])

    def reset(self) -> None:
        """Empty INBOX and delete every other folder (deepest first)."""
        with self._session() as imap:
            names = [name for _flags, _sep, name in imap.list_folders()]
            for name in sorted(names, key=len, reverse=True):
                if name.upper() != "INBOX":
                    imap.delete_folder(name)
            imap.select_folder("INBOX")
            uids = imap.search("ALL")
            if uids:
                imap.delete_messages(uids)
                imap.expunge()
            imap.close_folder()


def running(extra_config: str = "", files: dict[str, str] | None = None) -> AbstractContextManager[Dovecot]:
    """A Dovecot with `extra_config` (and `files`), started in its own temp dir (pytest's are not
    o+x), then removed."""
    return started_in_temporary_folder(
        "ats-inbox-dovecot-", lambda workdir: Dovecot(workdir, extra_config=extra_config, files=files))


