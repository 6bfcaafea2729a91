"""Reading rule files: every problem at once with its file and line; valid empty sets; fingerprints."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from daemon.ats.models import Job, Pipeline, Source, Stage
from daemon.routing import Problem, RulesInvalid, check_against, fingerprint, load_rules

REPO_RULES = Path(__file__).resolve().parent.parent / "rules"


def problems_of(folder: Path) -> list[tuple[str, int, str]]:
    with pytest.raises(RulesInvalid) as caught:
        load_rules(folder)
    return [(Path(p.file).name, p.line, p.message) for p in caught.value.problems]


def write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")


@pytest.mark.parametrize(("text", "line", "words"), [
    ('[[rule]]\nname = "a"\nsubject = "x\njob_code = "A-1"\n', 3, "not valid TOML"),
    ('[[rule]]\nname = "a"\nsubjct = "x"\njob_code = "A-1"\n', 3, "unknown key 'subjct'. Did you mean 'subject'?"),
    ('[[rule]]\nname = "a"\nsubject = 5\njob_code = "A-1"\n', 3, "`subject` must be a text or a list of texts"),
    ('[[rule]]\nname = "a"\nsubject = ["x", 1]\njob_code = "A-1"\n', 3, "must be a text or a list of texts"),
    ('[[rule]]\nname = "a"\nsubject = ""\njob_code = "A-1"\n', 3, "empty text"),
    ('[[rule]]\nname = "a"\n\nsubject_regex = "(x"\njob_code = "A-1"\n', 4, "not a valid regular expression"),
    ('[[rule]]\nname = "a"\nheader_regex = { "X-A" = "[" }\njob_code = "A-1"\n', 3, "not a valid regular"),
    ('[[rule]]\nname = "a"\nheader = "X-A"\njob_code = "A-1"\n', 3, "must be a table of header names"),
    ('[[rule]]\nname = "a"\nany = { subject = "x" }\njob_code = "A-1"\n', 3, "must be a list of tables"),
    ('[[rule]]\nname = "a"\nany = [ { subjetc = "x" } ]\njob_code = "A-1"\n', 3, "unknown condition 'subjetc'"),
    ('[[rule]]\nname = "a"\nnot = { job_code = "x" }\njob_code = "A-1"\n', 3, "belongs in the rule itself"),
    ('[[rule]]\nname = "a"\nsubject = "x"\ncase_sensitive = "yes"\njob_code = "A-1"\n', 4, "true or false"),
    ('[[rule]]\nname = "a"\nsubject = "x"\n', 1, "does nothing"),
    ('[[rule]]\nsubject = "x"\njob_code = "A-1"\n', 1, "needs a `name`"),
    ('[[rule]]\nname = "a"\nsubject = "x"\naction = "drop"\n', 4, "`action` must be one of"),
    ('[[rule]]\nname = "a"\nsubject = "x"\naction = "ignore"\njob_code = "A-1"\n', 5, "no effect with action"),
    ('[[rule]]\nname = "a"\nsubject = "x"\njob_code = "A-1"\nreason = "r"\n', 5, "`reason` is for action"),
    ('[[rule]]\nname = "a"\nsubject = "x"\njob_code = "A-1"\njob_title = "T"\n', 5, "not several"),
    ('[[rule]]\nname = "a"\nsubject = "x"\njob_id = true\n', 4, "must be a number or a text"),
    ('[[rule]]\nname = "a"\nsubject = "x"\njob = "{job}"\n', 4, "uses {job}, which no condition"),
    ('[[rule]]\nname = "a"\nsubject = "x"\njob = "{job"\n', 4, "stray brace"),
    ('[[rule]]\nname = "a"\njob_code = "A-1"\n[[rule]]\nname = "b"\nsubject = "x"\njob_code = "B-1"\n', 4,
     "can never match: rule 'a'"),
    ('[[rule]]\nname = "a"\nfrom_domain = ["x.com"]\njob_code = "A-1"\n\n[[rule]]\nname = "b"\n'
     'from_domain = ["x.com"]\njob_code = "B-1"\n', 6, "has the same conditions"),
    ('[[rule]]\nname = "a"\nsubject = "x"\njob_code = "A-1"\n[[rule]]\nname = "a"\nsubject = "y"\n'
     'job_code = "A-1"\n', 5, "already used"),
    ('rules = []\n', 1, "unknown key 'rules' outside any rule. Did you mean 'rule'?"),
])
def test_each_problem_is_reported_with_its_line_and_what_to_do(tmp_path, text, line, words):
    """A broken rule file: the problem, at its line, in words an admin can act on."""
    write(tmp_path, "10-jobs.toml", text)
    found = problems_of(tmp_path)
    assert any(n == "10-jobs.toml" and ln == line and words in msg for n, ln, msg in found), found


def test_every_problem_of_every_file_is_reported_at_once(tmp_path):
    """Problems in several rules and several files come together, in file and line order."""
    write(tmp_path, "10-a.toml", '[[rule]]\nname = "a"\nsubjct = "x"\njob_code = "A-1"\n\n'
                                 '[[rule]]\nname = "b"\nbody_regex = "(("\njob_code = "A-1"\n')
    write(tmp_path, "20-b.toml", '[[rule]]\nname = "c"\nsubject = \n')
    write(tmp_path, "30-c.toml", '[[rule]]\nname = "a"\nto_tag = "x"\njob_code = "A-1"\n')
    found = [(n, ln) for n, ln, _ in problems_of(tmp_path)]
    assert found == [("10-a.toml", 3), ("10-a.toml", 8), ("20-b.toml", 3), ("30-c.toml", 1)]


def test_the_error_message_names_file_and_line_for_the_log(tmp_path):
    """RulesInvalid is a configuration error whose text lists file:line: message."""
    write(tmp_path, "10-a.toml", '[[rule]]\nname = "a"\nsubjct = "x"\njob_code = "A-1"\n')
    with pytest.raises(RulesInvalid) as caught:
        load_rules(tmp_path)
    assert f"{tmp_path / '10-a.toml'}:3: rule 'a': unknown key 'subjct'" in str(caught.value)


@pytest.mark.parametrize("setup", ["missing", "empty", "others only"])
def test_a_missing_or_empty_folder_is_a_valid_empty_rule_set(tmp_path, setup):
    """No folder, no files, or only README.md and editors' leftovers: no rules, valid."""
    folder = tmp_path / "rules"
    if setup != "missing":
        folder.mkdir()
    if setup == "others only":
        write(folder, "README.md", "# rules")
        write(folder, ".#10-a.toml", "broken [[")
        write(folder, "10-a.toml.bak", "broken [[")
    rules = load_rules(folder)
    assert rules.rules == () and rules.summary().startswith("no rules")


def test_a_file_instead_of_a_folder_is_a_problem(tmp_path):
    """[rules] path naming a file is refused."""
    write(tmp_path, "rules.toml", "")
    assert "is not a folder" in problems_of(tmp_path / "rules.toml")[0][2]


def test_the_fingerprint_follows_the_files_on_disk(tmp_path):
    """Loaded rules carry the fingerprint of their files; any change on disk changes it."""
    write(tmp_path, "10-a.toml", '[[rule]]\nname = "a"\nsubject = "x"\njob_code = "A-1"\n')
    rules = load_rules(tmp_path)
    assert rules.fingerprint == fingerprint(tmp_path)
    write(tmp_path, "10-a.toml", '[[rule]]\nname = "a"\nsubject = "y"\njob_code = "A-1"\n')
    assert fingerprint(tmp_path) != rules.fingerprint
    changed = fingerprint(tmp_path)
    write(tmp_path, "README.md", "not a rule file")
    assert fingerprint(tmp_path) == changed


def test_the_repositorys_example_rules_are_valid():
    """rules/ in the repository loads without a problem."""
    rules = load_rules(REPO_RULES)
    assert len(rules) >= 4


JOBS = [Job(101, "Senior Python Developer", "p-eng", "open", "ENG-7"), Job(105, "Office Manager", 2, "closed", "OPS-1")]
PIPELINES = [Pipeline("p-eng", "Engineering", (Stage("s1", "Applied", 1),)),
             Pipeline(2, "General", (Stage(21, "New"),))]
SOURCES = [Source(1, "Email")]


@pytest.mark.parametrize(("action", "words", "warning"), [
    ('job_code = "ENG-9"', "the ATS has no open job with the code 'ENG-9'", False),
    ('job_id = 999', "the ATS has no open job with the id '999'", False),
    ('job_title = "Chef"', "the ATS has no open job with the title 'Chef'", False),
    ('job_code = "OPS-1"', "is closed", True),
    ('job_code = "ENG-7"\nstage = "Offer"', "has no stage 'Offer' (its stages: 'Applied')", False),
    ('stage = "Offer"', "no pipeline has a stage 'Offer'", False),
    ('job_code = "ENG-7"\nsource = "Fax"', "no source 'Fax' (its sources: 'Email')", False),
])
def test_check_against_the_ats_names_unknown_jobs_stages_and_sources(tmp_path, action, words, warning):
    """Unknown job, stage or source: a problem at the rule's line; a closed job: a warning."""
    write(tmp_path, "10-a.toml", f'[[rule]]\nname = "a"\nsubject = "x"\n{action}\n')
    found = check_against(load_rules(tmp_path), JOBS, PIPELINES, SOURCES)
    assert len(found) == 1 and words in found[0].message and found[0].warning is warning
    assert (Path(found[0].file).name, found[0].line) == ("10-a.toml", 1)


def test_check_against_accepts_known_names_and_captured_jobs(tmp_path):
    """Known job, stage and source, and a job from a capture (checked on real mail only): no problem."""
    write(tmp_path, "10-a.toml", '[[rule]]\nname = "a"\nsubject = "x"\njob_code = "eng-7"\nstage = "applied"\n'
                                 'source = "EMAIL"\n[[rule]]\nname = "b"\nsubject_regex = "(?P<job>Z-\\\\d)"\n'
                                 'job = "{job}"\n')
    assert check_against(load_rules(tmp_path), JOBS, PIPELINES, SOURCES) == []


def test_a_problem_reads_as_file_line_message():
    """str(Problem) is the line `rules check` prints."""
    assert str(Problem("r/10.toml", 3, "bad")) == "r/10.toml:3: bad"
    assert str(Problem("r/10.toml", 3, "closed", warning=True)) == "r/10.toml:3: warning: closed"


def test_every_example_on_the_admins_page_is_a_valid_rule(tmp_path):
    """Each ```toml block of rules/README.md loads on its own, without a problem."""
    blocks = re.findall(r"^```toml\n(.*?)^```", (REPO_RULES / "README.md").read_text(), re.MULTILINE | re.DOTALL)
    assert len(blocks) >= 6
    for n, block in enumerate(blocks):
        folder = tmp_path / f"example-{n}"
        write(folder, "10-example.toml", block)
        assert load_rules(folder).rules, block
