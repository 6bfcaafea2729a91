"""`ats-inbox demo`: the whole flow on the bundled samples into a local sandbox, no setup needed."""

from __future__ import annotations

import os
import stat

from daemon.cli.demo import run_demo
from daemon.sandbox import SandboxATS
from tests.e2e import run_cli


def test_demo_processes_the_samples_once(tmp_path):
    """First run: 4 candidates and 2 set aside with reasons; second run: nothing new, nothing created."""
    first = run_cli("demo", "--workdir", str(tmp_path))
    assert first.code == 0, first.stderr
    assert "Processed 6 new message(s): 4 submitted, 2 set aside" in first.stdout
    assert "no resume attached" in first.stdout and "no job matched" in first.stdout
    for sample in ("01-senior-python-pdf.eml", "02-data-analyst-docx.eml", "03-support-pdf-qp.eml",
                   "06-python-dev-octet-stream.eml"):
        assert any(line.startswith(sample) and "submitted" in line for line in first.stdout.splitlines())
    second = run_cli("demo", "--workdir", str(tmp_path))
    assert second.code == 0, second.stderr
    assert "Nothing new" in second.stdout
    sandbox = SandboxATS(tmp_path / "sandbox-ats.db")  # the demo's sandbox state, read back
    assert len(sandbox.state()["candidates"]) == 4


def test_demo_reads_another_folder_of_mail(tmp_path):
    """--mail points the demo at any folder of .eml files."""
    mail = tmp_path / "mail"
    mail.mkdir()
    (mail / "a.eml").write_bytes(b"From: x@example.org\r\nSubject: Hello\r\n\r\nno attachment\r\n")
    result = run_cli("demo", "--workdir", str(tmp_path / "work"), "--mail", str(mail))
    assert result.code == 0, result.stderr
    assert "Processed 1 new message(s): 0 submitted, 1 set aside" in result.stdout


def test_demo_work_folder_and_files_are_owner_only(tmp_path):
    """Under a umask of 000 the work folder is 0700 and every file the demo writes is 0600."""
    workdir = tmp_path / "work"
    previous = os.umask(0)
    try:
        run_demo(workdir)
    finally:
        os.umask(previous)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in [workdir, *workdir.iterdir()]}
    assert modes.pop("work") == 0o700
    assert "sandbox-ats.db" in modes and "ats-inbox.db" in modes
    assert set(modes.values()) == {0o600}, modes
