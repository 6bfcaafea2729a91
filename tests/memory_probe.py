"""Peak memory of the daemon's per-message work on one mail file, printed as JSON.

    python -m tests.memory_probe MAIL_FILE

Meant for a fresh interpreter (see `tests/test_memory.py`), so that its peak RSS (VmHWM) is this
mail's peak and nothing else's. The baseline is taken after the imports and before the
mail is read. Output: {"baseline_kib", "peak_kib", "size", "outcome", "seconds"}.
`write_mail` writes the test mails piece by piece, so the writer never holds one whole.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from daemon.errors import UnparseableMail
from daemon.mail.identity import content_key
from daemon.mail.parsing import parse_email

_HEADERS = b"From: Jane Doe <jane@example.com>\r\nSubject: Application\r\nMessage-ID: <probe@example.com>\r\n"
_MIXED = b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'


def _parts_bomb() -> Iterator[bytes]:
    """~21 MB: three million empty parts under one multipart/mixed boundary."""
    yield _HEADERS + _MIXED
    for _ in range(30):
        yield b"--b\r\n\r\n" * 100_000
    yield b"--b--\r\n"


def _lines_bomb() -> Iterator[bytes]:
    """~45 MB of three-byte lines in a text/plain body."""
    yield _HEADERS + b"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n"
    for _ in range(150):
        yield b"a\r\n" * 100_000


def _pdf_mail() -> Iterator[bytes]:
    """A normal application: a short text and a 10 MiB PDF, base64 in 76-column lines."""
    yield _HEADERS + _MIXED + b"--b\r\nContent-Type: text/plain\r\n\r\nPlease find my CV attached.\r\n"
    yield b'--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename="cv.pdf"\r\n'
    yield b"Content-Transfer-Encoding: base64\r\n\r\n"
    for index in range(10 * 16):  # 64 KiB of PDF (a multiple of 57 bytes: whole lines) at a time
        data = (b"%PDF-1.4\n" if index == 0 else b"") + os.urandom(57 * 1150)
        yield base64.encodebytes(data).replace(b"\n", b"\r\n")
    yield b"--b--\r\n"


MAILS = {"parts": _parts_bomb, "lines": _lines_bomb, "pdf": _pdf_mail}


def write_mail(kind: str, path: Path) -> int:
    """Write the mail `kind` (a key of MAILS) to `path`; return its size."""
    with path.open("wb") as out:
        return sum(out.write(piece) for piece in MAILS[kind]())


def _peak_kib() -> int:
    """This process's own peak RSS (VmHWM, KiB). Not ru_maxrss: a child's starts at its parent's peak (see
    tests/rusage.py), which would hide the mail's cost under the test process's size."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))


def main(path: str) -> None:
    baseline = _peak_kib()
    started = time.perf_counter()
    raw = Path(path).read_bytes()
    hashlib.sha256(raw).hexdigest()
    content_key(raw)
    try:
        parsed = parse_email(raw)
        outcome = f"parsed: {len(parsed.attachments)} attachment(s)"
    except UnparseableMail as exc:
        outcome = f"refused: {exc}"
    print(json.dumps({
        "baseline_kib": baseline, "peak_kib": _peak_kib(), "size": len(raw),
        "outcome": outcome, "seconds": round(time.perf_counter() - started, 2),
    }))


if __name__ == "__main__":
    main(sys.argv[1])
