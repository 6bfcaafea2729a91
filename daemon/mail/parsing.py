"""Turn the raw bytes of one email into a `ParsedEmail` (pure: bytes in, data out).

Everything here reads attacker-controlled text, so the rules are:

- Before anything is parsed, `check_structure` makes one pass over the bytes and refuses a
  mail with more MIME parts, nesting levels or lines than `StructureLimits` allow: memory
  then stays a small multiple of the mail's size (a 21 MB mail of three million empty parts
  took 2 GB to parse, a 45 MB mail of short lines 1.4 GB).
- One MIME tree, from the standard library parser with `policy.compat32`, which never
  raises on malformed structure (it records defects instead) and keeps 8-bit bytes as
  surrogate escapes, so attachment bytes come back exactly as sent through
  `get_payload(decode=True)`, whatever the transfer encoding. The header fields, the body
  and the attachments all come from that tree (`read_headers`): the parse reads the mail once.
  The parser is not given large base64 leaf bodies line by line: the structure check's one scan
  over the bytes also finds them, each is fed as one marker line, and its payload is decoded
  from its span of the raw bytes (`_skeleton_tree`; the tree and every field are the same as
  from the whole mail, and a mail whose markers do not land where the scan put them is parsed
  whole instead).
  (mail-parser read the sender and subject once more until it was measured to add nothing:
  `benchmarks/parsing.py`, docs/development.md, "Parsing with the standard library".)
- Header values are unfolded, RFC 2047 decoded, stripped of control characters; raw 8-bit
  headers are read as UTF-8, else Windows-1252. Subjects are NFC. A From whose display name
  is itself an address (`jane@example.com <jane.doe@example.org>`) is read as that name and
  the angle-addr, as its author meant, whatever the Python release's `getaddresses` makes of it.
- File names are display text only (`safe_filename`): never join them into a path. The name
  as sent is kept beside it (`Attachment.original_filename`) for the record.
- Every file is found: parts with `inline` or no disposition, text other than plain and HTML,
  files inside attached messages, and the files Outlook wraps in `winmail.dat` (TNEF,
  `daemon.mail.tnef`). Attached messages (message/rfc822 at any depth, `.eml` files) are also kept
  whole in `ParsedEmail.attached`, read from the same tree (an `.eml` file's own bytes are
  parsed once, after `check_structure`), bounded by `MAX_ATTACHED_MESSAGES` and
  `MAX_ATTACHED_DEPTH`.
- Input that has no header at all is not an email: `UnparseableMail`. So is anything the
  libraries raise on; their exception is chained, never leaked.
"""

from __future__ import annotations

import binascii
import heapq
import io
import itertools
import logging
import re
import secrets
import unicodedata
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email._encoded_words import decode_b  # what compat32's get_payload decodes base64 with
from email.errors import HeaderParseError
from email.feedparser import BytesFeedParser
from email.header import decode_header
from email.message import Message
from email.policy import compat32
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser
from itertools import islice

from daemon.errors import UnparseableMail
from daemon.mail import Attachment, ParsedEmail
from daemon.mail.spool import MailBytes, as_mail
from daemon.mail.tnef import is_tnef
from daemon.mail.tnef import unpack as unpack_tnef

log = logging.getLogger(__name__)

BODY_MAX_CHARS = 100_000
SUBJECT_MAX_CHARS = 1_000
MESSAGE_ID_MAX_CHARS = 998
MAX_HEADERS = 500  # top-level headers kept for rules; a real mail has a few dozen
HEADER_VALUE_MAX_CHARS = 4_000
_RECIPIENT_HEADERS = frozenset({"to", "cc", "delivered-to", "x-original-to"})
MAX_FILENAME_CHARS = 150
ORIGINAL_FILENAME_MAX_CHARS = 1_000  # the name as sent, kept for the record
MAX_ATTACHED_MESSAGES = 20  # attached messages kept as ParsedEmail, all depths together
MAX_ATTACHED_DEPTH = 10  # levels of messages in messages kept (a chain of ten forwards as attachments); deeper
# ones give their files only
EML_MAX_BYTES = 25 * 1024 * 1024  # an `.eml` file larger than this stays a file
_MESSAGE_TYPES = frozenset({"message/rfc822", "message/global"})
_BODY_TYPES = frozenset({"text/plain", "text/html"})
MAX_MIME_PARTS = 1_000  # parts walked per message; the rest are ignored
_FEED_BYTES = 64 * 1024
# Where a MIME level starts or ends: a line starting with `--` (group 1: the rest of it),
# or a Content-Type of message/* (an attached message). Lines end in CR, LF or CRLF; the
# mail's first line is a header, never one of these (and a line-end prefix scans fastest).
_STRUCTURE_EVENT = re.compile(rb"[\r\n](?:--([^\r\n]*)|content-type[ \t]*:\s*message/)", re.IGNORECASE)
# A boundary parameter (group 1: RFC 2231 `*`; group 2: the value, quoted or not).
_BOUNDARY_PARAM = re.compile(rb'boundary[ \t]*(\*?)[0-9*]*[ \t]*=\s*("[^"\r\n]*"?|[^;\r\n]*)', re.IGNORECASE)
# A part's header block ends at an empty line (a lone CR is not looked for: such a part is parsed as it is).
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_BASE64_CTE = re.compile(rb"(?:^|[\r\n])content-transfer-encoding[ \t]*:[ \t]*base64", re.IGNORECASE)
_CONTAINER_TYPE = re.compile(rb"(?:^|[\r\n])content-type[ \t]*:\s*(?:multipart|message)/", re.IGNORECASE)
_OTHER_LINE_BREAKS = (b"\x0b", b"\x0c", b"\x1c", b"\x1d", b"\x1e")  # str.splitlines splits there too
_SPAN_MIN_BYTES = 16 * 1024  # smaller bodies are parsed line by line as they are
_PART_HEAD_MAX_BYTES = 64 * 1024  # a part whose header block is longer is parsed line by line
_HTML_MAX_CHARS = 1_000_000  # HTML fed to the text stripper
_MAX_EXTENSION_CHARS = 16
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})  # controls, bidi, surrogates
_ASCII_CONTROLS = dict.fromkeys(c for c in (*range(32), 127) if chr(c) not in "\n\t")  # ASCII Cc but \n, \t
_PATH_SEPARATORS = re.compile(r"[/\\]")
_DOT_RUNS = re.compile(r"\.{2,}")
_LINE_BREAKS = re.compile(r"\r\n|\r|\n")
# An addr-spec (RFC 5322 3.4.1, UTF-8 allowed by RFC 6532): a local part of atext and dots (runs and ends of
# dots, obsolete but still handed out by some providers, are kept) or quoted, `@`, a domain of labels or a
# domain literal; no spaces. RFC 2047 (section 5) forbids encoded words in any part of it.
# Written with both cases and non-ASCII as [^\x00-\x7f], not IGNORECASE over \u0080-\U0010ffff: the same sets,
# compiled in 1 ms instead of 55 (every start).
_ATEXT = r"(?:[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]|[^\x00-\x7f])"
_LABEL_CHAR = r"(?:[a-zA-Z0-9]|[^\x00-\x7f])"
_LABEL = rf"{_LABEL_CHAR}(?:(?:[a-zA-Z0-9_-]|[^\x00-\x7f])*{_LABEL_CHAR})?"
_ADDR_SPEC = re.compile(rf'(?:(?:{_ATEXT}|\.)+|"(?:[^"\\\s]|\\[^\s])+")'
                        rf"@(?:{_LABEL}(?:\.{_LABEL})*\.?|\[[^\[\]\\\s]+\])")
_ENCODED_WORD = re.compile(r"=\?[^?\s]*\?[bq]\?[^?\s]*\?=", re.IGNORECASE)
_ANGLE_ID = re.compile(r"<([^<>\s]+)>")
# A From value of one angle-addr after an unquoted display name holding an `@` (group 1: the name).
_ADDRESS_AS_NAME = re.compile(r"([^<>\"(),:;]*@[^<>\"(),:;]*)<([^<>\s]+@[^<>\s]+)>")
_MIME_TYPE = re.compile(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+")
_CTE_TOKEN = re.compile(r"[^;\s]*")
# Labels mail clients send that Python's codec registry does not know (WHATWG names).
_CHARSET_ALIASES = {
    "windows-874": "cp874",
    "x-gbk": "gbk",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "iso-8859-8-i": "iso-8859-8",
    "x-mac-cyrillic": "mac-cyrillic",
}


@dataclass(frozen=True, slots=True)
class Headers:
    """The header fields of one mail, cleaned: decoded, on one line, bounded."""

    sender_name: str
    sender_email: str
    subject: str
    date: datetime | None
    message_id: str


def parse_email(raw: bytes | MailBytes, *, limits: StructureLimits | None = None) -> ParsedEmail:
    """Parse one raw RFC 5322 message; raise `UnparseableMail` when it is not one.

    `check_structure` runs first, so that a mail beyond `limits` (default `STRUCTURE_LIMITS`)
    is refused before it is parsed. Headers, body and attachments come from the one tree built.
    """
    mail = as_mail(raw)
    if all(window.isspace() for _offset, window in mail.windows()):  # nothing at all, or only blanks
        raise UnparseableMail("empty message")
    lines = check_structure(mail, STRUCTURE_LIMITS if limits is None else limits)
    try:
        message, bodies = _skeleton_tree(mail, lines)
        if not message.keys():
            raise UnparseableMail("no mail headers found: not an RFC 5322 message")
        parsed = _email(read_headers(message), message, _Walk(bodies=bodies), depth=0)
    except UnparseableMail:
        raise
    except Exception as exc:  # hostile input: any library failure means "cannot parse"
        raise UnparseableMail(f"the mail could not be parsed ({type(exc).__name__})") from exc
    log.debug(
        "mail.parsed",
        extra={"attachments": len(parsed.attachments), "defects": len(message.defects)},
    )
    return parsed


def _message_tree(raw: bytes | MailBytes) -> Message:
    """`email.message_from_bytes(raw, policy=compat32)`, fed in pieces.

    The stdlib's own call decodes the whole mail to one str and reads it through a StringIO
    (four bytes a character): five times the mail's size before the first part exists.
    """
    mail = as_mail(raw)
    parser = BytesFeedParser(policy=compat32)
    _feed(parser, mail, 0, mail.size)
    return parser.close()


def _feed(parser: BytesFeedParser, mail: MailBytes, start: int, end: int) -> None:
    for piece in mail.pieces(start, end, _FEED_BYTES):
        parser.feed(piece)


@dataclass(frozen=True, slots=True)
class _Span:
    """A large base64 leaf body, as found by the structure scan: `raw[start:end]`, ending in `line_end`."""

    start: int
    end: int
    line_end: bytes


@dataclass(frozen=True, slots=True)
class _Body:
    """The transfer-encoded payload of a leaf the parser saw only as a marker: a span of the raw bytes,
    less its last line end when the parser stripped it, and what the parser read after the marker."""

    mail: MailBytes
    start: int
    end: int
    tail: str

    def encoded(self) -> bytes:
        """Exactly the bytes of the payload string the parser would have built from the whole mail."""
        return self.mail.read(self.start, self.end) + self.tail.encode("ascii", "surrogateescape")

    def base64(self) -> bytes | None:
        """The payload decoded piece by piece when it is plain base64 (its alphabet only, whole quanta,
        padding at the very end: then the very bytes `_base64_bytes` gives); None when it is not."""
        decoded, rest, padded = io.BytesIO(), b"", False
        tail = self.tail.encode("ascii", "surrogateescape")
        for piece in itertools.chain(self.mail.pieces(self.start, self.end), (tail,)):
            data = rest + piece.translate(None, b"\r\n")
            if padded and data:  # more after the padding
                return None
            whole = len(data) // 4 * 4
            try:
                decoded.write(binascii.a2b_base64(data[:whole], strict_mode=True))
            except binascii.Error:
                return None
            padded, rest = b"=" in data[:whole], data[whole:]
        return None if rest else decoded.getvalue()


def _skeleton_tree(mail: MailBytes, lines: _Lines) -> tuple[Message, dict[int, _Body]]:
    """The tree of the whole mail, built from a skeleton: each large base64 leaf body the structure
    scan found is fed to the parser as one marker line instead of thousands of base64 lines.

    The parser ends a leaf's body only at a line starting with `--`, and a span holds none (it ends
    before the next one and holds no other character the parser splits lines at), so the skeleton's
    tree is the whole mail's with each marker where its span was. Each marker must come back as the
    start of a leaf's payload, that leaf a part of a multipart, without defects; else (a header the
    scan reads otherwise than the parser) the whole mail is parsed as it is. Returns the tree and the
    payload of each leaf given as a marker, by the id of its part.
    """
    spans = _leaf_spans(mail, lines)
    if not spans:
        return _message_tree(mail), {}
    token = f"atsinboxspan{secrets.token_hex(8)}"
    parser, at = BytesFeedParser(policy=compat32), 0
    for number, span in enumerate(spans):
        _feed(parser, mail, at, span.start)
        parser.feed(f"{token}{number:07d}".encode() + span.line_end)
        at = span.end
    _feed(parser, mail, at, mail.size)
    message = parser.close()
    bodies = _marked_bodies(mail, message, token, spans)
    return (message, bodies) if bodies is not None else (_message_tree(mail), {})


def _marked_bodies(mail: MailBytes, message: Message, token: str, spans: list[_Span]) -> dict[int, _Body] | None:
    """Each marker's leaf and its payload; None when a marker is not where the scan put it."""
    bodies: dict[int, _Body] = {}
    width = len(token) + 7
    stack: list[tuple[Message, Message | None]] = [(message, None)]
    while stack:
        part, parent = stack.pop()
        payload = part.get_payload()
        if isinstance(payload, list):
            stack.extend((child, part) for child in payload if isinstance(child, Message))
            continue
        if not isinstance(payload, str) or not payload.startswith(token):
            continue
        span = spans[int(payload[len(token) : width])]
        marker = payload[:width] + span.line_end.decode("ascii")
        if (parent is None or not parent.is_multipart() or parent.get_content_maintype() != "multipart"
                or part.defects or part.get_content_maintype() in ("multipart", "message") or token in payload[width:]):
            return None
        if payload.startswith(marker):
            bodies[id(part)] = _Body(mail, span.start, span.end, payload[len(marker) :])
        elif len(payload) == width and span.line_end:  # the line end before a delimiter line is dropped
            bodies[id(part)] = _Body(mail, span.start, span.end - len(span.line_end), "")
        else:
            return None
    return bodies if len(bodies) == len(spans) else None


@dataclass(frozen=True, slots=True)
class StructureLimits:
    """The shape a mail may have to be parsed at all; checked on its bytes, before parsing.

    Parsing costs memory per MIME part and per line (the stdlib parser keeps about 90 bytes a
    line while a part is open, and two objects a part), so these bound it whatever the size:
    - `max_parts`: delimiter lines of the boundaries the mail declares. An application has a
      handful; 1,000 is also what the body and attachment walk looks at (`MAX_MIME_PARTS`).
    - `max_depth`: nested multiparts and attached messages open at once. Forwards of forwards
      reach ten or so; the stdlib parser recurses per level and fails near 600.
    - `max_lines`: a mail of the default `imap.max_message_bytes` (50 MB) holds at most
      about 690,000 lines of 76-column base64 (800,000 at 64 columns); 1,000,000 leaves room
      for text and costs the parser at most about 100 MB.
    """

    max_parts: int = 1_000
    max_depth: int = 50
    max_lines: int = 1_000_000


STRUCTURE_LIMITS = StructureLimits()


def check_structure(raw: bytes | MailBytes, limits: StructureLimits) -> _Lines:
    """Refuse (`UnparseableMail`) a mail with too many parts, levels or lines; one pass, no tree.

    Delimiter lines count only for boundaries declared somewhere in the mail, so a text full
    of `-----` lines is not taken for parts; when a declaration is one this check cannot read
    exactly (RFC 2231 `boundary*=`, escapes in quotes), every `--` line counts instead. Returns
    what the scan saw of the lines (`_Lines`), from which the parse finds the large leaf bodies.
    """
    mail = as_mail(raw)
    windows = _lowered_windows(mail)
    found = _check_levels(windows(), _declared_boundaries(windows(), limits.max_parts), limits)
    if mail.size <= limits.max_lines:  # a line end is at least one byte: no count can exceed the limit
        return found
    lines = 0
    for offset, window in mail.windows():
        skip = 0 if offset == 0 else 1  # a later window's first byte is the line feed the last one ended in
        lines += window.count(b"\n", skip) + window.count(b"\r", skip) - window.count(b"\r\n", skip)
    if lines > limits.max_lines:
        raise UnparseableMail(f"too many lines ({lines}, limit {limits.max_lines})")
    return found


@dataclass(slots=True)
class _Lines:
    """What the structure scan saw on its way: where each line starting with `--` starts, and where
    each delimiter line that opens a part ends (before its line end)."""

    dashes: list[int] = field(default_factory=list)
    openings: list[int] = field(default_factory=list)


def _found(pattern: re.Pattern[bytes], window: bytes, lowered: bytes,
           anchors: tuple[tuple[bytes, int], ...]) -> Iterator[re.Match[bytes]]:
    """What `pattern.finditer(window)` finds, in the same order, tried only where a match can start: at each place
    an anchor (lower-case bytes, found in `lowered`, the window lower-cased) stands, less its offset in a match. A
    regex scan of a 300 KB mail took 2 to 3 ms (the engine steps through every byte of the base64); finding the few
    anchors is a fraction of it. Every match of `pattern` must start `offset` bytes before one of its anchors."""
    end = -1
    for start in heapq.merge(*(_places(lowered, anchor, offset) for anchor, offset in anchors)):
        if start < end:  # inside the last match (or tried already): finditer goes on after it
            continue
        if (match := pattern.match(window, start)) is not None:
            yield match
            end = match.end()
        else:
            end = start + 1


def _places(lowered: bytes, anchor: bytes, offset: int) -> Iterator[int]:
    """Where a match may start for each place `anchor` stands, in order; lazily (a bomb has millions, and the
    caller stops at its limits)."""
    at = lowered.find(anchor, offset)
    while at >= 0:
        yield at - offset
        at = lowered.find(anchor, at + 1)


def _lowered_windows(mail: MailBytes) -> Callable[[], Iterator[tuple[int, bytes, bytes]]]:
    """The mail's windows, each with its lower-cased copy, for the scans: a mail in memory is lowered once for
    both of them; a spooled one window by window, again for each scan (its windows are never all in memory)."""
    if not mail.spooled:
        windows = [(offset, window, window.lower()) for offset, window in mail.windows()]
        return lambda: iter(windows)
    return lambda: ((offset, window, window.lower()) for offset, window in mail.windows())


# Where a structure event (_STRUCTURE_EVENT) can start: the line end before `--` or before `content-type`. One
# search for `--` (base64 holds no `-`) rather than one for each line end.
_STRUCTURE_ANCHORS = ((b"--", 1), (b"content-type", 1))
_BOUNDARY_ANCHORS = ((b"boundary", 0),)


def _check_levels(windows: Iterator[tuple[int, bytes, bytes]], boundaries: frozenset[bytes] | None,
                  limits: StructureLimits) -> _Lines:
    """Count parts and open levels along the delimiter lines and attached-message headers."""
    parts, depth = 0, 0
    open_levels: list[bytes | None] = []  # a boundary, or None for an attached message
    found = _Lines()
    matches = ((offset, match) for offset, window, lowered in windows
               for match in _found(_STRUCTURE_EVENT, window, lowered, _STRUCTURE_ANCHORS))
    for events, (offset, match) in enumerate(matches, start=1):
        if events > limits.max_lines:
            return found  # more lines than allowed: refused by the caller, without walking them all
        token = match.group(1)
        if token is None:
            open_levels.append(None)
        else:
            found.dashes.append(offset + match.start() + 1)
            if (delimiter := _delimiter(token, boundaries)) is not None and _shut(open_levels, *delimiter):
                parts += 1
                found.openings.append(offset + match.end())
        depth = max(depth, len(open_levels))
        if parts > limits.max_parts:
            raise UnparseableMail(f"too many MIME parts (more than {limits.max_parts}, the limit)")
        if depth > limits.max_depth:
            raise UnparseableMail(f"MIME parts nested too deep (more than {limits.max_depth} levels, the limit)")
    return found


def _leaf_spans(mail: MailBytes, lines: _Lines) -> list[_Span]:
    """The bodies of parts that open with a delimiter line, declare base64 and no container type, and
    hold at least `_SPAN_MIN_BYTES` up to the next `--` line (or the end), with no character other
    than CR and LF that the parser ends lines at. Found from the scan's lines, reading only part headers."""
    spans: list[_Span] = []
    for opening in lines.openings:
        after = bisect_right(lines.dashes, opening)
        end = lines.dashes[after] if after < len(lines.dashes) else mail.size
        region = mail.read(opening, min(end, opening + _PART_HEAD_MAX_BYTES))
        head = _HEAD_END.search(region)
        start = opening + head.end() if head is not None else end
        if head is None or end - start < _SPAN_MIN_BYTES:
            continue
        headers = region[: head.start()]
        if not _BASE64_CTE.search(headers) or _CONTAINER_TYPE.search(headers):
            continue
        if mail.find_any(_OTHER_LINE_BREAKS, start, end):
            continue
        spans.append(_Span(start, end, _line_end(mail.read(end - 2, end))))
    return spans


def _line_end(last: bytes) -> bytes:
    """The line end the bytes `last` (a span's last two) end in ("" when none)."""
    if last.endswith(b"\r\n"):
        return b"\r\n"
    return last[-1:] if last.endswith((b"\r", b"\n")) else b""


def _declared_boundaries(windows: Iterator[tuple[int, bytes, bytes]], max_parts: int) -> frozenset[bytes] | None:
    """The multipart boundaries the mail declares; None when one is not plainly readable."""
    found: set[bytes] = set()
    matches = (match for _offset, window, lowered in windows
               for match in _found(_BOUNDARY_PARAM, window, lowered, _BOUNDARY_ANCHORS))
    for count, match in enumerate(matches, start=1):
        if count > max_parts:  # each declaration is a multipart, itself a part
            raise UnparseableMail(f"too many MIME parts (more than {max_parts} multipart boundaries)")
        value = match.group(2).strip()
        if match.group(1):  # RFC 2231: encoded or in continuations
            return None
        if value.startswith(b'"'):
            if len(value) < 2 or not value.endswith(b'"') or b"\\" in value:
                return None
            value = value[1:-1]
        if value := value.rstrip():
            found.add(value)
    return frozenset(found)


def _delimiter(token: bytes, boundaries: frozenset[bytes] | None) -> tuple[bytes, bool] | None:
    """(boundary, closing) when `--token` is a delimiter line of a declared boundary."""
    token = token.rstrip(b" \t")
    if not token:
        return None
    if boundaries is not None and token in boundaries:
        return token, False
    if token.endswith(b"--") and (boundaries is None or token[:-2] in boundaries):
        return token[:-2], True
    return (token, False) if boundaries is None else None


def _shut(open_levels: list[bytes | None], boundary: bytes, closing: bool) -> int:
    """Track one delimiter line: levels inside it end; returns 1 for a part that starts."""
    if boundary in open_levels:  # an opening line keeps its own level, a closing one ends it
        del open_levels[open_levels.index(boundary) + (not closing) :]
    elif not closing:
        open_levels.append(boundary)
    return 0 if closing else 1


def safe_filename(name: str) -> str:
    """A sender's file name made safe to display: no path, controls or bidi tricks; NFC; capped."""
    text = unicodedata.normalize("NFC", name)
    text = "".join(ch for ch in text if unicodedata.category(ch) not in _UNSAFE_CATEGORIES)
    text = _PATH_SEPARATORS.split(text)[-1]
    text = _DOT_RUNS.sub(".", text).strip().strip(".").strip()
    return _capped(text)


def _capped(name: str) -> str:
    if len(name) <= MAX_FILENAME_CHARS:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or len(extension) > _MAX_EXTENSION_CHARS:
        return name[:MAX_FILENAME_CHARS].rstrip(" .")
    return f"{stem[: MAX_FILENAME_CHARS - len(extension) - 1].rstrip(' .')}.{extension}"


def _email(headers: Headers, message: Message, walk: _Walk, depth: int) -> ParsedEmail:
    """One message level of the tree: its own body and files, and its attached messages."""
    level = _read_level(message, walk, depth)
    every = all_headers(message)
    return ParsedEmail(
        sender_name=headers.sender_name,
        sender_email=headers.sender_email,
        subject=headers.subject,
        date=headers.date,
        message_id=headers.message_id,
        body_text=_body_text(level.texts, walk),
        attachments=tuple(level.files),
        headers=every,
        recipients=recipients(_raw_headers(message)),
        content_type=_content_type(message),
        attached=tuple(level.attached),
    )


def all_headers(part: Message) -> tuple[tuple[str, str], ...]:
    """Every header of `part` as (lower-case name, decoded one-line value), bounded in count and size."""
    found = []
    for key, value in islice(part.raw_items(), MAX_HEADERS):
        text = _LINE_BREAKS.sub("", _unescape_8bit(str(value)))
        found.append((_one_line(key).lower(), _one_line(_decode_words(text[:HEADER_VALUE_MAX_CHARS]))))
    return tuple(found)


def _raw_headers(part: Message) -> tuple[tuple[str, str], ...]:
    """Every header of `part` as (lower-case name, one-line value) with its encoded words left as written:
    addresses are read from these, since a word decoded into an address would make one RFC 2047 forbids."""
    return tuple((_one_line(key).lower(), _LINE_BREAKS.sub("", _unescape_8bit(str(value)))[:HEADER_VALUE_MAX_CHARS])
                 for key, value in islice(part.raw_items(), MAX_HEADERS))


def recipients(headers: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    """The usable addresses in To, Cc, Delivered-To and X-Original-To (header values as written, not
    decoded), lower-cased, each once, in order."""
    values = [value for name, value in headers if name in _RECIPIENT_HEADERS]
    seen: dict[str, None] = {}
    for _name, written in getaddresses(values):
        if address := usable_address(written):
            seen.setdefault(address, None)
    return tuple(seen)


def usable_address(text: str) -> str:
    """`text` lower-cased when it is an addr-spec an applicant can be written to; "" when not: not one, or one
    holding an RFC 2047 encoded word, which no addr-spec may (RFC 2047 section 5; never decoded into one)."""
    address = _one_line(text).lower()
    if _ENCODED_WORD.search(address) or not _ADDR_SPEC.fullmatch(address):
        return ""
    return address


# -- headers ---------------------------------------------------------------------------


def read_headers(message: Message) -> Headers:
    """The header fields of one message level of the tree, cleaned."""
    sender_name, sender_email = read_sender(header_text(message, "from"))
    subject = unicodedata.normalize("NFC", _decode_words(header_text(message, "subject")))
    return Headers(
        sender_name=sender_name,
        sender_email=sender_email,
        subject=_one_line(subject)[:SUBJECT_MAX_CHARS],
        date=_date(header_text(message, "date")),
        message_id=_message_id(header_text(message, "message-id")),
    )


def header_text(part: Message, name: str) -> str:
    """The first raw value of a header, unfolded, 8-bit bytes read as text; "" when absent."""
    for key, value in part.raw_items():
        if key.strip().lower() == name:
            return _LINE_BREAKS.sub("", _unescape_8bit(str(value)))
    return ""


def _unescape_8bit(value: str) -> str:
    """Undo the parser's surrogate escapes: raw bytes as (mostly) UTF-8, else Windows-1252."""
    if value.isascii():  # no 8-bit byte at all: the text as it is
        return value
    raw = value.encode("utf-8", "surrogateescape")
    text = raw.decode("utf-8", "replace")
    if any(ch > "\x7f" and ch != "\ufffd" for ch in text) or "\ufffd" not in text:
        return text  # UTF-8, perhaps with a few broken bytes
    return raw.decode("cp1252", "replace")


def _decode_words(value: str) -> str:
    """Decode RFC 2047 encoded words; unknown charsets and broken words degrade, never raise."""
    if "=?" not in value:
        return value
    try:
        chunks = decode_header(value)
    except (HeaderParseError, ValueError):
        return value
    return "".join(_chunk_text(chunk, charset) for chunk, charset in chunks)


def _chunk_text(chunk: bytes | str, charset: str | None) -> str:
    if isinstance(chunk, str):
        return chunk
    if charset is None:  # decode_header's own escaping of the unencoded runs
        try:
            return chunk.decode("raw-unicode-escape")
        except UnicodeDecodeError:
            return chunk.decode("latin-1")
    return _text(chunk, charset)


def _text(data: bytes, charset: str | None) -> str:
    label = (charset or "utf-8").strip().lower()
    try:
        return data.decode(_CHARSET_ALIASES.get(label, label), "replace")
    except LookupError:  # unknown or made-up charset label
        return data.decode("utf-8", "replace")


def _one_line(text: str) -> str:
    collapsed = " ".join(text.split())
    if collapsed.isascii() and collapsed.isprintable():  # letters, digits, punctuation, spaces: all safe
        return collapsed
    return "".join(ch for ch in collapsed if unicodedata.category(ch) not in _UNSAFE_CATEGORIES)


def read_sender(value: str) -> tuple[str, str]:
    """(name, lower-case address) of a From value (raw, unfolded; "" for what is missing).

    A display name that is itself an address, unquoted, before one angle-addr (`a@b.example
    <c@d.example>`) is the name, and the angle-addr the address: `getaddresses` reads two
    addresses there before Python 3.11.10 (and took the first), none from then on.
    """
    if named := _ADDRESS_AS_NAME.fullmatch(value.strip()):
        name, address = named.group(1).strip(), usable_address(named.group(2))
        if address:
            return ("" if name.lower() == address else _one_line(_decode_words(name))), address
    return _pick_sender(getaddresses([value]) if value else [])


def _pick_sender(pairs: list[tuple[str, str]]) -> tuple[str, str]:
    """The first pair with an address; its name RFC 2047 decoded, also when quoted (Outlook). An address
    that is not a usable addr-spec (an encoded word in it, say) is "": the sender has none."""
    named = next((pair for pair in pairs if "@" in pair[1]), pairs[0] if pairs else ("", ""))
    return _one_line(_decode_words(named[0])), usable_address(named[1])


def _date(value: str) -> datetime | None:
    if not value.strip():
        return None
    try:
        parsed = parsedate_to_datetime(_one_line(value))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    # RFC 5322: "-0000" (and, by extension, no zone at all) means the time is in UTC.
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _message_id(value: str) -> str:
    text = _one_line(value)
    match = _ANGLE_ID.search(text)
    found = match.group(1) if match else text.strip("<> ")
    return found[:MESSAGE_ID_MAX_CHARS]


# -- MIME tree ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Walk:
    """What one mail's walk has used so far, across all its attached messages."""

    parts: int = 0
    messages: int = 0
    bodies: dict[int, _Body] = field(default_factory=dict)  # leaves parsed as a marker (`_skeleton_tree`)


@dataclass(slots=True)
class _Level:
    """What one message level holds: its leaves (with whether they sit in a non-message
    `message/*` part, such as a delivery report), every file at any depth in mail order, and
    the attached messages kept as `ParsedEmail`."""

    texts: list[tuple[Message, bool]] = field(default_factory=list)
    files: list[Attachment] = field(default_factory=list)
    attached: list[ParsedEmail] = field(default_factory=list)


def _read_level(message: Message, walk: _Walk, depth: int) -> _Level:
    level = _Level()
    for part, nested in _parts(message, walk):
        if _is_attached_message(part):
            _add_message(level, part.get_payload()[0], walk, depth)
        elif not _is_attachment(part):
            level.texts.append((part, nested))
        else:
            for file in _files(part, walk):
                inner = _eml_message(file) if depth < MAX_ATTACHED_DEPTH else None
                if inner is None:
                    level.files.append(file)
                else:
                    _add_message(level, inner, walk, depth)
    return level


def _add_message(level: _Level, inner: Message, walk: _Walk, depth: int) -> None:
    """An attached message: its files join the level's; it is kept whole within the bounds."""
    child = _email(read_headers(inner), inner, walk, depth + 1)
    level.files.extend(child.attachments)
    if depth < MAX_ATTACHED_DEPTH and walk.messages < MAX_ATTACHED_MESSAGES:
        walk.messages += 1
        level.attached.append(child)


def _parts(message: Message, walk: _Walk) -> Iterator[tuple[Message, bool]]:
    """The leaves and attached messages of one level in mail order (attached messages are not
    entered here), with whether each sits in another `message/*` part; `MAX_MIME_PARTS` in all."""
    stack: list[tuple[Message, bool]] = [(message, False)]
    while stack and walk.parts < MAX_MIME_PARTS:
        part, nested = stack.pop()
        walk.parts += 1
        if _is_attached_message(part) or not part.is_multipart():
            yield part, nested
            continue
        inner = nested or part.get_content_maintype() == "message"
        children = [child for child in part.get_payload() if isinstance(child, Message)]
        stack.extend((child, inner) for child in reversed(children))


def _is_attached_message(part: Message) -> bool:
    """A message/rfc822 (or message/global) part holding a parsed message."""
    if part.get_content_type() not in _MESSAGE_TYPES:
        return False
    payload = part.get_payload()
    return isinstance(payload, list) and bool(payload) and isinstance(payload[0], Message)


def _is_attachment(part: Message) -> bool:
    """A named part, one marked as attachment, or any leaf that is not body text.

    Disposition `inline` or none does not matter: a PDF with no disposition is a file. Text
    other than plain and HTML (RTF, calendar, vCard) is a file too, never silently dropped.
    """
    if _filename(part) or part.get_content_disposition() == "attachment":
        return True
    if part.get_content_maintype() == "text":
        return part.get_content_type() not in _BODY_TYPES
    return part.get_content_maintype() not in ("multipart", "message")


def _files(part: Message, walk: _Walk) -> list[Attachment]:
    """The file of one attachment part; a TNEF `winmail.dat` gives the files inside it instead."""
    sent = _sent_filename(part)
    file = Attachment(
        filename=safe_filename(sent), content_type=_content_type(part), data=_decoded_bytes(part, walk),
        original_filename=sent,
    )
    if not is_tnef(file.filename, file.content_type, file.data):
        return [file]
    inside = [
        Attachment(filename=safe_filename(unpacked.name), content_type="application/octet-stream",
                   data=unpacked.data, original_filename=unpacked.name[:ORIGINAL_FILENAME_MAX_CHARS],
                   container=file.filename or "winmail.dat")
        for unpacked in unpack_tnef(file.data)
    ]
    return inside or [file]


def _eml_message(file: Attachment) -> Message | None:
    """The message in an `.eml` file sent as a plain attachment (any declared type); None when
    the name is not `.eml`, the bytes are too many or beyond the structure limits, or they hold
    no mail headers. The mail's own tree is not parsed again: only these bytes."""
    if not file.filename.lower().endswith(".eml") or len(file.data) > EML_MAX_BYTES:
        return None
    try:
        check_structure(file.data, STRUCTURE_LIMITS)
        inner = _message_tree(file.data)
    except Exception:  # hostile bytes: the file stays a file
        return None
    return inner if inner.get("from") is not None else None


def _filename(part: Message) -> str:
    """The part's file name made safe for display and for the ATS (`safe_filename`)."""
    return safe_filename(_sent_filename(part))


def _sent_filename(part: Message) -> str:
    """RFC 2231 (continuations, charsets) then RFC 2047 decoding; not sanitised, capped."""
    probe = Message()  # the two headers re-read as real text, so 8-bit names survive
    for key in ("content-disposition", "content-type"):
        if value := header_text(part, key):
            probe[key] = value
    name = probe.get_filename() or ""
    return _decode_words(name)[:ORIGINAL_FILENAME_MAX_CHARS]


def _content_type(part: Message) -> str:
    match = _MIME_TYPE.match(part.get_content_type().strip().lower())
    return match.group(0) if match else "application/octet-stream"


def _decoded_bytes(part: Message, walk: _Walk) -> bytes:
    """The part's bytes with its transfer encoding undone (tolerating `base64;` and the like); a leaf
    the parser saw as a marker is decoded from its span of the raw bytes."""
    declared = header_text(part, "content-transfer-encoding")
    token = _CTE_TOKEN.match(declared.strip().lower())
    if token and declared and token.group(0) != declared:
        part.replace_header("content-transfer-encoding", token.group(0))
    body = walk.bodies.get(id(part))
    base64 = str(part.get("content-transfer-encoding", "")).lower() == "base64"
    if body is not None and base64 and (decoded := body.base64()) is not None:
        return decoded
    if body is not None and base64 and (encoded := body.encoded()).isascii():
        return _base64_bytes(encoded)
    if body is not None:  # not base64 as the parser reads the headers: the payload as it would have been
        part.set_payload(walk.bodies.pop(id(part)).encoded().decode("ascii", "surrogateescape"))
    payload = part.get_payload()
    if isinstance(payload, str) and base64:
        return _base64_bytes(payload.encode("ascii", "surrogateescape"))
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def _base64_bytes(encoded: bytes) -> bytes:
    """`get_payload(decode=True)` of a base64 part, without its list of one object per line.

    Same steps as compat32's (bytes as parsed, line breaks dropped, `decode_b`'s lenience for
    bad padding and stray characters); `translate` drops exactly what `splitlines` splits on.
    """
    return decode_b(encoded.translate(None, b"\r\n"))[0]


# -- body --------------------------------------------------------------------------------


def _body_text(leaves: list[tuple[Message, bool]], walk: _Walk) -> str:
    """The plain-text parts of the mail itself; else its HTML parts as text; bounded."""
    texts = [part for part, nested in leaves if not nested]
    plain = [_part_text(p, walk) for p in texts if p.get_content_type() == "text/plain"]
    if not any(t.strip() for t in plain):
        html = [
            _part_text(p, walk)[:_HTML_MAX_CHARS] for p in texts if p.get_content_type() == "text/html"
        ]
        plain = [_html_to_text(h) for h in html]
    return _clean_body("\n\n".join(t for t in plain if t.strip()))[:BODY_MAX_CHARS]


def _part_text(part: Message, walk: _Walk) -> str:
    return _text(
        _decoded_bytes(part, walk)[: BODY_MAX_CHARS * 4 + _HTML_MAX_CHARS], part.get_content_charset()
    )


def _clean_body(text: str) -> str:
    text = _LINE_BREAKS.sub("\n", text)
    if text.isascii():  # the only unsafe ASCII are the controls (Cc)
        return text.translate(_ASCII_CONTROLS).strip()
    kept = (ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in _UNSAFE_CATEGORIES)
    return "".join(kept).strip()


class _HtmlText(HTMLParser):
    """Collects the visible text of an HTML body, with line breaks at block elements. Table cells
    stand apart, and a line break in the HTML source within a table row is a space, so a forwarded
    header table (Thunderbird, Mail.ru) reads as one `Label: value` line per row."""

    _HIDDEN = frozenset({"script", "style", "title"})
    _BLOCKS = frozenset(
        {"br", "p", "div", "li", "tr", "table", "h1", "h2", "h3", "h4", "blockquote", "pre", "hr"}
    )
    _CELLS = frozenset({"td", "th"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._hidden = 0
        self._rows = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden += 1
        elif tag in self._BLOCKS:
            self.chunks.append("\n")
            self._rows += tag == "tr"
        elif tag in self._CELLS:
            self.chunks.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in self._BLOCKS:
            self.chunks.append("\n")
            self._rows = max(0, self._rows - (tag == "tr"))

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.chunks.append(data.replace("\r", " ").replace("\n", " ") if self._rows else data)


def _html_to_text(html: str) -> str:
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.chunks).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
