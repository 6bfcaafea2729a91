"""Inline forwards: the original sender's header block written as text in a forward's body.

Mail clients write the forwarded message's headers as lines of text, in the forwarder's
language (`shared/field-notes.md`, "Forwarded mail"):

- Gmail: `---------- Forwarded message ---------`, then `From:`/`Date:`/`Subject:`/`To:`
  (German `Weitergeleitete Nachricht`, `Von:`; French `Message transféré`, `De :`, `Objet :`
  with a space before the colon; Spanish `Mensaje reenviado`; Russian `Пересылаемое
  сообщение`, `От:`, `Тема:`).
- Outlook desktop: `-----Original Message-----` (`-----Ursprüngliche Nachricht-----`,
  `-----Message d'origine-----`, `-----Mensaje original-----`, `-----Исходное сообщение-----`),
  then `From:`/`Sent:`/`To:`/`Subject:` (`Gesendet:`, `Envoyé :`, `Enviado el:`,
  `Отправлено:`), the address often as `Name [mailto:addr]` or missing. Outlook on the web
  and new Outlook: a line of underscores instead.
- Apple Mail: `Begin forwarded message:` (`Anfang der weitergeleiteten Nachricht:`, ...).
- Thunderbird: `-------- Forwarded Message --------` with `Subject:` first.

Why a table of our own and not `email-forward-parser` (evaluated, version 0.1.3, the last one
for Python before 3.14): it knows no Outlook desktop separator (`-----Original Message-----`,
`Ursprüngliche Nachricht`) unless the subject starts with a forward prefix, misses the Russian
Gmail and Outlook blocks and the `Пересл:` prefix, returns the outer block of a mail forwarded
twice (the middle forwarder, not the candidate), and some of its regular expressions take
quadratic time on long lines of attacker text (2.9 s for one 12,000-character line; bodies
reach 100,000). Here every pattern is anchored at a line start over a bounded line and has
no nested repetition: the whole scan is linear in the body.

The Outlook separator and a bare header block also open a *quoted reply*; a reply is not a
forward. So a header block counts only when a forward separator precedes it, or the caller
says the mail is a forward (a forward subject prefix, an internal sender). Of several blocks, the chain is followed
inward while a link forwards (its sender is passed over, or its subject is a forward and the next
block is at the top of its text); see daemon.mail.forwards for why. Everything here is pure text
processing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from daemon.domain import Person
from daemon.mail.parsing import usable_address

_LINE_MAX_CHARS = 1_000  # a header line longer than this is not one
_SEPARATOR_WINDOW = 3  # non-blank lines between a separator and its header block, at most
_BLOCK_GAP = 1  # blank lines tolerated between two header lines of one block (HTML reduced to text)
_NOTE_MAX_LINES = 15  # non-blank lines of a forwarder's note above a block that is "at the top"

FORWARD_SEPARATORS = (
    r"-{2,}\s*(?:forwarded message|weitergeleitete nachricht|message transf[ée]r[ée]|mensaje reenviado"
    r"|mensaje transferido|пересылаемое сообщение|перенаправленное сообщение|пересланное сообщение)\s*-{2,}",
    r"(?:begin forwarded message|anfang der weitergeleiteten nachricht|d[ée]but du message (?:r[ée]exp[ée]di[ée]"
    r"|transf[ée]r[ée])|inicio del mensaje reenviado|начало переадресованного сообщения)\s*:",
)
ORIGINAL_SEPARATORS = (
    r"-{2,}\s*(?:original message|urspr[üu]ngliche nachricht|message d'origine|mensaje original"
    r"|исходное сообщение)\s*-{2,}",
    r"_{10,}",
)
_FORWARD_SEPARATOR = re.compile("|".join(FORWARD_SEPARATORS), re.IGNORECASE)
_ORIGINAL_SEPARATOR = re.compile("|".join(ORIGINAL_SEPARATORS), re.IGNORECASE)

# Field labels of a forwarded header block, by what they mean (English, German, French,
# Spanish, Russian, and a few neighbours Outlook and Apple Mail write).
FIELD_LABELS = {
    "from": ("from", "von", "de", "от", "отправитель", "absender", "expéditeur", "remitente"),
    "date": ("date", "sent", "datum", "gesendet", "envoyé", "fecha", "enviado", "enviado el", "дата",
             "отправлено"),
    "to": ("to", "an", "à", "a", "para", "кому"),
    "cc": ("cc", "kopie", "copie", "копия"),
    "subject": ("subject", "betreff", "objet", "sujet", "asunto", "тема"),
}
_LABEL_FIELD = {label: field for field, labels in FIELD_LABELS.items() for label in labels}
_FIELD_LINE = re.compile(
    r"\*?(" + "|".join(sorted((re.escape(label) for label in _LABEL_FIELD), key=len, reverse=True))
    + r")\*?[ \t\u00a0]?:\*?[ \t]*(.*)",
    re.IGNORECASE,
)
_QUOTE_MARKS = re.compile(r"^(?:[ \t]*>)+[ \t]?")

# Subject prefixes: forwards in the languages above (and Outlook's in its other locales), and
# replies, which a forwarded subject often carries behind the forward prefix ("WG: AW: ...").
FORWARD_PREFIXES = ("fwd", "fw", "wg", "tr", "rv", "enc", "vs", "vb", "pd", "doorst", "пересл", "переслать")
REPLY_PREFIXES = ("re", "aw", "antw", "antwort", "sv", "res", "ответ", "отв", "réf", "rif")
_PREFIX = re.compile(
    r"\s*(?P<word>" + "|".join(FORWARD_PREFIXES + REPLY_PREFIXES) + r")(?:\[\d+\]|\(\d+\))?\s*:\s*",
    re.IGNORECASE,
)
_FORWARD_WORD = re.compile("(?:" + "|".join(FORWARD_PREFIXES) + r")(?:\[\d+\])?", re.IGNORECASE)
_ANGLE_ADDRESS = re.compile(r"(.*?)[<\[]\s*(?:mailto:)?([^\s<>\[\]@]+@[^\s<>\[\]@]+?)\s*[>\]]", re.IGNORECASE)
_BARE_ADDRESS = re.compile(r"[^\s<>\[\]()\"',;:@]+@[^\s<>\[\]()\"',;:@]+\.[^\s<>\[\]()\"',;:@]+")


@dataclass(frozen=True, slots=True)
class HeaderBlock:
    """One forwarded header block: its fields (first of each), and what introduced it."""

    fields: dict[str, str]
    forward_separator: bool  # a forward separator ("Forwarded message") right above it
    any_separator: bool  # a forward or original-message separator above it
    at_top: bool = False  # it (or its separator) follows at most a short unquoted note (from the text's
    # start, or from the block before it)

    @property
    def sender(self) -> Person:
        return person(self.fields.get("from", ""))


@dataclass(frozen=True, slots=True)
class InlineForward:
    """The innermost original sender of an inline forward; `sender` is None when its header is cut off."""

    sender: Person | None
    subject: str  # the original subject, forward and reply prefixes stripped; "" when not found
    # The forward's first block (or its separator) is the first thing in the body after at most a
    # short note (15 non-blank lines, nothing quoted): a stand-in until the recogniser's own.
    at_top: bool = False


def inline_forward(
    text: str, *, expect_forward: bool, passed_over: Callable[[str], bool] = lambda _address: False
) -> InlineForward | None:
    """The original sender of the inline forward in `text` (a body), or None when it is no forward.

    `expect_forward`: the mail is a forward by other signs (subject prefix, internal sender),
    so a block introduced by an Outlook separator or by nothing counts too. A forward separator
    with no readable block under it (headers cut off) gives `InlineForward(None, "")`; no
    block and no forward separator give None, whatever `expect_forward` says.
    `passed_over(address)`: a block from such an address (an internal colleague who forwarded
    it on) leads on to the next block.
    """
    lines = _lines(text)
    blocks = [b for b in header_blocks(lines, text.splitlines())
              if b.forward_separator or (expect_forward and b.fields.get("from"))]
    if not blocks:
        cut = next((i for i, line in enumerate(lines) if _FORWARD_SEPARATOR.fullmatch(line)), None)
        return InlineForward(None, "", _short_note(text.splitlines()[:cut])) if cut is not None else None
    block = _innermost(blocks, passed_over)
    sender = block.sender
    found = sender if (sender.name or sender.address) else None
    return InlineForward(found, strip_prefixes(block.fields.get("subject", "")), blocks[0].at_top)


def _short_note(raw: list[str], depth: int = 0) -> bool:
    """Whether these lines (above a separator or block quoted `depth` times) are at most a short
    note with nothing quoted deeper than the block."""
    written = [line for line in raw if line.strip()]
    return len(written) <= _NOTE_MAX_LINES and all(_depth(line) <= depth for line in written)


def _depth(line: str) -> int:
    """How many times a raw line is quoted ("> > x" is 2)."""
    marks = _QUOTE_MARKS.match(line[:_LINE_MAX_CHARS])
    return marks.group(0).count(">") if marks else 0


def _innermost(blocks: list[HeaderBlock], passed_over: Callable[[str], bool]) -> HeaderBlock:
    """Follow a chain of forwards inward, link by link, while the link's sender is one who forwards:
    passed over (internal), or plainly forwarding (the link's subject is a forward and the next
    block is at the top of its text). A link that is neither wrote the mail: a block below it is
    something that person quoted (a reference pasted below a letter), not the application."""
    index = 0
    while index + 1 < len(blocks):
        current, following = blocks[index], blocks[index + 1]
        forwards = is_forward_subject(current.fields.get("subject", "")) and following.at_top
        if not (forwards or passed_over(current.sender.address)):
            break
        index += 1
    return blocks[index]


def header_blocks(lines: list[str], raw: list[str] | None = None) -> list[HeaderBlock]:
    """Every block of forwarded-header lines holding a From field, in text order. `raw`: the
    lines before cleaning (for `at_top`: whether the note above a block was quoted)."""
    raw = raw if raw is not None and len(raw) == len(lines) else lines
    blocks: list[HeaderBlock] = []
    index, separator, since, note_from, starts = 0, "", 0, 0, 0
    while index < len(lines):
        line = lines[index]
        if _FORWARD_SEPARATOR.fullmatch(line):
            separator, since, starts = "forward", 0, index
        elif _ORIGINAL_SEPARATOR.fullmatch(line):
            separator, since, starts = "original", 0, index
        elif (fields_end := _block_at(lines, index)) is not None:
            first = starts if separator else index
            top = _short_note(raw[note_from:first], _depth(raw[first]))
            fields, index = fields_end
            if "from" in fields and (separator or len(fields) >= 2):
                blocks.append(HeaderBlock(fields, separator == "forward", bool(separator), top))
                note_from = index
            separator = ""
            continue
        elif line:
            since += 1
            if since > _SEPARATOR_WINDOW:
                separator = ""
        index += 1
    return blocks


def _block_at(lines: list[str], start: int) -> tuple[dict[str, str], int] | None:
    """The fields of the header block starting at `start`, and the index after it; None if none."""
    fields: dict[str, str] = {}
    index, gap = start, 0
    while index < len(lines):
        match = _FIELD_LINE.fullmatch(lines[index])
        if match is None:
            if lines[index] or gap >= _BLOCK_GAP:
                break
            gap += 1
        else:
            gap = 0
            fields.setdefault(_LABEL_FIELD[match.group(1).lower()], match.group(2).strip())
        index += 1
    return (fields, index) if fields else None


def _lines(text: str) -> list[str]:
    """The body's lines, quote marks and outer blanks stripped, each bounded."""
    cleaned = text.replace("\u00a0", " ").replace("\ufeff", "")
    return [_QUOTE_MARKS.sub("", line[:_LINE_MAX_CHARS]).strip() for line in cleaned.splitlines()]


def person(value: str) -> Person:
    """The name and address of a From value: `Name <a@b>`, `"Name" <a@b>`, `Name [mailto:a@b]`,
    `a@b (Name)`, a bare address, or a name with no address at all. An address that is no usable
    addr-spec (an RFC 2047 encoded word in it, say) is "", as in the mail's own From."""
    value = " ".join(value.split())[:_LINE_MAX_CHARS]
    if match := _ANGLE_ADDRESS.match(value):
        return Person(_clean_name(match.group(1)), usable_address(match.group(2)))
    if match := _BARE_ADDRESS.search(value):
        rest = (value[: match.start()] + " " + value[match.end() :]).strip(" ()")
        return Person(_clean_name(rest), usable_address(match.group(0)))
    return Person(_clean_name(value), "")


def _clean_name(name: str) -> str:
    name = name.strip().strip("\"'").strip()
    return "" if "@" in name else name


def strip_prefixes(subject: str) -> str:
    """The subject without its chain of forward and reply prefixes ("WG: AW: Fwd: x" is "x")."""
    rest = subject
    for _ in range(20):  # a bound on pathological chains
        match = _PREFIX.match(rest)
        if match is None:
            break
        rest = rest[match.end() :]
    rest = rest.strip()
    if rest.startswith("[") and rest.endswith("]") and _PREFIX.match(rest[1:]):  # "[Fwd: x]"
        return strip_prefixes(rest[1:-1])
    return rest


def is_forward_subject(subject: str) -> bool:
    """Whether the subject's first prefix is a forward prefix ("Fwd:", "WG:", "Пересл:", "[Fwd: ...]")."""
    match = _PREFIX.match(subject.lstrip("[ "))
    return match is not None and _FORWARD_WORD.fullmatch(match.group("word")) is not None
