"""Peak memory of the daemon itself with a 26 MB mail: `ats-inbox poll` in a subprocess, measured
by the kernel (its own ru_maxrss from wait4), against Dovecot and the sandbox ATS.

The bound is generous: 235 MB was measured alone and 368 MB with the whole suite on 2 loaded
cores (how the socket's reads and the worker threads' malloc arenas fall varies). The mail is now
spooled to a file and parsed from it in windows (daemon/mail/spool.py), but the peak measured alone
is still 236 MB: Python's own allocations peak near 110 MB (tracemalloc, while the 19 MB CV is
decoded), the rest is outside them, not yet found; so the bound is not tightened towards issue 21's
120 MB. benchmarks/README.md gives the measured figures.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.e2e import cli, imap_settings, write_config
from tests.mailfactory import build_email

pytestmark = pytest.mark.imap

MIB = 1024 * 1024
CV_BYTES = 19 * MIB  # base64 and line ends make it a mail of about 26 MB
PEAK_MB = 512  # the daemon's whole peak RSS with that mail at the default concurrency: half the unit's MemoryMax


def test_a_26_mb_mail_goes_through_the_daemon_within_the_memory_bound(tmp_path, dovecot, sandbox):
    """A 19 MB CV (a 26 MB mail) becomes a candidate and the daemon's peak RSS stays within the bound."""
    cv = b"%PDF-1.4\n% Curriculum vitae\n% Contact: jane@example.com\n" + os.urandom(CV_BYTES)
    mail = build_email(sender=("Jane Doe", "jane@example.com"), subject="Application: Data Analyst",
                       attachments=[("cv.pdf", cv, "application/pdf", "base64")])
    assert len(mail) > 25 * MIB
    dovecot.append("INBOX", mail)
    del cv, mail
    config = write_config(tmp_path / "config.toml", imap=imap_settings(dovecot), ats_url=sandbox.base_url,
                          database=tmp_path / "ats-inbox.db")
    with (tmp_path / "out").open("w") as out, (tmp_path / "err").open("w") as err:
        process = subprocess.Popen([*cli(), "poll", "--config", str(config)], stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, (tmp_path / "err").read_text()[-3000:]
    [candidate] = sandbox.state()["candidates"]
    assert candidate["applicant_id"]
    peak_mb = usage.ru_maxrss / 1024
    assert peak_mb < PEAK_MB, f"peak RSS {peak_mb:.0f} MB"
