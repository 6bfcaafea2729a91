"""Who the candidate is: chains of forwards, and a candidate's own mail that quotes a forwarded one."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from daemon.domain import Person
from daemon.mail.forwards import FOUND_BY_SENDER, find_candidate
from daemon.mail.inline_forward import inline_forward
from daemon.mail.parsing import parse_email
from tests.mailfactory import build_email, forwarded

INTERNAL = ("acme.test",)
CV = ("Anna Berg CV.pdf", b"%PDF-1.4 anna", "application/pdf")
ANNA = Person("Anna Berg", "anna.berg@example.org")
FRIEND = Person("Bo Friend", "bo@friends.example")
BOSS = Person("Olle Manager", "olle@oldjob.example")
RITA = Person("Rita Recruiter", "rita@acme.test")
COLLEAGUES = tuple(Person(f"Colleague {n}", f"c{n}@hr.acme.test") for n in range(10))
LETTER = "\n".join(f"Line {n} of my letter about why I want this job." for n in range(1, 19))


@dataclass
class Mail:
    """A mail as a chain builder sees it, turned into bytes by `build`."""

    sender: Person
    subject: str
    body: str
    files: list = field(default_factory=list)

    def build(self) -> bytes:
        return build_email(sender=(self.sender.name, self.sender.address), subject=self.subject, body=self.body,
                           attachments=self.files)


def header(mail: Mail) -> str:
    return (f"---------- Forwarded message ---------\nFrom: {mail.sender.name} <{mail.sender.address}>\n"
            f"Date: Mon, 5 Jan 2026 at 09:00\nSubject: {mail.subject}\nTo: someone@example.net\n\n")


def forward(mail: Mail, by: Person, how: str, note: str = "Please have a look.") -> Mail:
    """`by` forwards `mail`: inline (the files carried along) or as an attached message."""
    if how == "inline":
        return Mail(by, f"Fwd: {mail.subject}", f"{note}\n\n{header(mail)}{mail.body}", list(mail.files))
    return Mail(by, f"Fwd: {mail.subject}", f"{note}\n", [forwarded(mail.build())])


def chain(links: list[Person], hows: list[str]) -> Mail:
    """Anna's application forwarded along `links` (first forwarder first), each link as `hows` says."""
    mail = Mail(ANNA, "Application for the data role", "Hello,\nplease find my CV attached.\nAnna\n", [CV])
    for by, how in zip(links, hows, strict=True):
        mail = forward(mail, by, how)
    return mail


def search(mail: Mail):
    return find_candidate(parse_email(mail.build()), INTERNAL)


SHAPES = {
    "inline": lambda n: ["inline"] * n,
    "attached": lambda n: ["attached"] * n,
    "mixed": lambda n: ["inline" if k % 2 else "attached" for k in range(n)],  # attached messages hold inline ones
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("length", range(2, 11))
def test_a_chain_of_colleagues_gives_the_original_author(length: int, shape: str) -> None:
    """A mail forwarded 2 to 10 times by colleagues: the candidate is Anna, the forwarder the last colleague."""
    links = [*COLLEAGUES[: length - 1], RITA]
    found = search(chain(links, SHAPES[shape](length)))
    assert [c.person for c in found.candidates] == [ANNA]
    assert found.forwarder == RITA
    assert not found.needs_person
    assert [f.filename for f in found.candidate.attachments] == [CV[0]]


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("length", [2, 3, 6, 10])
def test_an_outside_friend_who_plainly_forwards_is_a_link_of_the_chain(length: int, shape: str) -> None:
    """A friend forwarding Anna's CV (Fwd:, a short note on top) to colleagues: Anna, never the friend."""
    links = [FRIEND, *COLLEAGUES[: length - 2], RITA]
    found = search(chain(links, SHAPES[shape](length)))
    assert [c.person for c in found.candidates] == [ANNA]
    assert found.forwarder == RITA


def test_an_outside_friend_who_forwards_straight_to_jobs_is_the_forwarder() -> None:
    """A friend's plain forward of Anna's mail, sent to the jobs address: Anna, forwarded by the friend."""
    found = search(chain([FRIEND], ["inline"]))
    assert (found.candidate.person, found.forwarder) == (ANNA, FRIEND)


def test_an_outside_link_that_writes_a_letter_above_the_block_is_the_author() -> None:
    """A middle link with a long text of its own above the block wrote that mail: the chain stops there."""
    own = forward(Mail(BOSS, "Reference", "Anna was great.\n"), FRIEND, "inline", note=LETTER)
    own.subject = "Application"
    found = search(forward(own, RITA, "inline"))
    assert found.candidate.person == FRIEND


def pasted(letter: str, subject: str, quoted: bool = False) -> Mail:
    """Anna's own mail: her letter, then her former manager's reference pasted below it."""
    reference = header(Mail(BOSS, "Reference for Anna", "")) + "Anna was the best analyst I had.\nOlle\n"
    if quoted:
        reference = "\n".join(f"> {line}" for line in reference.splitlines())
    return Mail(ANNA, subject, f"{letter}\n\n{reference}", [CV])


# name: (mail, note) - none of these is a forward of the quoted person's application
CONTROLS = {
    "reference below a short letter, no Fwd:": pasted("Hello, I apply; a reference is below.\nAnna", "Application"),
    "reference below a long letter, no Fwd:": pasted(LETTER, "Application"),
    "reference below a long letter, Fwd:": pasted(LETTER, "Fwd: Reference for Anna"),
    "reference quoted with '>' below a long letter, Fwd:": pasted(LETTER, "Fwd: Reference", quoted=True),
    "reference quoted with '>' under a note, no Fwd:": pasted("Hello, see my reference.", "Reference", quoted=True),
    "reference at the very top, no Fwd:": pasted("", "Application with a reference"),
    "reference below a long letter, WG:": pasted(LETTER, "WG: Bewerbung"),
    "reference attached beside her CV": Mail(ANNA, "Application", "Hello,\nmy CV and a reference.\n",
                                             [CV, forwarded(Mail(BOSS, "Reference", "Anna was great.\n").build())]),
    "reference attached beside her CV and a long letter, Fwd:": Mail(
        ANNA, "Fwd: Reference", LETTER, [CV, forwarded(Mail(BOSS, "Reference", "Anna was great.\n").build())]),
    "her reply quoting the manager's Outlook header": Mail(
        ANNA, "RE: Application", "Thanks!\n\n-----Original Message-----\nFrom: Olle Manager <olle@oldjob.example>\n"
        "Sent: Monday\nTo: Anna\nSubject: Application\n\nSend me your CV.\n", [CV]),
}


@pytest.mark.parametrize("name", sorted(CONTROLS))
def test_no_control_ever_yields_the_quoted_person(name: str) -> None:
    """A candidate's own mail that quotes a forwarded message stays hers: the sender, nobody forwarding."""
    found = search(CONTROLS[name])
    assert [c.person for c in found.candidates] == [ANNA]
    assert found.candidate.found_by == FOUND_BY_SENDER
    assert found.forwarder is None
    assert BOSS.address not in {c.person.address for c in found.candidates}


def test_long_letter_then_a_forwarded_block_with_fwd_is_the_senders() -> None:
    """Fwd: in the subject but the block far below her own letter: not at the top, so the sender is the candidate."""
    found = search(Mail(FRIEND, "Fwd: Application", f"{LETTER}\n\n{header(Mail(ANNA, 'Application', ''))}hi\n", [CV]))
    assert found.candidate.person == FRIEND


def test_a_recruiters_short_note_then_the_block_is_the_inner_persons() -> None:
    """Fwd: and a short note above the block, from an outside recruiter: the inner person, the sender forwarding."""
    note = "\n".join(f"note line {n}" for n in range(1, 16))  # 15 lines: still a short note
    found = search(forward(Mail(ANNA, "Application", "My CV.\n", [CV]), FRIEND, "inline", note=note))
    assert (found.candidate.person, found.forwarder) == (ANNA, FRIEND)


def test_an_internal_sender_forwards_whatever_the_length_of_her_note() -> None:
    """Internal staff forward: a long note above the block and no Fwd: still give the inner person."""
    mail = forward(Mail(ANNA, "Application", "My CV.\n", [CV]), RITA, "inline", note=LETTER)
    mail.subject = "A candidate for you"
    found = search(mail)
    assert (found.candidate.person, found.forwarder) == (ANNA, RITA)


@pytest.mark.parametrize(("above", "at_top"), [
    ("", True),
    ("Short note.\nRita", True),
    ("\n".join(f"line {n}" for n in range(15)), True),
    ("\n".join(f"line {n}" for n in range(16)), False),
    ("> an earlier quoted line\nnote", False),
])
def test_at_top_is_a_short_unquoted_note_above_the_block(above: str, at_top: bool) -> None:
    """The block is at the top after at most 15 non-blank lines, none of them quoted."""
    text = f"{above}\n\n{header(Mail(ANNA, 'Application', ''))}hello\n"
    assert inline_forward(text, expect_forward=True).at_top is at_top
