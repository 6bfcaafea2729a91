"""Peak memory of the daemon itself with a 26 MB mail: `ats-inbox poll` in a subprocess at the default concurrency,
against Dovecot and the sandbox ATS, its peak RSS as the kernel counts it (ru_maxrss from wait4, taken by the small
process of tests/rusage.py: waited for from this one, the daemon would seem to peak at the test process's size).

The mail is spooled to a file and parsed from it in windows (daemon/mail/spool.py) and the CV decoded once:
110 MB was measured alone (197 MB one message at a time and 223 MB at concurrency 4 before), against issue 21's
120 MB; the bound leaves room for the machine's variation, and the code before fails it.
benchmarks/README.md gives the measured figures.
"""

from __future__ import annotations

import os

import pytest

from tests import rusage
from tests.e2e import cli, imap_settings, write_config
from tests.mailfactory import build_email

pytestmark = pytest.mark.imap

MIB = 1024 * 1024
CV_BYTES = 19 * MIB  # base64 and line ends make it a mail of about 26 MB
PEAK_MB = 150  # the daemon's whole peak RSS with that mail at the default concurrency


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
        used = rusage.run([*cli(), "poll", "--config", str(config)], tmp_path / "usage.json", stdout=out, stderr=err)
    assert used.returncode == 0, (tmp_path / "err").read_text()[-3000:]
    [candidate] = sandbox.state()["candidates"]
    assert candidate["applicant_id"]
    assert used.peak_rss_mb < PEAK_MB, f"peak RSS {used.peak_rss_mb:.0f} MB"
