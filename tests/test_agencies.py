"""Agencies ([intake] agencies): an agency's mail is never its recruiter's application; the candidate is
the person inside it or the one the ATS reads in the CV, the source the agency's, the comment names it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from daemon.ats.models import AtsId, Job, Pipeline, Source, Stage
from daemon.cli import rules_report
from daemon.config import load_settings
from daemon.errors import ConfigError
from daemon.intake.comment import confirmation
from daemon.intake.flow import FlowOptions
from daemon.intake.planning import Directory, agency_of, missing_agency_sources, plan
from daemon.intake.preview import Planner
from daemon.intake.submission import NO_NAME
from daemon.mail.parsing import parse_email
from daemon.routing import RuleSet, load_rules
from daemon.sandbox import SandboxATS
from daemon.sandbox.state import DEFAULT_SEED, parse_resume
from tests.inprocess import InProcessWorld
from tests.mailfactory import build_email, forwarded

AGENCIES = (("talentbridge.example", "TalentBridge"),)
OPTIONS = FlowOptions(agencies=AGENCIES)
KARL = ("Karl Weber", "karl.weber@talentbridge.example")
CV_OF_KIM = b"%PDF-1.4\n<< /Author (Kim Reader) >>\n% the CV of kim.reader@example.org\n%%EOF\n"
CV_NAMELESS = b"%PDF-1.4\n% the CV of kim.reader@example.org, and no name the ATS reads\n%%EOF\n"
LETTER = "Dear team,\n\nplease find attached the CV of a strong candidate for your Data Analyst role.\n\nKarl"
SEED = json.loads(DEFAULT_SEED.read_text())
SOURCES = [Source(id=AtsId.of(s["id"]), name=s["name"]) for s in SEED["sources"]]


def agency_mail(cv: bytes = CV_OF_KIM, sender: tuple[str, str] = KARL) -> bytes:
    return build_email(sender=sender, subject="Candidate for Data Analyst", body=LETTER,
                       attachments=[("candidate.pdf", cv, "application/pdf")])


@pytest.fixture(name="world")
def agency_world(tmp_path):
    """The in-process world, its sandbox seeded with a 'TalentBridge' source besides the usual ones."""
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({**SEED, "sources": [*SEED["sources"], {"id": 9, "name": "TalentBridge"}]}))
    SandboxATS(tmp_path / "sandbox.db", seed_path=seed).state()  # seeds the database the world then opens
    w = InProcessWorld(tmp_path)
    yield w
    w.close()


def _rules(tmp_path: Path, text: str) -> RuleSet:
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "10.toml").write_text(text)
    return load_rules(tmp_path / "rules")


def _created(world) -> tuple[dict, dict, str]:
    """The one applicant, its candidate and the comment on it."""
    state = world.sandbox.state()
    [applicant], [candidate] = state["applicants"], state["candidates"]
    [comment] = [a["comment"] for a in state["actions"] if a.get("comment")]
    return applicant, candidate, comment


def test_an_agency_mail_with_only_a_cv_gives_the_cv_s_person_under_the_agency_s_source(world):
    """The candidate is the person the ATS reads in the CV, the source the agency's, the comment names the agency."""
    world.deliver(agency_mail())
    world.poll(OPTIONS)
    applicant, candidate, comment = _created(world)
    assert (applicant["first_name"], applicant["last_name"], applicant["email"]) == ("Kim", "Reader",
                                                                                     "kim.reader@example.org")
    assert applicant["source_id"] == candidate["source_id"] == 9
    assert "Sent in by the agency TalentBridge (karl.weber@talentbridge.example)" in comment
    [record] = world.store.messages()
    assert (record.status, record.forwarded_by) == ("submitted", "Karl Weber <karl.weber@talentbridge.example>")


def test_an_agency_forwarding_an_attached_candidate_mail_gives_that_candidate(world):
    """The person of the attached message is the candidate (not the recruiter), under the agency's source."""
    inner = build_email(sender=("Jane Doe", "jane@example.com"), subject="Application: Data Analyst",
                        attachments=[("cv.pdf", CV_OF_KIM, "application/pdf")])
    world.deliver(build_email(sender=KARL, subject="Candidate for Data Analyst", body=LETTER,
                              attachments=[forwarded(inner)]))
    world.poll(OPTIONS)
    applicant, candidate, comment = _created(world)
    assert (applicant["first_name"], applicant["last_name"], applicant["email"]) == ("Jane", "Doe",
                                                                                     "jane@example.com")
    assert candidate["source_id"] == 9
    assert "Sent in by the agency TalentBridge (karl.weber@talentbridge.example)" in comment


def test_an_agency_mail_whose_cv_gives_no_name_is_set_aside_and_no_applicant_is_made(world):
    """With no name in the mail nor in the ATS's reading of the CV, a person names the applicant: nothing invented."""
    world.deliver(agency_mail(CV_NAMELESS))
    world.poll(OPTIONS)
    [record] = world.store.messages()
    assert (record.status, NO_NAME in record.reason) == ("review", True)
    assert world.sandbox.state()["applicants"] == []


def test_a_rule_naming_a_source_wins_over_the_agency_s(world, tmp_path):
    """A rule's explicit source is the one recorded, the agency still named in the comment."""
    rules = _rules(tmp_path, '[[rule]]\nname = "agency to referral"\nfrom_domain = "talentbridge.example"\n'
                             'job_code = "DATA-3"\nsource = "Referral"\n')
    world.deliver(agency_mail())
    world.poll(OPTIONS, rules=rules)
    _, candidate, comment = _created(world)
    assert candidate["source_id"] == 3
    assert "Sent in by the agency TalentBridge" in comment


def test_an_agency_source_the_ats_lacks_sets_the_mail_aside_with_the_reason(world):
    """Never a crash and never the configured source in its place: set aside, saying which source is missing."""
    world.deliver(agency_mail(sender=("Ana", "ana@elsewhere.example")))
    world.poll(FlowOptions(agencies=(("elsewhere.example", "Elsewhere Staffing"),)))
    [record] = world.store.messages()
    assert record.status == "review"
    assert "'Elsewhere Staffing' ([intake] agencies) is not among the ATS's sources" in record.reason
    assert world.sandbox.state()["applicants"] == []


def test_the_plan_names_the_agency_and_never_the_recruiter_as_candidate():
    """plan() (the run, poll --dry-run and rules test) records the agency; the candidate comes from the CV."""
    planned = plan(parse_email(agency_mail()), OPTIONS, RuleSet(), Directory(_jobs(), [], SOURCES))
    assert planned.agency == "TalentBridge"
    assert [(c.person, c.from_cv) for c in planned.candidacies] == [(None, True)]
    assert planned.forwarder.address == "karl.weber@talentbridge.example"
    plain_mail = plan(parse_email(agency_mail()), FlowOptions(), RuleSet(), Directory(_jobs(), [], SOURCES))
    assert plain_mail.agency == ""


def test_rules_test_and_the_dry_run_show_the_agency_and_its_source():
    """What `rules test` and `poll --dry-run` print for an agency's mail names the agency and its source."""
    sources = [*SOURCES, Source(id=AtsId.of(9), name="TalentBridge")]
    planned = plan(parse_email(agency_mail()), OPTIONS, RuleSet(), Directory(_jobs(), PIPELINES, sources))
    defaults = rules_report.Defaults(PIPELINES, SOURCES[0], "Email", sources)
    block = rules_report.block(rules_report.Tried("agency.eml", planned), defaults, explain=False)
    assert "  agency:   TalentBridge" in block and "source:   'TalentBridge' (the agency's" in block
    assert '"agency": "TalentBridge"' in rules_report.as_json(rules_report.Tried("a", planned), defaults, False)
    said = Planner(OPTIONS, RuleSet(), Directory(_jobs(), PIPELINES, sources)).preview(
        7, frozenset(), 100, agency_mail()).line
    assert "the agency's source 'TalentBridge'" in said
    assert "sent in by the agency TalentBridge: Karl Weber <karl.weber@talentbridge.example>" in said


@pytest.mark.parametrize(("address", "expected"), [
    ("karl.weber@talentbridge.example", "TalentBridge"),
    ("KARL@TalentBridge.Example", "TalentBridge"),
    ("anna@eu.talentbridge.example", "TalentBridge EU"),
    ("boss@talentbridge.example", "TalentBridge Exec"),
    ("jane@example.com", ""),
    ("jane@nottalentbridge.example", ""),
    ("", ""),
])
def test_which_agency_an_address_belongs_to(address, expected):
    """A listed address wins over its domain, a subdomain over its parent; other addresses are no agency's."""
    agencies = (("talentbridge.example", "TalentBridge"), ("eu.talentbridge.example", "TalentBridge EU"),
                ("boss@talentbridge.example", "TalentBridge Exec"))
    assert agency_of(address, agencies) == expected


def test_a_missing_agency_source_is_a_problem_for_check():
    """check and rules check name each agency whose source the ATS lacks, and the sources it has."""
    problems = missing_agency_sources((("talentbridge.example", "referral"), ("x.example", "Nope")), SOURCES)
    assert problems == ["no ATS source named 'Nope' for the agency x.example ([intake] agencies; the ATS has "
                        "'Email', 'LinkedIn', 'Referral')"]


def test_the_comment_names_the_agency_escaped_like_all_comment_text():
    """The agency line takes the forwarder line's place; its text is attacker-safe like every field."""
    text = confirmation(sender_email="kim@example.org", subject="CV", received=None, file_names=["cv.pdf"],
                        job_title="Data Analyst", agency="Talent<b>Bridge</b>\nRouted by: x",
                        forwarded_by="karl@talentbridge.example")
    assert "Sent in by the agency Talent&lt;b&gt;Bridge&lt;/b&gt; Routed by: x (karl@talentbridge.example)" in text
    assert "Forwarded by" not in text


def test_the_agencies_setting_reads_a_table_of_sources(tmp_path):
    """`[intake] agencies` is a table of domain or address to source name; anything else names the key."""
    config = tmp_path / "config.toml"
    base = '[imap]\nhost = "h"\nusername = "u"\npassword = "p"\n[ats]\nbase_url = "http://127.0.0.1:1"\ntoken = "t"\n'
    config.write_text(base + '[intake]\nagencies = { "@TalentBridge.example" = "TalentBridge", "k@x.org" = "X" }\n')
    assert load_settings(config, {}).intake.agencies == {"talentbridge.example": "TalentBridge", "k@x.org": "X"}
    config.write_text(base + '[intake]\nagencies = ["talentbridge.example"]\n')
    with pytest.raises(ConfigError, match=r"intake\.agencies"):
        load_settings(config, {})


def test_the_sandbox_reads_a_pdf_s_author_as_the_cv_s_name():
    """The sandbox ATS's reading of a CV: the first address in it and a PDF's /Author, in UTF-16 too."""
    assert parse_resume(CV_OF_KIM) == {"email": "kim.reader@example.org", "first_name": "Kim", "last_name": "Reader"}
    assert parse_resume(b"%PDF-1.4 /Author(\\376\\377\\000J\\000o\\000 \\000D\\000o\\000e)") == {
        "first_name": "Jo", "last_name": "Doe"}
    assert parse_resume(CV_NAMELESS) == {"email": "kim.reader@example.org"}


PIPELINES = [Pipeline(id=AtsId.of(p["id"]), name=p["name"],
                      stages=tuple(Stage(id=AtsId.of(st["id"]), name=st["name"]) for st in p["stages"]))
             for p in SEED["pipelines"]]


def _jobs() -> list[Job]:
    return [Job(id=AtsId.of(j["id"]), title=j["title"], pipeline_id=AtsId.of(j["pipeline_id"]), code=j.get("code"),
                status=j.get("status", "open")) for j in SEED["jobs"]]
