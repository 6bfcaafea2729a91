"""Routing rules deciding one mail: each condition, each action, precedence, captures, bounds."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

import daemon
from daemon.ats.models import Job, Pipeline, Source, Stage
from daemon.domain import RuleAction, Status
from daemon.intake.planning import Directory, FlowOptions, plan
from daemon.mail.parsing import parse_email
from daemon.routing import RuleSet, decide, explain, load_rules
from daemon.routing.conditions import RULES_BUDGET
from tests.mailfactory import build_email

PDF = b"%PDF-1.4\n%\xe2\xe3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
SEED = json.loads((Path(daemon.__file__).parent / "sandbox" / "seed.json").read_text())
JOBS = [Job(j["id"], j["title"], j["pipeline_id"], j["status"], j["code"]) for j in SEED["jobs"]]
PIPELINES = [Pipeline(p["id"], p["name"], tuple(Stage(s["id"], s["name"], s.get("position")) for s in p["stages"]))
             for p in SEED["pipelines"]]
SOURCES = [Source(s["id"], s["name"]) for s in SEED["sources"]]


def ruleset(tmp_path: Path, *files: str) -> RuleSet:
    """Rule files 10-rules.toml, 20-rules.toml, ... in a fresh folder, loaded."""
    folder = tmp_path / "rules"
    folder.mkdir(exist_ok=True)
    for n, text in enumerate(files, 1):
        (folder / f"{n}0-rules.toml").write_text(text, encoding="utf-8")
    return load_rules(folder)


def mail(**fields):
    fields.setdefault("subject", "Hello")
    return parse_email(build_email(**fields))


def routed(tmp_path, rules: str, **fields):
    return decide(mail(**fields), ruleset(tmp_path, rules), JOBS, PIPELINES, SOURCES)


# Each condition key: a rule routing to Data Analyst, a mail it matches, and one it does not.
CONDITIONS = [
    ('to = "careers@acme.com"', {"to": "Careers <careers@ACME.com>"}, {"to": "jobs@acme.com"}),
    ('to = "*@agency-inbox.acme.com"', {"to": "x@agency-inbox.acme.com"}, {"to": "x@acme.com"}),
    ('to = "careers@acme.com"', {"headers": {"Cc": "careers@acme.com"}}, {}),
    ('to = "careers@acme.com"', {"headers": {"Delivered-To": "careers@acme.com"}}, {}),
    ('to = "careers@acme.com"', {"headers": {"X-Original-To": "careers@acme.com"}}, {}),
    ('to_tag = "data-eng"', {"to": "jobs+Data-Eng@acme.com"}, {"to": "jobs+data@acme.com"}),
    ('to_tag = ["x", "data-*"]', {"to": "jobs+data-eng@acme.com"}, {"to": "jobs@acme.com"}),
    ('from = "jane@example.com"', {"sender": ("J", "Jane@Example.com")}, {"sender": ("J", "john@example.com")}),
    ('from_domain = "hays.com"', {"sender": ("A", "a@uk.hays.com")}, {"sender": ("A", "a@nothays.com")}),
    ('subject = "data role"', {"subject": "Re: the DATA ROLE"}, {"subject": "data"}),
    ('body = "referred by"', {"body": "I was Referred By Ann\n"}, {"body": "no referral\n"}),
    ('subject_regex = "^re:\\\\s+data"', {"subject": "RE: data"}, {"subject": "Fwd: re: data"}),
    ('body_regex = "ref(erence)?\\\\s*#\\\\d+"', {"body": "Reference #42"}, {"body": "ref #x"}),
    ('attachment = "*.docx"', {"attachments": [("CV.DOCX", b"PK", "application/zip")]},
     {"attachments": [("cv.pdf", PDF, "application/pdf")]}),
    ('header = { "X-Agency" = "hays" }', {"headers": {"X-Agency": "Hays Ltd"}}, {"headers": {"X-Agency": "other"}}),
    ('header = { "X-Agency" = "" }', {"headers": {"X-Agency": "anything"}}, {}),
    ('header_regex = { "X-Ref" = "^D-\\\\d+$" }', {"headers": {"X-Ref": "d-12"}}, {"headers": {"X-Ref": "D-12x"}}),
    ('any = [ { subject = "alpha" }, { to_tag = "beta" } ]', {"to": "jobs+beta@acme.com"}, {"subject": "gamma"}),
    ('subject = "data"\nnot = { from_domain = "spam.example" }', {"subject": "data"},
     {"subject": "data", "sender": ("S", "s@spam.example")}),
    ('subject = "data"\nnot = [ { body = "unsubscribe" }, { to_tag = "test" } ]', {"subject": "data"},
     {"subject": "data", "to": "jobs+test@acme.com"}),
    ('subject = "data"\ncase_sensitive = true', {"subject": "data"}, {"subject": "DATA"}),
    ('subject_regex = "Data"\ncase_sensitive = true', {"subject": "Data"}, {"subject": "DATA"}),
]


@pytest.mark.parametrize(("condition", "matching", "other"), CONDITIONS,
                         ids=[c[0].split("\n")[-1][:40] for c in CONDITIONS])
def test_each_condition_holds_for_its_mail_and_not_for_another(tmp_path, condition, matching, other):
    """A matching mail is routed by the rule (and says why); another falls to inference."""
    rules = f'[[rule]]\nname = "r"\n{condition}\njob_code = "DATA-3"\n'
    hit = routed(tmp_path, rules, **matching)
    assert (hit.action, hit.rule, str(hit.job.id)) == (RuleAction.SUBMIT, "r", "103"), hit.reason
    miss = routed(tmp_path, rules, **other)
    assert miss.rule != "r", miss.reason


@pytest.mark.parametrize(("action", "expected"), [
    ('job_id = 104', ("104", None, None)),
    ('job_id = "104"', ("104", None, None)),
    ('job_code = "sup-2"', ("104", None, None)),
    ('job_title = "customer  support specialist"', ("104", None, None)),
    ('job = "SUP-2"', ("104", None, None)),
    ('job = "Customer Support Specialist"', ("104", None, None)),
    ('job_code = "ENG-8"\nstage = "interview"', ("102", "s-eng-interview", None)),
    ('job_code = "DATA-3"\nstage = "Screening"\nsource = "linkedin"', ("103", "22", "2")),
    ('source = "Referral"', ("101", None, "3")),  # no job named: the subject's job (ENG-7)
])
def test_actions_resolve_job_stage_and_source(tmp_path, action, expected):
    """A job by id, code, title or either; a stage in its pipeline; a source; all by name, any case."""
    decision = routed(tmp_path, f'[[rule]]\nname = "r"\nsubject = "apply"\n{action}\n', subject="apply [ENG-7]")
    assert decision.action == RuleAction.SUBMIT, decision.reason
    got = (str(decision.job.id), decision.stage and str(decision.stage.id), decision.source and str(decision.source.id))
    assert got == expected


def test_no_stage_and_no_source_are_left_to_the_defaults(tmp_path):
    """stage None is the pipeline's first stage and source None the configured one (the flow decides)."""
    decision = routed(tmp_path, '[[rule]]\nname = "r"\nsubject = "x"\njob_code = "ENG-7"\ncomment = "via rule"\n',
                      subject="x")
    assert (decision.stage, decision.source, decision.comment) == (None, None, "via rule")


@pytest.mark.parametrize(("action", "words"), [
    ('job_code = "OPS-1"', "closed"),  # a closed job is never a target
    ('job_title = "Office Manager"', "closed"),
    ('job_id = 105', "closed"),
    ('job_code = "NOPE-1"', "the ATS has no open job with the code"),
    ('job_code = "ENG-8"\nstage = "Screening"', "has no stage 'Screening'"),
    ('job_code = "ENG-8"\nsource = "Newspaper"', "no source 'Newspaper'"),
    ('source = "Referral"', "names no job"),  # and the subject names none either
])
def test_a_rule_naming_what_cannot_be_used_sends_the_mail_to_review(tmp_path, action, words):
    """Closed or unknown job, unknown stage or source: review with that reason, never elsewhere."""
    decision = routed(tmp_path, f'[[rule]]\nname = "r"\nsubject = "apply"\n{action}\n', subject="apply")
    assert (decision.action, decision.rule, decision.job) == (RuleAction.REVIEW, "r", None)
    assert words in decision.reason and "matched subject contains 'apply'" in decision.reason


@pytest.mark.parametrize(("action", "kind"), [("review", RuleAction.REVIEW), ("ignore", RuleAction.IGNORE)])
def test_review_and_ignore_carry_the_rules_reason(tmp_path, action, kind):
    """action = review/ignore: no job, the admin's reason first, then the condition."""
    decision = routed(tmp_path, f'[[rule]]\nname = "news"\nheader = {{ "List-Id" = "" }}\naction = "{action}"\n'
                                'reason = "a mailing list"\n', headers={"List-Id": "<news.acme.com>"},
                      subject="Python Developer")
    assert (decision.action, decision.job) == (kind, None)
    assert decision.reasons == ("a mailing list", "matched header list-id is present")


def test_the_first_matching_rule_decides_in_file_name_order(tmp_path):
    """Files are read by name, rules in order within a file; the first match wins."""
    rules = ruleset(tmp_path,
                    '[[rule]]\nname = "a1"\nsubject = "nothing like it"\naction = "ignore"\n'
                    '[[rule]]\nname = "a2"\nsubject = "python"\njob_code = "ENG-8"\n',
                    '[[rule]]\nname = "b1"\nsubject = "pyth"\njob_code = "ENG-7"\n')
    decision = decide(mail(subject="Python"), rules, JOBS, PIPELINES, SOURCES)
    assert (decision.rule, str(decision.job.id)) == ("a2", "102")
    assert decision.rule_at.endswith("10-rules.toml:5")


@pytest.mark.parametrize(("rule", "fields", "job_id"), [
    ('subject_regex = "\\\\[(?P<job>[A-Z]+-\\\\d+)\\\\]"\njob = "{job}"', {"subject": "CV [DATA-3]"}, "103"),
    ('subject_regex = "position: (?P<job>.+)$"\njob_title = "{job}"', {"subject": "Position: Data Analyst "}, "103"),
    ('body_regex = "job code (?P<job>\\\\S+)"\njob_code = "{job}"', {"body": "for job code sup-2 please"}, "104"),
    ('to_tag = "*"\njob = "{tag}"', {"to": "jobs+eng-8@acme.com"}, "102"),
    ('subject_regex = \'job\\s*#\\s*(?P<n>\\d+)\'\njob_code = "ENG-{n}"', {"subject": "Job # 7"}, "101"),
])
def test_captures_name_the_job(tmp_path, rule, fields, job_id):
    """A named group `job` (or the recipient tag) fills the job action."""
    decision = routed(tmp_path, f'[[rule]]\nname = "r"\n{rule}\n', **fields)
    assert decision.action == RuleAction.SUBMIT and str(decision.job.id) == job_id, decision.reason


def test_a_capture_of_a_closed_job_goes_to_review(tmp_path):
    """A captured code of a closed job is not a target."""
    decision = routed(tmp_path, '[[rule]]\nname = "r"\nsubject_regex = "\\\\[(?P<job>[A-Z]+-\\\\d+)\\\\]"\n'
                                'job = "{job}"\n', subject="[OPS-1]")
    assert decision.action == RuleAction.REVIEW and "closed" in decision.reason


def test_a_capture_missing_in_the_alternative_that_matched_goes_to_review(tmp_path):
    """`any` whose matching table captured no `job`: review, saying the capture is missing."""
    decision = routed(tmp_path, '[[rule]]\nname = "r"\nany = [ { subject_regex = "ref (?P<job>\\\\S+)" }, '
                                '{ subject = "cv" } ]\njob = "{job}"\n', subject="my cv")
    assert decision.action == RuleAction.REVIEW and "did not capture" in decision.reason


def test_with_no_rule_matching_inference_decides(tmp_path):
    """No rule matches: the job code, then the title, in the subject."""
    rules = '[[rule]]\nname = "r"\nsubject = "zzz"\naction = "ignore"\n'
    assert routed(tmp_path, rules, subject="[ENG-8] hi").rule == "job code in the subject"
    decision = routed(tmp_path, rules, subject="Data Analyst or Python Developer")
    assert (decision.action, decision.rule) == (RuleAction.REVIEW, "job title in the subject")
    assert {str(j.id) for j in decision.candidates} == {"102", "103"}


def test_an_empty_rule_set_is_inference_alone():
    """No rules: the subject's title routes."""
    decision = decide(mail(subject="Senior Python Developer"), RuleSet(), JOBS, PIPELINES, SOURCES)
    assert (decision.rule, str(decision.job.id)) == ("job title in the subject", "101")


def test_explain_says_why_each_earlier_rule_did_not_match(tmp_path):
    """explain() lists each rule tried in order, with the condition that failed or held."""
    rules = ruleset(tmp_path, '[[rule]]\nname = "agency"\nfrom_domain = "hays.com"\nsource = "Referral"\n'
                              '[[rule]]\nname = "tagged"\nto_tag = "data"\njob_code = "DATA-3"\n')
    explanation = explain(mail(to="jobs+data@acme.com"), rules, JOBS, PIPELINES, SOURCES)
    said = [(t.rule, t.matched, t.said) for t in explanation.trials]
    assert said == [("agency", False, "sender domain example.com is not 'hays.com'"),
                    ("tagged", True, "recipient tag data")]
    assert explanation.decision.reasons[0] == "recipient tag data"


def test_a_catastrophic_regex_on_a_long_subject_is_bounded_and_never_no_match(tmp_path):
    """(a+)+$ against 'aaaa...b' stops at the time bound, is not taken for "no match": review, saying so."""
    rules = ruleset(tmp_path, '[[rule]]\nname = "evil"\nsubject_regex = "(a+)+$"\njob_code = "ENG-7"\n'
                              '[[rule]]\nname = "evil body"\nbody_regex = "(x+x+)+y"\njob_code = "ENG-7"\n')
    hostile = mail(subject="a" * 900 + "!", body="x" * 5000 + "\n")  # the parser keeps 1000 characters
    started = time.monotonic()
    explanation = explain(hostile, rules, JOBS, PIPELINES, SOURCES)
    assert time.monotonic() - started < 3
    assert explanation.decision.rule == "evil" and explanation.decision.undecided  # not on to inference
    assert explanation.decision.action == RuleAction.REVIEW and explanation.decision.job is None
    assert explanation.decision.notes and "ran out of time" in explanation.decision.notes[0]


def test_rules_read_a_bounded_body(tmp_path):
    """Text past the first 100,000 characters of the body is not looked at."""
    decision = routed(tmp_path, '[[rule]]\nname = "r"\nbody = "needle"\njob_code = "ENG-7"\n',
                      body="x" * 100_500 + " needle\n")
    assert decision.rule != "r"


def many_headers(count: int, **fields) -> bytes:
    """A mail built as usual, with `count` X-Ref headers that a catastrophic expression cannot decide."""
    hostile = b"".join(b"X-Ref: " + b"a" * 3000 + b"!\r\n" for _ in range(count))
    return hostile + build_email(**fields)


SET_ASIDE_REFS = ('[[rule]]\nname = "agency refs"\nheader_regex = { "X-Ref" = "(a+)+$" }\naction = "review"\n'
                  'reason = "agency mail with a reference"\n')


def test_a_mail_s_rules_have_one_budget_not_one_per_header(tmp_path):
    """Many headers against one slow expression stop at the mail's budget for rules, not 0.25 s per header."""
    hostile = parse_email(many_headers(24, subject="Data Analyst"))
    started = time.monotonic()
    explanation = explain(hostile, ruleset(tmp_path, SET_ASIDE_REFS), JOBS, PIPELINES, SOURCES)
    assert time.monotonic() - started < RULES_BUDGET + 1
    assert explanation.decision.undecided


def test_rules_not_decided_in_time_set_the_mail_aside_never_onward(tmp_path):
    """A rule meant to set mail aside that runs out of time does not let the mail through: the plan (of the
    run and the previews) sets it aside, saying the rules could not be decided in time."""
    raw = many_headers(24, sender=("Ann", "ann@example.org"), subject="Data Analyst",
                       attachments=[("cv.pdf", PDF, "application/pdf")])
    planned = plan(parse_email(raw), FlowOptions(), ruleset(tmp_path, SET_ASIDE_REFS),
                   Directory(JOBS, PIPELINES, SOURCES))
    assert planned.status == Status.REVIEW
    assert "could not be decided in time" in planned.reason and "agency refs" in planned.reason
    assert planned.decision is not None and planned.decision.job is None


@pytest.mark.parametrize(("rules", "decided"), [
    ('[[rule]]\nname = "r"\nheader_regex = { "X-Ref" = "(a+)+$" }\nsubject = "nothing like it"\njob_code = "ENG-7"\n',
     "job title in the subject"),
    ('[[rule]]\nname = "r"\nany = [ { header_regex = { "X-Ref" = "(a+)+$" } }, { subject = "data" } ]\n'
     'job_code = "ENG-7"\n', "r"),
    ('[[rule]]\nname = "r"\nsubject = "data"\nnot = { header_regex = { "X-Ref" = "(a+)+$" } }\njob_code = "ENG-7"\n',
     None),
])
def test_a_timeout_leaves_a_rule_undecided_only_when_its_answer_depends_on_it(tmp_path, rules, decided):
    """A condition that does not hold, or an alternative that does, decides the rule despite a timeout."""
    explanation = explain(parse_email(many_headers(1, subject="Data Analyst")), ruleset(tmp_path, rules),
                          JOBS, PIPELINES, SOURCES)
    assert explanation.decision.undecided == (decided is None)
    assert decided is None or explanation.decision.rule == decided
    assert explanation.decision.notes
