"""Peak memory of one hostile or large mail through hashing, the content key and parsing.

Each mail runs in a fresh interpreter (`tests/memory_probe.py`), which reports its own
peak RSS (VmHWM) before reading the mail and after the work. The unit runs under `MemoryMax=1G`:
a mail that needs more kills the daemon on every pass, before it is even recorded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.memory_probe import write_mail

ROOT = Path(__file__).parent.parent
SIZE_MULTIPLE = 3  # peak memory above the interpreter's baseline, in mail sizes (1.0 to 1.9 measured)


@pytest.mark.parametrize(
    ("kind", "outcome"),
    [
        ("parts", "refused: too many MIME parts"),  # ~21 MB, three million empty parts
        ("lines", "refused: too many lines"),  # ~45 MB of "a\r\n"
        ("pdf", "parsed: 1 attachment(s)"),  # a 10 MiB PDF, base64
    ],
)
def test_peak_memory_is_a_small_multiple_of_the_mail(tmp_path: Path, kind: str, outcome: str) -> None:
    """Bombs are refused and a large CV parses, each within baseline + 3 x the mail's size."""
    mail = tmp_path / f"{kind}.eml"
    size = write_mail(kind, mail)
    probe = subprocess.run(
        [sys.executable, "-m", "tests.memory_probe", str(mail)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    report = json.loads(probe.stdout)
    assert report["outcome"].startswith(outcome)
    assert report["size"] == size
    used = (report["peak_kib"] - report["baseline_kib"]) * 1024
    assert used <= SIZE_MULTIPLE * size, f"{used / size:.1f} x the mail's size"
