"""Run a command and say what it used, its own figures only: `python -m tests.rusage OUT -- COMMAND...`.

Linux reports a child's ru_maxrss as at least the peak of the process that spawned it: a child started
with vfork (as Python's subprocess does) runs in its parent's memory until its exec, and the exec keeps that
memory's high-water mark as the child's. Waited for from a test or benchmark process of several hundred MB,
the daemon would seem to peak at that process's size. This small process starts COMMAND in its stead, waits for
it (`os.wait4`), writes its CPU seconds and peak RSS to the JSON file OUT, and exits with its exit code.
`run()` does all that from Python.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Usage:
    returncode: int
    cpu_seconds: float
    peak_rss_mb: float


def run(argv: list[str], out: Path, **popen: Any) -> Usage:
    """Run `argv` (through this module, in a process of its own) and read what it used from `out`."""
    done = subprocess.run([sys.executable, "-m", "tests.rusage", str(out), "--", *argv], check=False,
                          cwd=Path(__file__).parent.parent, **popen)
    figures = json.loads(out.read_text())
    return Usage(done.returncode, figures["cpu_seconds"], figures["peak_rss_mb"])


def main() -> int:
    out, separator, *argv = sys.argv[1:]
    assert separator == "--", "usage: python -m tests.rusage OUT -- COMMAND..."
    process = subprocess.Popen(argv)
    _, status, usage = os.wait4(process.pid, 0)
    Path(out).write_text(json.dumps({"cpu_seconds": usage.ru_utime + usage.ru_stime,
                                     "peak_rss_mb": usage.ru_maxrss / 1024}))
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())
