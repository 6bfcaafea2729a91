"""A mail's bytes: held in memory when small, spooled to an owner-only temporary file when large.

Most mail is small and stays one `bytes` object. A large one (the mailbox decides: IMAP spools
above `SPOOL_OVER_BYTES` of RFC822.SIZE) is written to an unnamed temporary file as it arrives,
hashed (SHA-256) as it is written, and read back in windows: the structure check, the content
key and the parse scan it window by window, so the whole mail never sits in memory at once.

The file is made by `tempfile.TemporaryFile` (mode 0600, unlinked at once: nothing of it is left
on disk however the process ends) in a folder of this process's own (mode 0700, removed at exit),
and closed when the message is done (`close`, also on errors; at the latest when collected).

Windows end just after a line feed that a non-blank character follows, so that no line end, no
folded header line and no `\\n--` delimiter is cut in two; each window after the first starts one
byte before its own data (that line feed), so a pattern anchored on the line end before a line
still finds a line at the window's start. In memory, the one window is the bytes themselves.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from typing import BinaryIO

SPOOL_OVER_BYTES = 2 * 1024 * 1024  # mail larger than this is spooled to a file (the mailbox decides)
WINDOW_BYTES = 1024 * 1024  # bytes read at a time from a spooled mail
_CUT = re.compile(rb"\n(?=[^ \t\r\n])")  # a line feed a non-blank character follows: a window may end after it
_lock = threading.Lock()
_folder: list[str] = []  # this process's spool folder, made on first use


class MailBytes:
    """The raw bytes of one mail, in memory or spooled; `size`, `sha256`, windows and spans of it."""

    def __init__(self, data: bytes = b"", *, file: BinaryIO | None = None, size: int = 0, sha256: str = "",
                 window: int = WINDOW_BYTES):
        self._data, self._file, self._window = data, file, window
        self.size = size if file is not None else len(data)
        self._sha256 = sha256

    @property
    def spooled(self) -> bool:
        """Whether the bytes are in a file rather than in memory."""
        return self._file is not None

    @property
    def closed(self) -> bool:
        return self._file is not None and self._file.closed

    @property
    def sha256(self) -> str:
        """The hex SHA-256 of the bytes (of a spooled mail: computed as it was written)."""
        if not self._sha256:
            self._sha256 = hashlib.sha256(self._data).hexdigest()
        return self._sha256

    def data(self) -> bytes:
        """The bytes in memory (only of a mail that is not spooled)."""
        if self._file is not None:
            raise ValueError("a spooled mail is read in windows, not whole")
        return self._data

    def read(self, start: int, end: int) -> bytes:
        """The bytes from `start` to `end` (clipped to the mail)."""
        start, end = max(0, start), min(end, self.size)
        if end <= start:
            return b""
        if self._file is None:
            return self._data[start:end]
        self._file.seek(start)
        return self._file.read(end - start)

    def head(self, limit: int) -> bytes:
        """The first `limit` bytes (the header block is read from them)."""
        return self.read(0, limit)

    def windows(self, start: int = 0) -> Iterator[tuple[int, bytes]]:
        """(offset, bytes) windows over the bytes from `start` to the end, cut as the module docstring
        says; the first holds `start` (in memory it is all the bytes), each later one starts a byte
        before its own data."""
        if self._file is None:
            if start < self.size:
                yield 0, self._data  # the whole bytes, not a copy: the caller starts at `start`
            return
        at, carry = start, b""
        while at < self.size:
            block = carry + self.read(at, at + self._window)
            offset = at - len(carry)
            at += len(block) - len(carry)
            cut = _last_cut(block) if at < self.size else len(block)
            if cut <= 1 and at < self.size:  # no place to cut in a whole window: read on (a very long line)
                carry = block
                continue
            yield offset, block[:cut]
            carry = block[cut - 1 :]

    def pieces(self, start: int, end: int, size: int = 0) -> Iterator[bytes]:
        """The bytes from `start` to `end` in pieces of at most `size` (default: the window; cut anywhere)."""
        size = size or self._window
        for at in range(start, end, size):
            yield self.read(at, min(at + size, end))

    def find_any(self, needles: tuple[bytes, ...], start: int, end: int) -> bool:
        """Whether any of the one-byte `needles` occurs from `start` to `end`."""
        if self._file is None:
            return any(self._data.find(needle, start, end) >= 0 for needle in needles)
        return any(needle in piece for piece in self.pieces(start, end) for needle in needles)

    def close(self) -> None:
        """Let go of the bytes; a spooled mail's file is closed (and so gone)."""
        if self._file is not None:
            self._file.close()

    def __enter__(self) -> MailBytes:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _last_cut(block: bytes) -> int:
    """Where a window of `block` may end: after its last line feed that a non-blank character follows."""
    at = len(block) - 1
    while (at := block.rfind(b"\n", 0, at)) >= 0:
        if _CUT.match(block, at):
            return at + 1
    return 0


def spooled(raw: bytes, window: int = WINDOW_BYTES) -> MailBytes:
    """`raw` written to a spool file (what a mailbox does with a large mail as it arrives)."""
    with Spooler(window) as spooler:
        spooler.write(raw)
        return spooler.finish()


def as_mail(raw: bytes | MailBytes) -> MailBytes:
    """`raw` as MailBytes (bytes are wrapped, not copied)."""
    return raw if isinstance(raw, MailBytes) else MailBytes(raw)


class Spooler:
    """Writes one large mail to an owner-only temporary file, hashing it as it goes; `finish` gives
    the MailBytes to read it from. `discard` (or an error in a `with` block) closes the file."""

    def __init__(self, window: int = WINDOW_BYTES) -> None:
        self._file = tempfile.TemporaryFile(dir=spool_folder())  # noqa: SIM115 (kept open: the mail's bytes)
        os.fchmod(self._file.fileno(), 0o600)
        self._digest = hashlib.sha256()
        self._size, self._window = 0, window

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        self._digest.update(chunk)
        self._size += len(chunk)

    @property
    def size(self) -> int:
        """The bytes written so far."""
        return self._size

    def finish(self) -> MailBytes:
        self._file.flush()
        return MailBytes(file=self._file, size=self._size, sha256=self._digest.hexdigest(), window=self._window)

    def discard(self) -> None:
        self._file.close()

    def __enter__(self) -> Spooler:
        return self

    def __exit__(self, exc_type: object, *_exc: object) -> None:
        if exc_type is not None:
            self.discard()


def spool_folder() -> str:
    """This process's spool folder (mode 0700, made on first use, removed at exit)."""
    with _lock:
        if not _folder:
            _folder.append(tempfile.mkdtemp(prefix="ats-inbox-spool-"))
            atexit.register(shutil.rmtree, _folder[0], ignore_errors=True)
        return _folder[0]
