"""`ats-inbox check` against a real Dovecot and the sandbox ATS: a working set-up, then each broken part."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon import cli
from tests.e2e import imap_settings, write_config

pytestmark = pytest.mark.imap

RULES = '''[[rule]]
name = "jobs+data@ is the Data Analyst opening"
to_tag = "data"
job_code = "DATA-3"

[[rule]]
name = "jobs+CODE@ names the job by its code"
to_tag = "*"
job = "{tag}"
'''


def set_up(tmp_path: Path, dovecot, sandbox, rules: str = RULES, **imap: object) -> Path:
    """A configuration for the test Dovecot and the sandbox, with a rules folder holding `rules`."""
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "10-rules.toml").write_text(rules)
    settings = imap_settings(dovecot, **imap)
    return write_config(tmp_path / "config.toml", imap=settings, ats_url=sandbox.base_url,
                        database=tmp_path / "ats-inbox.db", extra=f'[rules]\npath = "{folder}"')


def check(config: Path, capsys) -> tuple[int, str]:
    code = cli.main(["--log-level", "ERROR", "check", "--config", str(config)])
    return code, capsys.readouterr().out


def problems(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("PROBLEM")]


def test_a_working_set_up_is_ready_and_lists_the_open_jobs(tmp_path, dovecot, sandbox, capsys):
    """Everything works: exit 0, no problem, the folders created, and each open job with its subject forms
    and the addresses the rules send to it; the closed job is not listed."""
    code, out = check(set_up(tmp_path, dovecot, sandbox), capsys)
    assert code == 0, out
    assert problems(out) == []
    assert "Ready: everything checked out." in out
    assert {"Processed", "Review"} <= set(dovecot_folders(dovecot))
    assert 'Data Analyst (#103, code DATA-3): subject "Application: Data Analyst" or "[DATA-3]" in the subject' in out
    assert "also mail to jobs+data@..." in out
    assert "any job: mail to jobs+*@..." in out
    assert "Office Manager" not in out
    assert "ATS source 'Email' exists" in out


def dovecot_folders(dovecot) -> list[str]:
    with dovecot.client() as imap:
        return [name for _flags, _sep, name in imap.list_folders()]


def test_a_wrong_password_is_one_problem_naming_the_password_keys(tmp_path, dovecot, sandbox, capsys):
    """A refused login: exit 1, one IMAP problem line saying where the password comes from; the ATS is still checked."""
    code, out = check(set_up(tmp_path, dovecot, sandbox, password="wrong"), capsys)
    assert code == 1
    [line] = problems(out)
    assert "IMAP login refused" in line and "imap.password_file" in line
    assert "ATS: the token works" in out


def test_a_folder_that_cannot_be_created_is_a_problem_with_the_servers_words(tmp_path, dovecot, sandbox, capsys):
    """A review folder the server refuses to create: exit 1, the key and the server's reason on one line."""
    code, out = check(set_up(tmp_path, dovecot, sandbox, review_folder="~Review"), capsys)
    assert code == 1
    [line] = problems(out)
    assert "imap.review_folder" in line and "~Review" in line and "refused to create" in line


def test_a_bad_token_is_a_problem_saying_where_the_token_goes(tmp_path, dovecot, sandbox, capsys):
    """The ATS refuses the token: exit 1, one line naming ats.token_file; the jobs are not listed."""
    config = set_up(tmp_path, dovecot, sandbox)
    (tmp_path / "ats-token").write_text("not-the-token\n")
    code, out = check(config, capsys)
    assert code == 1
    [line] = problems(out)
    assert "401" in line and "ats.token_file" in line
    assert "Open jobs" not in out


def test_an_unknown_source_is_a_problem_listing_the_sources(tmp_path, dovecot, sandbox, capsys):
    """A source the ATS does not have: exit 1, the line lists the ATS's sources."""
    config = set_up(tmp_path, dovecot, sandbox)
    config.write_text(config.read_text().replace('source = "Email"', 'source = "Carrier pigeon"'))
    code, out = check(config, capsys)
    assert code == 1
    [line] = problems(out)
    assert "no source named 'Carrier pigeon'" in line and "'LinkedIn'" in line and "ats.source" in line


def test_invalid_rules_are_problems_with_file_and_line(tmp_path, dovecot, sandbox, capsys):
    """A rule file with an unknown key: exit 1, a line with file and line number, and what to do."""
    code, out = check(set_up(tmp_path, dovecot, sandbox, rules='[[rule]]\nname = "x"\nto_tagg = "data"\n'), capsys)
    assert code == 1
    found = problems(out)
    assert any("10-rules.toml:3" in line for line in found), out
    assert any("invalid" in line and "fix the lines above" in line for line in found)


def test_a_rule_naming_an_unknown_job_is_a_problem(tmp_path, dovecot, sandbox, capsys):
    """Rules are checked against the ATS: a job code no job has is one problem."""
    code, out = check(set_up(tmp_path, dovecot, sandbox, rules='[[rule]]\nname = "x"\nto_tag = "x"\n'
                                                              'job_code = "NOPE-1"\n'), capsys)
    assert code == 1
    [line] = problems(out)
    assert "NOPE-1" in line


def test_a_missing_password_is_a_configuration_error(tmp_path, dovecot, sandbox, capsys, monkeypatch):
    """No IMAP password at all is a configuration error: exit 2, as for every command that needs it."""
    monkeypatch.delenv("ATS_INBOX_IMAP_PASSWORD", raising=False)
    config = set_up(tmp_path, dovecot, sandbox)
    config.write_text(config.read_text().replace("password_file", "# password_file"))
    assert cli.main(["--log-level", "ERROR", "check", "--config", str(config)]) == 2


def test_every_mailbox_is_checked_each_line_naming_its_mailbox(tmp_path, dovecot, sandbox, capsys):
    """With [[mailbox]] tables each mailbox's login and folders are checked and its lines name it; a mailbox whose
    folder is missing or whose source the ATS lacks is a problem of that mailbox alone, and the others' target
    folders are still not created while not ready."""
    config = set_up(tmp_path, dovecot, sandbox)
    dovecot.create_folder("Paris")
    config.write_text(config.read_text() + '[[mailbox]]\nname = "paris"\nfolder = "Paris"\n'
                      'processed_folder = "Paris-done"\n'
                      '[[mailbox]]\nname = "ghost"\nfolder = "Nowhere"\nsource = "No such source"\n')
    code, out = check(config, capsys)
    assert code == 1, out
    assert any(line.startswith("ok") and "mailbox paris: IMAP: logged in" in line for line in out.splitlines())
    found = problems(out)
    assert len(found) == 2 and all("mailbox ghost: " in line for line in found), out
    assert any("Nowhere" in line for line in found) and any("'No such source'" in line for line in found)
    assert "Paris-done" not in dovecot_folders(dovecot)
