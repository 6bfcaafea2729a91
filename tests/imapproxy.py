"""A small IMAP proxy in front of the test Dovecot that misbehaves about message bodies.

`ImapProxy(dovecot.imap_port)` listens on a free loopback port and relays plain IMAP both
ways, line by line (literals `{n}` passed through whole). It changes only a body FETCH (a
`UID FETCH ... (BODY.PEEK[])`) that asks for a UID it was told about:

- `refuse[uid] = "words"`: that UID is taken out of the FETCH sent on, and the tagged OK
  becomes `NO words` (the others' bodies still come first, as a server that cannot convert
  one message answers);
- `omit`: those UIDs are taken out of the FETCH sent on and the answer stays OK (the
  message still exists: its size and flags are read as usual);
- `trickle` (seconds a byte): every body FETCH's answer is sent a byte at a time;
  `trickling` is set once such an answer has started, so a test waits for that state.

`body_fetches` lists the UID sets of the body FETCHes the client sent, as asked.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading

_LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n$")
_BODY_FETCH = re.compile(rb"^(\S+) UID FETCH (\S+) \((.*)\)\r\n$", re.IGNORECASE)


def _uids(text: bytes) -> list[int]:
    """The UIDs of an IMAP set such as `1,3:5` (no `*`)."""
    found: list[int] = []
    for part in text.decode().split(","):
        low, _, high = part.partition(":")
        found += range(int(low), int(high or low) + 1)
    return found


class _Session:
    """One client connection and its connection to the server."""

    def __init__(self, proxy: ImapProxy, client: socket.socket):
        self.proxy, self.client = proxy, client
        self.server = socket.create_connection(("127.0.0.1", proxy.upstream_port))
        self.refused: dict[bytes, str] = {}  # tag -> the NO text that replaces its OK
        self.trickled: set[bytes] = set()  # tags whose answer trickles
        self._send = threading.Lock()

    def run(self) -> None:
        threads = [threading.Thread(target=self._guarded, args=(f,), daemon=True)
                   for f in (self._from_client, self._from_server)]
        for thread in threads:
            thread.start()

    def close(self) -> None:
        for sock in (self.client, self.server):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _guarded(self, relay) -> None:
        try:
            relay()
        except OSError:
            pass
        finally:
            self.close()

    def _to_client(self, data: bytes, slowly: bool = False) -> None:
        with self._send:
            if not slowly:
                self.client.sendall(data)
                return
            self.proxy.trickling.set()
            for i in range(len(data)):
                if self.proxy.stopped.wait(self.proxy.trickle):
                    raise OSError("proxy stopped")
                self.client.sendall(data[i:i + 1])

    def _from_client(self) -> None:
        reader = self.client.makefile("rb")
        while line := reader.readline():
            literal = _LITERAL.search(line)
            if literal:
                self.server.sendall(line + reader.read(int(literal.group(1))))
                continue
            line = self._rewrite(line)
            if line:
                self.server.sendall(line)

    def _rewrite(self, line: bytes) -> bytes:
        """The command to send on (b"" when it was answered here)."""
        command = _BODY_FETCH.match(line)
        if command is None or b"BODY.PEEK[]" not in command.group(3).upper():
            return line
        tag, asked = command.group(1), _uids(command.group(2))
        self.proxy.body_fetches.append(asked)
        if self.proxy.trickle:
            self.trickled.add(tag)
        refused = [uid for uid in asked if uid in self.proxy.refuse]
        kept = [uid for uid in asked if uid not in self.proxy.refuse and uid not in self.proxy.omit]
        if refused:
            self.refused[tag] = self.proxy.refuse[refused[0]]
        if not kept:
            self._to_client(tag + (b" NO " + self.refused.pop(tag).encode() if refused else b" OK Fetch completed.")
                            + b"\r\n")
            return b""
        return b"%s UID FETCH %s (%s)\r\n" % (tag, ",".join(map(str, kept)).encode(), command.group(3))

    def _from_server(self) -> None:
        reader = self.server.makefile("rb")
        while line := reader.readline():
            slowly = bool(self.trickled)
            literal = _LITERAL.search(line)
            if literal:
                line += reader.read(int(literal.group(1)))
            tag = line.split(b" ", 1)[0]
            if tag in self.refused and line[len(tag):].upper().startswith(b" OK"):
                line = tag + b" NO " + self.refused.pop(tag).encode() + b"\r\n"
            self.trickled.discard(tag)
            self._to_client(line, slowly)


class ImapProxy:
    """Relays plain IMAP to `upstream_port` on 127.0.0.1; see the module docstring."""

    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.refuse: dict[int, str] = {}
        self.omit: set[int] = set()
        self.trickle = 0.0
        self.trickling = threading.Event()
        self.stopped = threading.Event()
        self.body_fetches: list[list[int]] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._sessions: list[_Session] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                client, _address = self._listener.accept()
            except OSError:
                return
            session = _Session(self, client)
            self._sessions.append(session)
            session.run()

    def stop(self) -> None:
        self.stopped.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept()
        self._listener.close()
        for session in self._sessions:
            session.close()

