"""Rough edges a new admin met (issue 20): warnings that were not true, paths and files that surprised."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from pathlib import Path

import pytest

from daemon.cli import main
from daemon.cli.demo import run_demo
from daemon.mailbox.imap import ImapMailbox
from tests.imapserver import Dovecot
from tests.test_check import check as run_check
from tests.test_check import dovecot_folders
from tests.test_check import problems as check_problems
from tests.test_check import set_up as check_set_up
from tests.test_cli import NO_SECRETS
from tests.test_imap_mailbox import settings
from tests.test_rules_cli import REPO_RULES, rule_folder, sample_maildir
from tests.test_rules_cli import config as rules_config


@pytest.mark.imap
@pytest.mark.parametrize("read_only", [True, False], ids=["examine", "select"])
def test_no_keywords_warning_from_a_server_that_stores_keywords(dovecot: Dovecot, caplog, read_only: bool) -> None:
    """Dovecot keeps keywords: opening its folder read-only (EXAMINE answers PERMANENTFLAGS ()) or not warns nothing."""
    mailbox = ImapMailbox(replace(settings(dovecot), processed_folder="", review_folder=""), read_only=read_only)
    with caplog.at_level(logging.INFO, logger="daemon.mailbox.imap"):
        mailbox.open()
        mailbox.close()
    assert "imap.opened" in caplog.messages
    assert "imap.keywords_unsupported" not in caplog.messages


@pytest.fixture
def relative_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A configuration `conf/config.toml` without secrets, given relative to the current directory."""
    for variable in ("ATS_INBOX_CONFIG", "ATS_INBOX_IMAP_PASSWORD", "ATS_INBOX_ATS_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "config.toml").write_text(NO_SECRETS.replace("sqlite:///ats-inbox.db",
                                                                      f"sqlite:///{tmp_path / 'ats-inbox.db'}"))
    monkeypatch.chdir(tmp_path)
    return Path("conf/config.toml")


def test_status_prints_the_rules_folder_as_an_absolute_path(relative_config: Path, tmp_path: Path, capsys) -> None:
    """status names the rules folder by its absolute path, the same from any current directory."""
    assert main(["--log-level", "ERROR", "status", "--config", str(relative_config)]) == 0
    [line] = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Rules:")]
    assert f" {tmp_path / 'conf' / 'rules'}" in line


@pytest.mark.parametrize("words", [["db", "upgrade"], ["status"], ["messages", "list"]], ids=" ".join)
def test_no_migrate_lock_is_left_beside_the_database(relative_config: Path, tmp_path: Path, words) -> None:
    """A command that opens (and migrates) the database leaves only the database's own files beside it."""
    assert main(["--log-level", "ERROR", *words, "--config", str(relative_config)]) == 0
    assert not list(tmp_path.glob("*.migrate-lock"))
    assert (tmp_path / "ats-inbox.db").exists()


def test_the_demo_names_no_routing_for_mail_no_job_matched(tmp_path: Path) -> None:
    """The demo's table: 'job title in the subject' only beside mail it routed to a job, '-' where no job matched."""
    out = run_demo(tmp_path / "demo")
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith("0")}
    assert "job title in the subject" in rows["01-senior-python-pdf.eml"]
    for unmatched in ("04-no-resume.eml", "05-unknown-job.eml"):
        assert rows[unmatched].split()[1:4] == ["review", "-", "-"], rows[unmatched]
        assert "job title in the subject" not in rows[unmatched]


def _walkthrough() -> str:
    """The systemd walkthrough: the code block that says `systemctl enable --now`, in the README or a guide."""
    root = Path(__file__).resolve().parent.parent
    for page in [root / "README.md", *sorted((root / "docs").rglob("*.md"))]:
        for block in re.findall(r"```sh\n(.*?)```", page.read_text(encoding="utf-8"), re.DOTALL):
            if "systemctl enable --now ats-inbox" in block:
                return block
    raise AssertionError("no systemd walkthrough found")


def test_the_systemd_walkthrough_previews_before_going_live_and_verifies_after_installing() -> None:
    """poll --dry-run and backfill --dry-run come before `systemctl enable --now`; verify after the install."""
    block = _walkthrough()
    live = block.index("systemctl enable --now ats-inbox")
    assert -1 < block.find("ats-inbox poll --dry-run") < live
    assert -1 < block.find("ats-inbox backfill --since") < live
    assert "--dry-run" in block[block.find("ats-inbox backfill --since"):live]
    installed = block.index("install -m 0644 systemd/ats-inbox.service")
    assert installed < block.index("systemd-analyze verify")


def test_rules_check_names_the_jobs_whose_pipeline_lacks_the_stage_a_rule_can_reach(tmp_path, sandbox, capsys):
    """A rule reaching any open job names a stage only one pipeline has: a problem naming the jobs that lack it."""
    folder = rule_folder(tmp_path, '[[rule]]\nname = "tagged"\nto_tag = "*"\njob = "{tag}"\nstage = "Screening"\n')
    assert main(["rules", "check", "--config", str(rules_config(tmp_path, sandbox.base_url, folder))]) == 1
    out = capsys.readouterr().out
    assert "rule 'tagged': stage 'Screening' is only in some of the pipelines the rule can reach" in out
    assert "'Senior Python Developer' (pipeline p-eng), 'Python Developer' (pipeline p-eng)" in out
    assert "'Data Analyst'" not in out.split("lack it:")[1].split(";")[0]


def test_rules_check_suggests_the_open_job_an_unknown_title_is_closest_to(tmp_path, sandbox, capsys):
    """An unknown job title gets a "did you mean" with the closest open job's title."""
    folder = rule_folder(tmp_path, '[[rule]]\nname = "a"\nsubject = "x"\njob_title = "Data Analist"\n')
    assert main(["rules", "check", "--config", str(rules_config(tmp_path, sandbox.base_url, folder))]) == 1
    assert "Did you mean 'Data Analyst'?" in capsys.readouterr().out


def test_rules_check_with_syntax_errors_says_the_ats_checks_were_skipped(tmp_path, sandbox, capsys):
    """Invalid rule files: the output says the checks against the ATS were not made."""
    folder = rule_folder(tmp_path, '[[rule]]\nname = "a"\nsubjct = "x"\njob_title = "Head Chef"\n')
    assert main(["rules", "check", "--config", str(rules_config(tmp_path, sandbox.base_url, folder))]) == 1
    assert "the checks against the ATS (jobs, stages, sources) were skipped" in capsys.readouterr().out


@pytest.mark.imap
def test_check_reports_every_bad_folder_in_one_run_and_creates_none_while_not_ready(tmp_path, dovecot, sandbox,
                                                                                    capsys) -> None:
    """Three misspelled folders: three problems in one run; a missing good folder is not created while not ready."""
    config = check_set_up(tmp_path, dovecot, sandbox, processed_folder="Jobs/Processed", review_folder="Jobs/Review",
                          ignored_folder="Jobs/Ignored")
    code, out = run_check(config, capsys)
    assert code == 1
    assert [key for key in ("processed", "review", "ignored")
            if any(f"imap.{key}_folder" in line for line in check_problems(out))] == ["processed", "review", "ignored"]
    config.write_text(config.read_text().replace('"Jobs/Processed"', '"Processed"')
                      .replace('"Jobs/Review"', '"Review"').replace('"Jobs/Ignored"', '"Ignored"')
                      .replace('source = "Email"', 'source = "Carrier pigeon"'))
    code, out = run_check(config, capsys)
    assert code == 1 and "Not ready" in out and "not created while not ready" in out
    assert dovecot_folders(dovecot) == ["INBOX"]
    config.write_text(config.read_text().replace('source = "Carrier pigeon"', 'source = "Email"'))
    code, out = run_check(config, capsys)
    assert code == 0, out
    assert sorted(dovecot_folders(dovecot)) == ["INBOX", "Ignored", "Processed", "Review"]


def test_rules_test_on_a_maildir_labels_mail_by_date_sender_and_subject_and_says_why_in_full(tmp_path, sandbox,
                                                                                             capsys) -> None:
    """rules test over a Maildir: each row named by date, sender and subject (no file name); its why not cut."""
    maildir = sample_maildir(tmp_path, new="1796644269.M650157P15594.host", cur="1796644270.M1P2.host:2,S")
    config = rules_config(tmp_path, sandbox.base_url, REPO_RULES)
    assert main(["rules", "test", str(maildir), "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "1796644269" not in out and ".host" not in out
    assert "2026-03-02 09:14, marta.kowalczyk@example.org, 'Application: Senior Python Developer'" in out
    [row] = [line for line in out.splitlines() if line.startswith("2026-03-04 07:55, lucia.ferrante@example.org")]
    assert "no job matched: no open job title appears in the subject" in row and "…" not in row
