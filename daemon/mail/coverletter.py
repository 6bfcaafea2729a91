"""The cover letter: what the candidate wrote in the mail, without quoted replies or signature (pure).

The text comes from parsing (plain text parts; an HTML-only mail already reduced to text).
What a candidate writes sits above a signature and, in a reply, above a quoted chain
(`shared/field-notes.md`, "Cover letters"). The letter is the text up to the first line
that starts one of those, in this table:

    signature delimiter      "-- " alone on a line (RFC 3676), or "--"
    mobile signature         "Sent from my iPhone", "Von meinem iPhone gesendet", "Envoyé de mon ...",
                             "Get Outlook for ...", "Enviado desde mi ..."
    quote header             "On <date>, <name> wrote:" (also wrapped over two lines), "Am ... schrieb ...:",
                             "Le ... a écrit :", "El ... escribió:", "Op ... schreef ...:"
    Outlook original         "-----Original Message-----" and its German, French, Spanish forms
    Outlook header block     a "From:"/"Von:"/"De :" line followed within three lines by
                             "Sent:"/"Date:"/"To:"/"Subject:" (or their German and French forms),
                             unless a forward marker ("Forwarded message", "Begin forwarded
                             message:") stands right above it: a forwarded application is the letter

Lines quoted with ">" are dropped wherever they are (an inline reply keeps what was written
between them). Nothing else is cut: a bullet list ("-Python") or a rule of underscores in
the letter stays.

In a forward, the letter is the candidate's own text, never the forwarder's note above it
(`candidate_letter`): the body of the candidate's attached message (at any depth), or in an
inline forward the text below the header block that names the candidate. The forwarder's note
is left out: the comment already says who forwarded the mail, the note is a colleague's words
to a colleague (not the candidate's application), and the mail itself stays in the mailbox. When
the candidate's text cannot be found (she has no address, or no block names her), there is no
letter rather than the forwarder's.

Why not `email-reply-parser` (evaluated, 0.5.12 of 2020, the last release): it handles the
English cases, but cuts a letter at a bullet written "-Python" (it takes any line starting
with "-" and a letter after a blank line for a signature, and drops everything below it),
leaves German and French quote headers in the text, and would be a new dependency that
is no longer maintained. Every pattern here is anchored at a line start over one bounded
line, so the scan is linear in the body.
"""

from __future__ import annotations

import re

from daemon.domain import Person
from daemon.mail import ParsedEmail

DEFAULT_LIMIT = 1500  # characters of the letter quoted in the comment ([comment] cover_letter_chars)
_LINE_MAX = 1000  # a line longer than this is letter text, never a marker
_SIGNATURE = re.compile(r"--[ \t]?$")
_MOBILE = re.compile(
    r"(?:sent from my |sent from outlook|get outlook for |von meinem .{1,40} gesendet|gesendet von meinem "
    r"|envoy[ée] de mon |enviado desde mi |verzonden vanaf mijn )", re.IGNORECASE)
_QUOTE_HEADER = re.compile(
    r"(?:on\s.{1,300}\swrote\s?:|am\s.{1,300}\sschrieb.{0,300}:|le\s.{1,300}\sa\s[ée]crit\s?:"
    r"|el\s.{1,300}\sescribi[óo]\s?:|op\s.{1,300}\sschreef.{0,300}:)$", re.IGNORECASE)
_ORIGINAL = re.compile(
    r"-{2,}\s*(?:original message|urspr[üu]ngliche nachricht|message d'origine|mensaje original)\s*-{2,}$",
    re.IGNORECASE)
_FROM_LINE = re.compile(r"\*?(?:from|von|de|van)\*?\s?:", re.IGNORECASE)
_FIELD_LINE = re.compile(
    r"\*?(?:sent|date|to|subject|gesendet|datum|an|betreff|envoy[ée]|[àa]|objet|fecha|para|asunto)\*?\s?:",
    re.IGNORECASE)
_FORWARD = re.compile(
    r"(?:-{2,}\s*(?:forwarded message|weitergeleitete nachricht|message transf[ée]r[ée]|mensaje reenviado)"
    r"\s*-{2,}|begin forwarded message\s*:|anfang der weitergeleiteten nachricht\s*:)", re.IGNORECASE)
_QUOTED = re.compile(r"[ \t]*>")
_HEADER_FIELD = re.compile(r"[ \t>]*\*?[^\W\d_][\w.'-]*(?:[ \t][\w.'-]+){0,2}\*?[ \t\u00a0]?:\*?[ \t]*\S")
_BLANK_RUNS = re.compile(r"\n{3,}")


def cover_letter(body_text: str, limit: int = DEFAULT_LIMIT) -> str:
    """The candidate's own text of the mail: quotes and signature trimmed, at most `limit` characters."""
    if limit <= 0:
        return ""
    lines = body_text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept = [line.rstrip() for line in lines[:_cut_at(lines)] if not _QUOTED.match(line)]
    text = _BLANK_RUNS.sub("\n\n", "\n".join(kept)).strip()
    return _bounded(text, limit)


def candidate_letter(email: ParsedEmail, person: Person | None, forwarded: bool, limit: int = DEFAULT_LIMIT) -> str:
    """The cover letter of `person`, the candidate: the mail's own text unless it was `forwarded`
    (then the candidate's text inside it, or "" when it cannot be found; see the module doc)."""
    if not forwarded:
        return cover_letter(email.body_text, limit)
    anchor = person.address or person.name if person is not None else ""
    own = _own_text(email, anchor.lower()) if anchor else None
    return cover_letter(own, limit) if own is not None else ""


def _own_text(email: ParsedEmail, anchor: str) -> str | None:
    """The text `anchor` (an address, or a name) wrote: their own message's body, an attached one's
    (innermost first), or what follows the inline header block naming them; None when not found."""
    if email.sender_email.lower() == anchor:
        return email.body_text
    for message in email.attached:
        if (found := _own_text(message, anchor)) is not None:
            return found
    return _below_header(email.body_text, anchor)


def _below_header(text: str, anchor: str) -> str | None:
    """The text below the header block whose first line names `anchor` ("From: Name <address>")."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    start = next((i for i, line in enumerate(lines)
                  if len(line) <= _LINE_MAX and anchor in line.lower()
                  and (_HEADER_FIELD.match(line) or line.rstrip().endswith(":"))), None)  # "From: x", "x wrote:"
    if start is None:
        return None
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or _HEADER_FIELD.match(lines[end][:_LINE_MAX])):
        end += 1
    return "\n".join(lines[end:])


def _cut_at(lines: list[str]) -> int:
    """The index of the first line that starts a signature or a quoted message; len(lines) if none."""
    for i, line in enumerate(lines):
        stripped = line.strip()
        if len(stripped) > _LINE_MAX or not stripped:
            continue
        if (_SIGNATURE.match(line) or _MOBILE.match(stripped) or _ORIGINAL.match(stripped)
                or _quote_header(lines, i) or _header_block(lines, i)):
            return i
    return len(lines)


def _quote_header(lines: list[str], i: int) -> bool:
    """"On ... wrote:" on this line, or started here and ended on the next (clients wrap it)."""
    line = lines[i].strip()
    if _QUOTE_HEADER.match(line):
        return True
    following = lines[i + 1].strip() if i + 1 < len(lines) else ""
    return bool(following) and len(following) <= _LINE_MAX and _QUOTE_HEADER.match(f"{line} {following}") is not None


def _header_block(lines: list[str], i: int) -> bool:
    """An Outlook-style header block of a quoted message, not one a forward marker introduces."""
    if not _FROM_LINE.match(lines[i].strip()):
        return False
    if not any(_FIELD_LINE.match(line.strip()) for line in lines[i + 1:i + 4]):
        return False
    above = next((line.strip() for line in reversed(lines[:i]) if line.strip()), "")
    return not _FORWARD.match(above)


def _bounded(text: str, limit: int) -> str:
    """At most `limit` characters; cut at a word boundary when one is near, marked with "…"."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.8:
        cut = cut[:space]
    return cut.rstrip() + "…"
