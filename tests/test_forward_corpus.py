"""Forward recognition over real clients' forwards (tests/fixtures/forwards, see its README) and controls."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from daemon.domain import Person
from daemon.mail import inline_forward as recogniser
from daemon.mail.inline_forward import InlineForward, inline_forward, is_forward_subject, strip_prefixes
from daemon.mail.parsing import parse_email

FORWARDS = Path(__file__).parent / "fixtures" / "forwards"
SUBJECT = "Integer consequat non purus"
SHARE_REQUIRED = 0.95


def _rows() -> list[list[str]]:
    lines = (FORWARDS / "expected.tsv").read_text(encoding="utf-8").splitlines()
    return [line.split("\t") for line in lines if line and not line.startswith("#")]


ROWS = _rows()
FORWARD_ROWS = [row for row in ROWS if row[5] != "variant 4"]
REPLY_ROWS = [row for row in ROWS if row[5] == "variant 4"]  # crisp's "not forwarded" bodies: replies


def body(name: str) -> str:
    """The text the recogniser reads: a body file, or the parsed body of a whole mail (.eml)."""
    path = FORWARDS / name
    if path.suffix == ".eml":
        return parse_email(path.read_bytes()).body_text
    return (FORWARDS / f"{name}.txt").read_text(encoding="utf-8") if not path.suffix else path.read_text("utf-8")


def recognised(text: str, subject: str) -> InlineForward | None:
    """What `find_candidate` gets for a mail with this body and subject (no internal sender)."""
    return inline_forward(text, expect_forward=is_forward_subject(subject))


CLIENTS = {  # file name prefix: the client that wrote it
    "apple_mail": "Apple Mail", "crafted-applemail": "Apple Mail", "gmail": "Gmail", "hubspot": "HubSpot",
    "ionos": "IONOS by 1&1", "mailmate": "MailMate", "missive": "Missive", "outlook_live": "Outlook Live / 365",
    "outlook_2013": "Outlook 2013", "new_outlook_2019": "new Outlook 2019", "outlook_2019": "Outlook 2019",
    "crafted-outlook": "Outlook desktop", "thunderbird": "Thunderbird", "crafted-thunderbird": "Thunderbird",
    "yahoo": "Yahoo Mail", "crafted-blackberry": "BlackBerry", "crafted-mailru": "Mail.ru",
    "crafted-yandex": "Yandex", "unknown": "",
}


def test_the_fixture_set_spans_fifteen_clients_and_fifteen_languages() -> None:
    """The forwards come from at least 15 clients and 15 languages."""
    names = [row[0] for row in FORWARD_ROWS] + [name for name, *_ in CRAFTED]
    clients = {CLIENTS[max((p for p in CLIENTS if name.startswith(p)), key=len)] for name in names} - {""}
    languages = {match.group(1).replace("cz", "cs") for name in names
                 if (match := re.search(r"_([a-z]{2}(?:_br)?)_body", name))}
    assert len(clients) >= 15, sorted(clients)
    assert len(languages) >= 15, sorted(languages)


def test_the_original_sender_is_right_in_at_least_95_percent(capsys: pytest.CaptureFixture[str]) -> None:
    """Over every real forward (read as a mail with a Fwd: subject), the original sender is right 95 % of the time."""
    missed = []
    for name, _subject_file, address, display, _subject, _case in FORWARD_ROWS:
        found = inline_forward(body(name), expect_forward=True)
        if found is None or found.sender != Person(display, address):
            missed.append(f"{name}: {found and found.sender}")
    share = 1 - len(missed) / len(FORWARD_ROWS)
    with capsys.disabled():
        print(f"\nforward corpus: {len(FORWARD_ROWS) - len(missed)} of {len(FORWARD_ROWS)} right ({share:.1%});"
              f" missed: {missed}")
    assert share >= SHARE_REQUIRED, missed


@pytest.mark.parametrize("row", [row for row in FORWARD_ROWS if row[5] == "common"], ids=lambda row: row[0])
def test_each_common_forward_gives_its_sender_and_subject(row: list[str]) -> None:
    """Each single forward of the set gives John Doe and the original subject, as the set's own tests expect."""
    name, subject_file, address, display, subject, _case = row
    subject_line = (FORWARDS / f"{subject_file}.txt").read_text("utf-8").strip() if subject_file else "Fwd: x"
    found = recognised(body(name), subject_line)
    assert found is not None
    assert found.sender == Person(display, address)
    if name.startswith("outlook_2019_"):  # a "wrote:" line has no subject: find_candidate takes the mail's
        subject = ""
    if name != "yahoo_pt_body":  # Yahoo writes "Assunto" there without its colon
        assert found.subject == subject


@pytest.mark.parametrize("path", sorted(FORWARDS.glob("*_subject*.txt")), ids=lambda path: path.name)
def test_every_client_subject_prefix_is_read(path: Path) -> None:
    """Each client's forward prefix (FW:, VS:, WG:, RV:, TR:, I:, PD:, ENC:, VB:, VL:, İLT:, ...) is a forward."""
    subject = path.read_text("utf-8").strip()
    assert is_forward_subject(subject) == (not subject.startswith("Re:"))
    assert strip_prefixes(subject) == SUBJECT


@pytest.mark.parametrize(("subject", "forward", "stripped"), [
    ("Doorst: Sollicitatie", True, "Sollicitatie"),
    ("Přeposlat: Žádost", True, "Žádost"),
    ("Továbbítás: Önéletrajz", True, "Önéletrajz"),
    ("转发: 简历", True, "简历"),
    ("转发：简历", True, "简历"),
    ("轉寄: 履歷", True, "履歷"),
    ("전달: 이력서", True, "이력서"),
    ("回复: 简历", False, "简历"),
    ("答复: 简历", False, "简历"),
    ("RE: FW: Application", False, "Application"),
    ("Fwd: AW: Bewerbung", True, "Bewerbung"),
    ("Пересл: Резюме", True, "Резюме"),
    ("Bewerbung: Backend", False, "Bewerbung: Backend"),
    ("Information: my CV", False, "Information: my CV"),
])
def test_subject_prefixes_of_more_languages(subject: str, forward: bool, stripped: str) -> None:
    """Forward and reply prefixes as the clients write them; a word that only looks like one is kept."""
    assert is_forward_subject(subject) is forward
    assert strip_prefixes(subject) == stripped


# Crafted forwards for shapes the set lacks: file, subject of the mail, expected sender, original subject.
CRAFTED = [
    ("crafted-thunderbird-html-only.eml", "Fwd: Application Backend Engineer",
     Person("Jane Candidate", "jane.candidate@example.org"), "Application Backend Engineer"),
    ("crafted-mailru-html-only.eml", "Fwd: Резюме", Person("Иван Петров", "ivan.petrov@example.ru"), "Резюме"),
    ("crafted-yandex-body.txt", "Fwd: Резюме", Person("Иван Петров", "ivan.petrov@example.ru"), ""),
    ("crafted-blackberry-body.txt", "Fw: Application", Person("Jane Candidate", "jane.candidate@example.org"),
     "Application"),
    ("crafted-applemail-fr-reply-to-body.txt", "Tr: Candidature",
     Person("Jeanne Dupont", "jeanne.dupont@example.fr"), "Candidature"),
    ("crafted-outlook-zh-fullwidth-body.txt", "转发: 应聘后端工程师", Person("王伟", "wang.wei@example.cn"),
     "应聘后端工程师"),
]


@pytest.mark.parametrize(("name", "subject", "sender", "original"), CRAFTED, ids=[row[0] for row in CRAFTED])
def test_odd_shapes_give_the_original_sender(name: str, subject: str, sender: Person, original: str) -> None:
    """HTML-only header tables, Yandex's line, BlackBerry's blank lines, Reply-To and full-width colons are read."""
    found = recognised(body(name), subject)
    assert found is not None
    assert (found.sender, found.subject, found.at_top) == (sender, original, True)


# Controls that are not forwards: file, the mail's subject, and whether it also holds with a Fwd: subject.
CONTROLS = [
    ("crafted-control-own-letter.txt", "Application Backend Engineer", True),
    ("crafted-control-reply-wrote.txt", "Re: Interview", False),
    ("crafted-control-outlook-reply.txt", "RE: Your application", False),  # with FW: it is Outlook's forward
    ("crafted-control-reference-below.txt", "Application Backend Engineer", True),
    ("crafted-control-reply-quoting-forward.txt", "Re: Open role", True),
] + [(f"{row[0]}.txt", "Re: " + SUBJECT, False) for row in REPLY_ROWS]


def taken(found: InlineForward | None) -> Person | None:
    """The quoted person a control would put forward: a sender recognised at the top of the body."""
    return found.sender if found is not None and found.at_top else None


@pytest.mark.parametrize(("name", "subject", "also_as_forward"), CONTROLS, ids=[row[0] for row in CONTROLS])
def test_no_control_yields_a_person(name: str, subject: str, also_as_forward: bool) -> None:
    """A letter, a reply, a pasted reference or a signature never gives a quoted person as the candidate."""
    text = body(name)
    assert taken(recognised(text, subject)) is None
    if also_as_forward:  # as if the subject said Fwd: or an internal colleague sent it
        assert taken(inline_forward(text, expect_forward=True)) is None


@pytest.mark.parametrize(("text", "top"), [
    ("---------- Forwarded message ---------\nFrom: A <a@example.org>\nSubject: x\n", True),
    ("Short note.\n\n---------- Forwarded message ---------\nFrom: A <a@example.org>\nSubject: x\n", True),
    ("\n".join(["a line of a long letter"] * 16) + "\n---------- Forwarded message ---------\n"
     "From: A <a@example.org>\nSubject: x\n", False),
    ("\n".join(["a line of a note"] * 15) + "\n\n---------- Forwarded message ---------\n"
     "From: A <a@example.org>\nSubject: x\n", True),
    ("Thanks!\n> quoted text\n\n---------- Forwarded message ---------\nFrom: A <a@example.org>\nSubject: x\n", False),
    ("> Begin forwarded message:\n>\n> From: A <a@example.org>\n> Subject: x\n", True),
    ("Hi\n\nFrom: A <a@example.org>\nDate: today\nSubject: x\n", True),
])
def test_at_top_says_whether_the_forward_opens_the_body(text: str, top: bool) -> None:
    """at_top: the separator (or block) follows at most a 15-line note with nothing quoted above it."""
    found = inline_forward(text, expect_forward=True)
    assert found is not None and found.sender == Person("A", "a@example.org")
    assert found.at_top is top


def test_a_wrote_line_counts_only_when_the_mail_is_a_forward() -> None:
    """Outlook 2019's "wrote:" line gives the sender of a Fwd: mail and nothing in a reply."""
    text = body("outlook_2019_en_body")
    assert inline_forward(text, expect_forward=False) is None
    found = inline_forward(text, expect_forward=True)
    assert found is not None and found.sender == Person("John Doe", "john.doe@acme.com")


class _CountingPattern:
    """A compiled pattern that counts the characters its match calls were given."""

    def __init__(self, pattern: re.Pattern[str], counter: list[int]) -> None:
        self.pattern, self.counter = pattern, counter

    def __getattr__(self, name: str):
        method = getattr(self.pattern, name)

        def counted(text: str, *args):
            self.counter[0] += len(text)
            return method(text, *args)

        return counted


def _work(monkeypatch: pytest.MonkeyPatch, text: str) -> int:
    counter = [0]
    for name in ("_FIELD_LINE", "_GLUED_LABEL", "_SEPARATOR_START", "_FORWARD_SEPARATOR", "_ORIGINAL_SEPARATOR",
                 "_WROTE_ADDRESS", "_QUOTE_MARKS"):
        monkeypatch.setattr(recogniser, name, _CountingPattern(getattr(recogniser, name), counter))
    inline_forward(text, expect_forward=True)
    return counter[0]


@pytest.mark.parametrize("unit", [
    "From: x\nTo: y\nDa: ",  # label-like lines
    "----- Forwarded Message ----- From: a <b@c>To: d" + "Cc: e" * 30 + "\n",  # Yahoo-like glued lines
    'On 1/1, "N" <a@b.c' + "<" * 50 + " wrote:\n",  # "wrote:"-like lines full of brackets
    "> " * 200 + "From:" + " " * 2000 + "\n",  # quote marks and an overlong line
])
def test_the_scan_stays_linear_on_hostile_input(monkeypatch: pytest.MonkeyPatch, unit: str) -> None:
    """Ten times the hostile text costs the patterns at most ten times the characters (about 100,000 chars)."""
    small = unit * (10_000 // len(unit) + 1)
    large = small * 10
    assert len(large) >= 100_000
    ratio = _work(monkeypatch, large) / _work(monkeypatch, small)
    assert ratio <= 10.5
