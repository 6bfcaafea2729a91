"""What a newcomer meets first: the demo's closing hint works as printed; the sandbox page shows its open jobs."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

from daemon.cli.demo import ats_inbox_command, run_demo
from daemon.sandbox import SandboxATS
from daemon.sandbox.page import render_page


def test_the_demos_closing_hint_is_a_command_that_runs(tmp_path: Path, monkeypatch):
    """The printed sandbox command names an existing program and the demo's own database, and runs."""
    monkeypatch.chdir(tmp_path)
    report = run_demo(Path("demo"))
    hint = report.splitlines()[-1].split("   (then open")[0].strip()
    words = shlex.split(hint)
    assert words[1:3] == ["sandbox", "--db"]
    assert Path(words[3]).is_file()
    done = subprocess.run([*words[:2], "--help"], capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ})
    assert done.returncode == 0, done.stderr
    assert "--db" in done.stdout


def test_the_command_is_the_virtual_environments_script_relative_to_here(tmp_path: Path):
    """From the checkout the command is `.venv/bin/ats-inbox`-like; from elsewhere an absolute path."""
    elsewhere = ats_inbox_command(tmp_path)
    assert elsewhere.startswith("/") or " -m daemon.cli" in elsewhere


def test_the_sandbox_page_lists_its_open_jobs_with_their_codes(tmp_path: Path):
    """The page names each open job, its code and a subject that routes to it; a closed job is not offered."""
    sandbox = SandboxATS(tmp_path / "sandbox.db")
    page = render_page(sandbox.state())
    assert "<td>Data Analyst</td><td>DATA-3</td><td>Application: Data Analyst [DATA-3]</td>" in page
    assert "Office Manager" not in page


def test_the_readmes_demo_output_is_what_the_demo_prints(tmp_path: Path, monkeypatch):
    """The README's sample of the demo's report is the report, line for line (the work folder and the command
    as the README's first command gives them), the applicants' and candidates' numbers included."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("### 1. Try the demo", 1)[1]
    printed = section.split("```text\n", 1)[1].split("```", 1)[0].rstrip("\n")
    monkeypatch.chdir(tmp_path)
    report = run_demo(Path("ats-inbox-demo")).replace(ats_inbox_command(), ".venv/bin/ats-inbox")
    assert report.splitlines() == printed.splitlines()
