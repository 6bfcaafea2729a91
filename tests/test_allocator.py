"""The C allocator gives a large block back when it is freed, even after a larger one was: the daemon's
memory comes back down after each large attachment (daemon/ops/allocator.py). In a subprocess of its own,
whose resident size is read from /proc (Linux, glibc)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = """
import json, sys
from daemon.ops import allocator

def resident_mb():
    return int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) / 1024

fixed = allocator.give_back_large_blocks() if sys.argv[1] == "fixed" else False
before = resident_mb()
cv = bytearray(b"x" * (19 << 20))  # a large CV decoded, then dropped: glibc's threshold would move up to it
del cv
next_cv = bytearray(b"y" * (10 << 20))  # the next large attachment, then dropped
del next_cv
print(json.dumps({"fixed": fixed, "kept_mb": resident_mb() - before}))
"""


def kept(mode: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True,
                          cwd=".")
    return json.loads(done.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt, /proc")
def test_a_large_block_is_given_back_after_a_larger_one_was():
    with_it, without = kept("fixed"), kept("default")
    assert with_it["fixed"]
    assert with_it["kept_mb"] < 3
    assert without["kept_mb"] > 8  # what the setting is for: glibc's default keeps the second block's pages
