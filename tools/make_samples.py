"""Write the demo's sample mail into daemon/samples/ (fictional people, example.* domains).

    python tools/make_samples.py [OUT_DIR]

Everything is deterministic (fixed dates, Message-IDs, MIME boundaries, zip timestamps),
so running it again reproduces the committed files byte for byte. The PDFs are one-page
PDF 1.4 files written by hand (Helvetica, WinAnsiEncoding, exact xref offsets); the DOCX
is the smallest package Word accepts. After writing, each .eml is parsed back and its
attachment compared with the bytes that went in.
"""

from __future__ import annotations

import email
import io
import sys
import zipfile
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, MIMEPart
from pathlib import Path

OUT_DIR = Path(__file__).resolve().parent.parent / "daemon" / "samples"
TO = "Acme Jobs <jobs@example.com>"
MAX_BYTES = 20_000


@dataclass(frozen=True, slots=True)
class Candidate:
    """A fictional applicant and the lines of their one-page resume."""

    name: str
    email: str
    headline: str
    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Sample:
    """One email of the demo mailbox."""

    filename: str
    sender: Candidate
    subject: str
    date: str
    message_id: str
    body: str
    resume: str = ""  # "", "pdf", "pdf-qp", "docx" or "pdf-octet"
    resume_name: str = ""
    # A recruiter's inline forward: the candidate whose mail (and resume) `sender` forwarded.
    forwarded: Candidate | None = None
    headers: tuple[tuple[str, str], ...] = ()  # extra headers, e.g. an auto-reply's Auto-Submitted

    @property
    def applicant(self) -> Candidate:
        """Whose resume the mail carries: the forwarded candidate's, else the sender's."""
        return self.forwarded or self.sender


# -- PDF ------------------------------------------------------------------------------
def _pdf_text(text: str) -> bytes:
    """A PDF literal string in WinAnsiEncoding (cp1252), parentheses and backslashes escaped."""
    raw = text.encode("cp1252")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def _page_content(person: Candidate) -> bytes:
    ops = [b"BT", b"/F1 20 Tf", b"72 740 Td", _pdf_text(person.name) + b" Tj",
           b"/F1 12 Tf", b"0 -22 Td", _pdf_text(person.headline) + b" Tj",
           b"0 -16 Td", _pdf_text(person.email) + b" Tj", b"/F1 11 Tf", b"0 -10 Td"]
    for line in person.lines:
        ops += [b"0 -16 Td", _pdf_text(line) + b" Tj"]
    return b"\n".join([*ops, b"ET"]) + b"\n"


def pdf_resume(person: Candidate) -> bytes:
    """A valid one-page PDF 1.4 with the candidate's name, headline, email and skills."""
    content = _page_content(person)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792]"
        b" /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"endstream",
        b"<< /Title " + _pdf_text(f"Resume - {person.name}")
        + b" /Producer (ats-inbox tools/make_samples.py) >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\n" % (len(objects) + 1)
    out += b"startxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


# -- DOCX -----------------------------------------------------------------------------
_OOXML = "http://schemas.openxmlformats.org"
_MAIN_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
_CONTENT_TYPES = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="{_OOXML}/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/word/document.xml" ContentType="{_MAIN_TYPE}"/>
</Types>
"""
_RELS = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="{_OOXML}/package/2006/relationships">
<Relationship Id="rId1" Target="word/document.xml"
 Type="{_OOXML}/officeDocument/2006/relationships/officeDocument"/>
</Relationships>
"""
_W = f"{_OOXML}/wordprocessingml/2006/main"


def _docx_paragraph(text: str, bold: bool = False) -> str:
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    props = "<w:rPr><w:b/></w:rPr>" if bold else ""
    return f'<w:p><w:r>{props}<w:t xml:space="preserve">{escaped}</w:t></w:r></w:p>'


def docx_resume(person: Candidate) -> bytes:
    """A minimal valid .docx: content types, package rels and a document with paragraphs."""
    paragraphs = [_docx_paragraph(person.name, bold=True), _docx_paragraph(person.headline),
                  _docx_paragraph(person.email), *(_docx_paragraph(x) for x in person.lines)]
    document = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                f'<w:document xmlns:w="{_W}"><w:body>{"".join(paragraphs)}'
                f"</w:body></w:document>\n")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        for name, text in (("[Content_Types].xml", _CONTENT_TYPES), ("_rels/.rels", _RELS),
                           ("word/document.xml", document)):
            info = zipfile.ZipInfo(name, date_time=(2026, 3, 1, 12, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            package.writestr(info, text.encode("utf-8"))
    return buffer.getvalue()


# -- MIME -----------------------------------------------------------------------------
def quoted_printable_binary(data: bytes, width: int = 76) -> str:
    """RFC 2045 quoted-printable that keeps binary exact: CR and LF are escaped too."""
    lines, line = [], ""
    for byte in data:
        char = chr(byte) if 33 <= byte <= 126 and byte != 61 else f"={byte:02X}"
        if byte == 32:
            char = " "
        if len(line) + len(char) > width - 3:  # room for "=20" and the soft break "="
            lines.append(_protect_trailing_space(line) + "=")
            line = ""
        line += char
    # A final soft break: the line break before the MIME boundary is not part of the data.
    lines.append(_protect_trailing_space(line) + "=")
    return "\r\n".join(lines)


def _protect_trailing_space(line: str) -> str:
    return line[:-1] + "=20" if line.endswith(" ") else line


def _attachment(sample: Sample, data: bytes) -> MIMEPart:
    part = MIMEPart(policy=policy.SMTP)
    if sample.resume == "pdf-qp":
        part["Content-Type"] = "application/pdf"
        part.set_param("name", ("utf-8", "", sample.resume_name))
        part["Content-Transfer-Encoding"] = "quoted-printable"
        part.add_header("Content-Disposition", "attachment",
                        filename=("utf-8", "", sample.resume_name))
        part.set_payload(quoted_printable_binary(data))
        return part
    kinds = {"pdf": ("application", "pdf"), "pdf-octet": ("application", "octet-stream"),
             "docx": ("application",
                      "vnd.openxmlformats-officedocument.wordprocessingml.document")}
    maintype, subtype = kinds[sample.resume]
    part.set_content(data, maintype=maintype, subtype=subtype, disposition="attachment",
                     filename=sample.resume_name, cte="base64", params={"name": sample.resume_name})
    return part


def _resume_bytes(sample: Sample) -> bytes:
    return docx_resume(sample.applicant) if sample.resume == "docx" else pdf_resume(sample.applicant)


def build_message(sample: Sample) -> bytes:
    """The sample as it would arrive: headers, a text (and HTML) body, the resume if any."""
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = f"{sample.sender.name} <{sample.sender.email}>"
    msg["To"] = TO
    msg["Subject"] = sample.subject
    msg["Date"] = sample.date
    msg["Message-ID"] = sample.message_id
    for name, value in sample.headers:
        msg[name] = value
    msg.set_content(sample.body)
    msg.add_alternative(_html(sample.body), subtype="html")
    del msg.get_payload(1)["MIME-Version"]  # set_content() adds it to the part; mailers do not
    stem = sample.filename.removesuffix(".eml")
    if sample.resume:
        msg.make_mixed()
        msg.attach(_attachment(sample, _resume_bytes(sample)))
        msg.get_payload(0).set_boundary(f"alt-{stem}")
    msg.set_boundary(f"{'mixed' if sample.resume else 'alt'}-{stem}")
    return msg.as_bytes()


def _html(text: str) -> str:
    paragraphs = "".join(f"<p>{p.replace(chr(10), '<br>')}</p>" for p in text.split("\n\n"))
    return f"<html><body>{paragraphs}</body></html>\n"


# -- the corpus -----------------------------------------------------------------------
MARTA = Candidate("Marta Kowalczyk", "marta.kowalczyk@example.org", "Senior Python Developer", (
    "Skills: Python, Django, FastAPI, PostgreSQL, asyncio, Docker, Kubernetes",
    "2019-2026  Lead backend engineer, Northwind Logistics (fictional)",
    "2014-2019  Python developer, Blue Heron Analytics (fictional)",
    "Education: MSc Computer Science, 2014"))
JOSE = Candidate("José Müller", "jose.mueller@example.net", "Data Analyst", (
    "Skills: SQL, Python (pandas), Power BI, statistics, A/B testing",
    "2021-2026  Analyst, Harbour Street Retail (fictional)",
    "Education: BSc Economics, 2020"))
JUERGEN = Candidate("Jürgen Weiß", "juergen.weiss@example.org", "Customer Support Specialist", (
    "Skills: Zendesk, English and German, de-escalation, knowledge base writing",
    "2020-2026  Support agent, Lindenhof Telecom (fictional)",
    "Languages: German (native), English (C1), French (B1)"))
TOM = Candidate("Tom Becker", "tom.becker@example.net", "", ())
LUCIA = Candidate("Lucia Ferrante", "lucia.ferrante@example.org", "Head Chef", (
    "Skills: menu design, kitchen management, HACCP, team of 12",
    "2017-2026  Sous chef then head chef, Trattoria Il Faro (fictional)"))
SAM = Candidate("Sam Okafor", "sam.okafor@example.net", "Python Developer", (
    "Skills: Python, Flask, SQLAlchemy, pytest, REST APIs, Linux",
    "2022-2026  Junior developer, Quayside Software (fictional)",
    "Education: BEng Software Engineering, 2022"))

NORA = Candidate("Nora Lindqvist", "nora.lindqvist@example.com", "", ())  # a recruiter at Acme
AISHA = Candidate("Aisha Rahman", "aisha.rahman@example.org", "Python Developer", (
    "Skills: Python, data pipelines, Airflow, PostgreSQL, CI/CD",
    "2020-2026  Software engineer, Saltmarsh Energy (fictional)",
    "Education: MSc Physics, 2019"))
PETER = Candidate("Peter Hansen", "peter.hansen@example.net", "", ())
DIGEST = Candidate("Job Board Digest", "weekly@digest.jobboard.example", "", ())

FORWARD_BODY = (
    "Hi team,\n\nAisha gave me her CV at the career fair on Thursday; she is applying for the "
    "Python Developer opening. Could you take it in?\n\nNora\n\n"
    "---------- Forwarded message ---------\n"
    "From: Aisha Rahman <aisha.rahman@example.org>\n"
    "Date: Thu, 5 Mar 2026 at 10:12\n"
    "Subject: Application: Python Developer\n"
    "To: Nora Lindqvist <nora.lindqvist@example.com>\n\n"
    "Dear Nora,\n\nthank you for the talk today. As promised, my CV for the Python Developer "
    "role is attached.\n\nBest wishes,\nAisha Rahman")

SAMPLES = (
    Sample("01-senior-python-pdf.eml", MARTA, "Application: Senior Python Developer",
           "Mon, 02 Mar 2026 09:14:05 +0100", "<app-7f3a21@mail.example.org>",
           "Hello,\n\nplease find attached my resume for the Senior Python Developer "
           "position.\n\nBest regards,\nMarta Kowalczyk", "pdf", "Marta_Kowalczyk_Resume.pdf"),
    Sample("02-data-analyst-docx.eml", JOSE, "Data Analyst position - my CV",
           "Mon, 02 Mar 2026 11:02:47 +0100", "<20260302110247.4c1e@example.net>",
           "Dear hiring team,\n\nI would like to apply for the Data Analyst position. "
           "My CV is attached.\n\nKind regards,\nJosé Müller", "docx", "CV_Jose_Mueller.docx"),
    Sample("03-support-pdf-qp.eml", JUERGEN, "re: customer support specialist",
           "Tue, 03 Mar 2026 08:45:10 +0100", "<b81d0c55-support@example.org>",
           "Hi,\n\nas discussed on the phone, here is my Lebenslauf for the customer support "
           "specialist job.\n\nViele Grüße,\nJürgen Weiß", "pdf-qp", "Lebenslauf Jürgen.pdf"),
    Sample("04-no-resume.eml", TOM, "Question about the Python Developer role",
           "Tue, 03 Mar 2026 14:30:00 +0000", "<q-5521@mail.example.net>",
           "Hello,\n\nis the Python Developer role open to remote candidates? I will send "
           "my resume once I know.\n\nThanks,\nTom Becker"),
    Sample("05-unknown-job.eml", LUCIA, "Application for Head Chef",
           "Wed, 04 Mar 2026 07:55:31 +0100", "<chef-20260304@example.org>",
           "Good morning,\n\nI am applying for the Head Chef position advertised last week. "
           "My resume is attached.\n\nLucia Ferrante", "pdf", "Lucia_Ferrante_CV.pdf"),
    Sample("06-python-dev-octet-stream.eml", SAM, "Python Developer application",
           "Wed, 04 Mar 2026 16:20:12 -0500", "<0a9e77d2@example.net>",
           "Hi,\n\nI am applying for the Python Developer job; my resume is attached.\n\n"
           "Sam Okafor", "pdf-octet", "cv.bin"),
    Sample("07-recruiter-forward.eml", NORA, "Fwd: Application: Python Developer",
           "Thu, 05 Mar 2026 17:40:02 +0100", "<fwd-aisha-0305@example.com>",
           FORWARD_BODY, "pdf", "Aisha_Rahman_CV.pdf", forwarded=AISHA),
    Sample("08-out-of-office.eml", PETER, "Automatic reply: Application: Senior Python Developer",
           "Fri, 06 Mar 2026 08:00:03 +0100", "<ooo-7731@example.net>",
           "I am out of the office until 16 March with no access to my mail. For urgent matters "
           "please call the front desk.\n\nPeter Hansen",
           headers=(("Auto-Submitted", "auto-replied"),)),
    Sample("09-newsletter.eml", DIGEST, "Weekly digest: 40 new Python jobs in your area",
           "Fri, 06 Mar 2026 06:00:00 +0000", "<digest-2026-10@digest.jobboard.example>",
           "This week's digest: 40 new Python jobs, 12 data jobs and 8 support jobs near you.\n\n"
           "You receive this mail because you subscribed to the Job Board Digest."),
)


def check(raw: bytes, sample: Sample) -> None:
    """Parse the written mail back: the attachment decodes to exactly the resume bytes."""
    parsed = email.message_from_bytes(raw, policy=policy.default)
    attachments = list(parsed.iter_attachments())
    if len(raw) >= MAX_BYTES:
        raise SystemExit(f"{sample.filename}: {len(raw)} bytes, over {MAX_BYTES}")
    if not sample.resume:
        if attachments:
            raise SystemExit(f"{sample.filename}: unexpected attachment")
        return
    (part,) = attachments
    if part.get_payload(decode=True) != _resume_bytes(sample):
        raise SystemExit(f"{sample.filename}: attachment does not round-trip")
    if part.get_filename() != sample.resume_name:
        raise SystemExit(f"{sample.filename}: file name {part.get_filename()!r}")


def main(argv: list[str]) -> int:
    out_dir = Path(argv[1]) if len(argv) > 1 else OUT_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    for sample in SAMPLES:
        raw = build_message(sample)
        check(raw, sample)
        (out_dir / sample.filename).write_bytes(raw)
        print(f"{sample.filename}: {len(raw)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
