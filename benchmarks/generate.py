"""Generated applications for the benchmark: deterministic, one mail at a time.

`mail(seed, n)` builds mail number `n` of a mailbox from `seed` and nothing else, so that
a duplicate is the same bytes built again and nothing needs to be held in memory. The mix
(per 100 mails, by `n`): 8 non-applications (a question, no attachment), 4 duplicates (an
earlier mail delivered again), 6 repeat applicants (an earlier sender, another job), the
rest first applications; CVs are PDF or DOCX of 100-400 KB, and `LARGE_EVERY`-th mail
carries a 10-20 MB CV. The CV's bytes are random (incompressible, as real files are) after
a text part that names the applicant's address (what the sandbox "reads" from a CV).

Each mail comes with a `Spec`: what the floor and the naive flow need to know without
parsing (sender, job, file name and type, where the base64 of the CV lies in the raw mail).
"""

from __future__ import annotations

import base64
import io
import random
import zipfile
from dataclasses import asdict, dataclass

JOBS = ("Senior Python Developer", "Python Developer", "Data Analyst", "Customer Support Specialist")
LARGE_EVERY = 500  # one mail in this many has a 10-20 MB CV (at least one per mailbox of 50 or more)
KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True, slots=True)
class Spec:
    """What a mail is, for scripts that do no parsing."""

    n: int
    kind: str  # "application", "other" (no CV) or "duplicate" (of mail `of`)
    email: str = ""
    name: str = ""
    job: str = ""
    filename: str = ""
    mime: str = ""
    span: tuple[int, int] = (0, 0)  # the CV's base64 in the raw mail
    of: int = 0

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Spec:
        return cls(**{**data, "span": tuple(data["span"])})  # type: ignore[arg-type]


DOCX_DATE = (2026, 1, 5, 9, 0, 0)  # every DOCX entry's date: mail n is the same bytes whenever it is built

def kind_of(n: int) -> str:
    slot = n % 100
    if slot in (7, 19, 33, 48, 56, 71, 84, 95):
        return "other"
    if n >= 20 and slot in (13, 41, 67, 89):
        return "duplicate"
    if n >= 20 and slot in (5, 23, 38, 52, 77, 91):
        return "repeat"
    return "application"


def mail(seed: int, n: int) -> tuple[bytes, Spec]:
    """The raw bytes of mail `n` and what it is."""
    kind = kind_of(n)
    if kind == "duplicate":
        original = _original(n)
        raw, spec = mail(seed, original)
        return raw, Spec(n, "duplicate", of=original, email=spec.email, job=spec.job)
    rng = random.Random(seed * 1_000_003 + n)  # noqa: S311 (test data, reproducible by seed)
    person = _original(n) if kind == "repeat" else n
    email, name = f"applicant{person}@example.org", f"Applicant {_word(person)} Example"
    job = JOBS[n % len(JOBS)]
    if kind == "other":
        return _question(n, email, name, job), Spec(n, "other", email=email, name=name)
    size = rng.randint(10 * MIB, 19 * MIB) if n % LARGE_EVERY == LARGE_EVERY // 2 else rng.randint(100 * KIB, 400 * KIB)
    docx = n % 3 == 0
    data = _docx(rng, email, size) if docx else _pdf(rng, email, size)
    filename, mime = (("cv.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
                      if docx else ("cv.pdf", "application/pdf"))
    raw, span = _application(n, email, name, job, filename, mime, data)
    return raw, Spec(n, "application", email, name, job, filename, mime, span)


def _word(n: int) -> str:
    """`n` spelt in letters (1 -> "B", 26 -> "Ba"): a person's name holds no digits, or it is no name."""
    letters = ""
    while True:
        n, digit = divmod(n, 26)
        letters = chr(ord("a") + digit) + letters
        if not n:
            return letters.capitalize()


def _original(n: int) -> int:
    """The earlier mail a duplicate copies or a repeat applicant's first mail: a few back, an application."""
    back = n - 11
    while kind_of(back) != "application":
        back -= 1
    return back


def _headers(n: int, email: str, name: str, subject: str, content_type: str) -> bytes:
    return (f"From: {name} <{email}>\r\nTo: jobs@example.com\r\nSubject: {subject}\r\n"
            f"Date: Mon, 05 Jan 2026 09:{n % 60:02d}:00 +0000\r\nMessage-ID: <bench-{n}@example.org>\r\n"
            f"MIME-Version: 1.0\r\nContent-Type: {content_type}\r\n\r\n").encode()


def _question(n: int, email: str, name: str, job: str) -> bytes:
    body = f"Hello,\r\n\r\nis the {job} position still open? I will send my CV next week.\r\n\r\n{name}\r\n"
    return _headers(n, email, name, f"Question about {job}", "text/plain; charset=utf-8") + body.encode()


def _application(n: int, email: str, name: str, job: str, filename: str, mime: str,
                 data: bytes) -> tuple[bytes, tuple[int, int]]:
    boundary = f"bench-{n}-boundary"
    text = (f"Dear hiring team,\r\n\r\nplease find my CV attached for the {job} role.\r\n\r\n"
            f"Kind regards,\r\n{name}\r\n")
    head = _headers(n, email, name, f"Application: {job}", f'multipart/mixed; boundary="{boundary}"')
    head += (f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
             f"--{boundary}\r\nContent-Type: {mime}; name=\"{filename}\"\r\n"
             f"Content-Disposition: attachment; filename=\"{filename}\"\r\n"
             "Content-Transfer-Encoding: base64\r\n\r\n").encode()
    encoded = base64.encodebytes(data).replace(b"\n", b"\r\n")
    tail = f"\r\n--{boundary}--\r\n".encode()
    return head + encoded + tail, (len(head), len(head) + len(encoded))


def _pdf(rng: random.Random, email: str, size: int) -> bytes:
    text = f"%PDF-1.4\n% Curriculum vitae\n% Contact: {email}\n1 0 obj\n<< /Length {size} >>\nstream\n".encode()
    return text + rng.randbytes(max(0, size - len(text) - 20)) + b"\nendstream\n%%EOF\n"


def _docx(rng: random.Random, email: str, size: int) -> bytes:
    """A DOCX (a zip holding word/document.xml); its entries dated by hand, as writestr with a bare name would
    date them now, and a duplicate built again two seconds later would differ from its original."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        def write(name: str, data: str | bytes) -> None:
            archive.writestr(zipfile.ZipInfo(name, date_time=DOCX_DATE), data)

        write("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        write("word/document.xml", f'<?xml version="1.0"?><w:document><w:t>Contact: {email}</w:t></w:document>')
        write("word/media/image1.png", rng.randbytes(size))
    return buffer.getvalue()
