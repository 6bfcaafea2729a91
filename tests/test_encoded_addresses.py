"""RFC 2047 encoded words are never part of an address (RFC 2047 section 5): a From, a forwarded header or a
recipient whose addr-spec holds one has no usable address, and the candidate comes from elsewhere (the CV)."""

from __future__ import annotations

import pytest

from daemon.domain import Person
from daemon.intake.applicant import PersonName, applicant_name
from daemon.intake.planning import Directory, FlowOptions, plan
from daemon.mail.forwards import find_candidate
from daemon.mail.inline_forward import person
from daemon.mail.parsing import parse_email, read_sender
from daemon.routing import RuleSet
from tests.inprocess import in_process_world  # noqa: F401 (the fixture `world`)
from tests.mailfactory import build_email, forwarded
from tests.test_rules_decide import JOBS, PIPELINES, SOURCES
from tests.world import PDF

# the sandbox reads the address and the PDF's author
CV_WITH_ADDRESS = b"%PDF-1.4\n<< /Author (Kim Reader) >>\n% the CV of kim.reader@example.org\n%%EOF\n"
CV_WITHOUT_ADDRESS = b"%PDF-1.4\n% a CV that names no address\n%%EOF\n"
ENCODED_FROMS = [
    ("=?utf-8?q?jane?=@example.org", ""),
    ("Jane <=?utf-8?q?jane?=@example.org>", "Jane"),
    ("Jane <jane@=?utf-8?q?example?=.org>", "Jane"),
    ("jane.=?utf-8?b?ZG9l?=@example.org", ""),
    ("=?utf-8?q?evil=40x.org?= <=?UTF-8?Q?a?=@b.org>", "evil@x.org"),
]




@pytest.mark.parametrize(("value", "name"), ENCODED_FROMS, ids=[v for v, _ in ENCODED_FROMS])
def test_a_from_with_an_encoded_word_in_its_address_has_no_address(value, name):
    """The sender's address is "" (never the encoded text taken literally); the name is still read."""
    assert read_sender(value) == (name, "")
    parsed = parse_email(build_email(sender=None, headers={"From": value}))
    assert (parsed.sender_name, parsed.sender_email) == (name, "")


@pytest.mark.parametrize(("value", "address"), [
    ("Jane <jane@example.org>", "jane@example.org"),
    ("=?utf-8?q?J=C3=B6rg?= <joerg+cv@example.org>", "joerg+cv@example.org"),
    ("o'brien@example.ie", "o'brien@example.ie"),
    ("Jöhn <jdöe@mächine.example>", "jdöe@mächine.example"),
])
def test_ordinary_addresses_are_still_read(value, address):
    """Plus tags, apostrophes, UTF-8 addresses (RFC 6532) and encoded display names stay as they were."""
    assert read_sender(value)[1] == address


def test_an_encoded_recipient_is_not_a_recipient():
    """A To whose addr-spec is an encoded word gives no recipient, so no rule routes by its decoded text."""
    raw = (b"From: Ann <ann@example.org>\r\nTo: =?utf-8?q?jobs+data?=@acme.test, Jobs <jobs@acme.test>\r\n"
           b"Cc: =?utf-8?q?R=C3=A9a?= <rea@acme.test>\r\nSubject: Hi\r\n\r\nbody\r\n")
    assert parse_email(raw).recipients == ("jobs@acme.test", "rea@acme.test")


@pytest.mark.parametrize(("value", "expected"), [
    ("Jane <=?utf-8?q?jane?=@example.org>", Person("Jane", "")),
    ("Jane Doe [mailto:=?utf-8?q?jane?=@example.org]", Person("Jane Doe", "")),
    ("=?utf-8?q?jane?=@example.org", Person("", "")),
])
def test_a_forwarded_from_line_with_an_encoded_address_gives_no_address(value, expected):
    """The original sender of an inline forward keeps a name, never an encoded word as the address."""
    assert person(value) == expected


def test_an_attached_original_from_an_encoded_address_is_not_its_candidate():
    """A forward as attachment whose original From is encoded: no candidate address from it; a person decides."""
    inner = build_email(sender=None, headers={"From": "Jane <=?utf-8?q?jane?=@example.org>"}, subject="Application",
                        attachments=[("cv.pdf", PDF, "application/pdf")])
    outer = build_email(sender=("Rita Recruiter", "rita@acme.test"), subject="Fwd: Application",
                        attachments=[forwarded(inner)])
    search = find_candidate(parse_email(outer), ("acme.test",))
    assert all("=?" not in c.person.address for c in search.candidates)
    assert search.needs_person


def test_an_undecodable_encoded_display_name_is_not_the_applicant_s_name():
    """A display name still holding an encoded word gives way to the CV's name."""
    assert applicant_name("=?x-unknown?q?Jane?=", {"first_name": "Kim", "last_name": "Reader"},
                          "kim.reader@example.org") == PersonName("Kim", "", "Reader")


def test_the_plan_takes_the_candidate_from_the_cv_not_from_an_encoded_sender():
    """rules test, the dry run and the run plan the CV's person, never the encoded text, as the candidate."""
    raw = build_email(sender=None, headers={"From": "=?utf-8?q?jane?=@example.org"}, subject="Data Analyst",
                      attachments=[("cv.pdf", CV_WITH_ADDRESS, "application/pdf")])
    planned = plan(parse_email(raw), FlowOptions(), RuleSet(), Directory(JOBS, PIPELINES, SOURCES))
    assert [c.from_cv for c in planned.candidacies] == [True]
    assert all(c.person is None or "=?" not in c.person.address for c in planned.candidacies)


def test_the_run_creates_the_applicant_with_the_cv_s_address(world):
    """In the ATS the applicant's email is the one read in the CV, never `=?utf-8?q?jane?=@example.org`."""
    world.deliver(build_email(sender=None, headers={"From": "Jane <=?utf-8?q?jane?=@example.org>"},
                              subject="Data Analyst", attachments=[("cv.pdf", CV_WITH_ADDRESS, "application/pdf")]))
    world.poll()
    assert [a["email"] for a in world.sandbox.state()["applicants"]] == ["kim.reader@example.org"]
    [record] = world.store.messages()
    assert record.status == "submitted" and "=?" not in record.sender_email


def test_the_run_sets_aside_an_encoded_sender_whose_cv_names_no_address(world):
    """No usable address in the mail nor in the CV: set aside for a person, nothing created in the ATS."""
    world.deliver(build_email(sender=None, headers={"From": "=?utf-8?q?jane?=@example.org"},
                              subject="Data Analyst", attachments=[("cv.pdf", CV_WITHOUT_ADDRESS, "application/pdf")]))
    world.poll()
    assert world.sandbox.state()["applicants"] == []
    [record] = world.store.messages()
    assert record.status == "review" and "address" in record.reason


@pytest.mark.parametrize(("read", "expected"), [
    ("Kim.Reader@example.org", "kim.reader@example.org"),
    ("=?utf-8?q?kim?=@example.org", ""),
    ("kim reader@example.org", ""),
])
def test_the_ats_reading_of_the_cv_gives_an_address_only_when_it_is_one(read, expected):
    """The address the ATS reads in a CV is held to the same rule as the mail's: an encoded word or
    anything but an addr-spec is no address (the mail is then set aside, never written as read)."""
    from types import SimpleNamespace

    from daemon.intake.submission import _address

    app = SimpleNamespace(who=SimpleNamespace(address=""), forwarder=None)
    assert _address(app, [{"parsed": {"email": read}}]) == expected
