"""Turn the raw bytes of one email into a `ParsedEmail` (pure: bytes in, data out).

Everything here reads attacker-controlled text, so the rules are:

- The MIME tree comes from the standard library parser with `policy.compat32`, which never
  raises on malformed structure (it records defects instead) and keeps 8-bit bytes as
  surrogate escapes, so attachment bytes come back exactly as sent through
  `get_payload(decode=True)`, whatever the transfer encoding.
- mail-parser (`headers_from_mailparser`) reads the sender and subject. The standard library
  reading (`headers_from_stdlib`) is the guarded fallback: for all headers when mail-parser
  raises (4.8 raises `AttributeError` on nested parts reusing one boundary:
  `dovecot-nested-boundary-prefix-clash.eml`, `mailcore-same-boundary-nested-3x.eml`), and
  field by field where mail-parser reads worse (see `headers_from_mailparser`).
- Attachments and the body always come from the stdlib tree. mail-parser returns attachments
  as strings and names unnamed parts at random; its `text_plain` also holds the text of
  forwarded messages and of named inline text parts, and leaves 7-bit ISO-2022-JP undecoded
  (`mikel-iso-2022-jp.eml`), none of which belongs in the applicant's body text.
- Header values are unfolded, RFC 2047 decoded, stripped of control characters; raw 8-bit
  headers are read as UTF-8, else Windows-1252.
- File names are display text only (`safe_filename`): never join them into a path.
- Input that has no header at all is not an email: `UnparseableMail`. So is anything the
  libraries raise on; their exception is chained, never leaked.
"""

from __future__ import annotations

import email
import logging
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.errors import HeaderParseError
from email.header import decode_header
from email.message import Message
from email.policy import compat32
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser

import mailparser

from daemon.errors import UnparseableMail
from daemon.mail import Attachment, ParsedEmail

log = logging.getLogger(__name__)
# mail-parser logs header text and file names (at ERROR when a header does not decode): mail
# content must not reach the daemon's logs, and the fallback below reports its failures.
logging.getLogger("mailparser").setLevel(logging.CRITICAL)

BODY_MAX_CHARS = 100_000
SUBJECT_MAX_CHARS = 1_000
MESSAGE_ID_MAX_CHARS = 998
MAX_FILENAME_CHARS = 150
MAX_MIME_PARTS = 1_000  # parts walked per message; the rest are ignored
_HTML_MAX_CHARS = 1_000_000  # HTML fed to the text stripper
_MAX_EXTENSION_CHARS = 16
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})  # controls, bidi, surrogates
_PATH_SEPARATORS = re.compile(r"[/\\]")
_DOT_RUNS = re.compile(r"\.{2,}")
_LINE_BREAKS = re.compile(r"\r\n|\r|\n")
_ADDR_SPEC = re.compile(r"[^@\s<>]+@[^@\s<>]+")
_ANGLE_ID = re.compile(r"<([^<>\s]+)>")
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


# A header reader gets the raw bytes and their stdlib tree; None means "nothing usable".
HeaderReader = Callable[[bytes, Message], "Headers | None"]


def parse_email(raw: bytes, *, header_readers: Sequence[HeaderReader] | None = None) -> ParsedEmail:
    """Parse one raw RFC 5322 message; raise `UnparseableMail` when it is not one.

    The headers come from the first of `header_readers` (default `HEADER_READERS`) that reads
    them, else from `headers_from_stdlib`; body and attachments always from the stdlib tree.
    """
    if not raw.strip():
        raise UnparseableMail("empty message")
    readers = HEADER_READERS if header_readers is None else header_readers
    try:
        message = email.message_from_bytes(raw, policy=compat32)
        if not message.keys():
            raise UnparseableMail("no mail headers found: not an RFC 5322 message")
        parsed = _parsed(_headers(raw, message, readers), message)
    except UnparseableMail:
        raise
    except Exception as exc:  # hostile input: any library failure means "cannot parse"
        raise UnparseableMail(f"the mail could not be parsed ({type(exc).__name__})") from exc
    log.debug(
        "mail.parsed",
        extra={"attachments": len(parsed.attachments), "defects": len(message.defects)},
    )
    return parsed


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


def _parsed(headers: Headers, message: Message) -> ParsedEmail:
    leaves = list(_leaves(message))
    return ParsedEmail(
        sender_name=headers.sender_name,
        sender_email=headers.sender_email,
        subject=headers.subject,
        date=headers.date,
        message_id=headers.message_id,
        body_text=_body_text(leaves),
        attachments=tuple(_attachment(part) for part, _ in leaves if _is_attachment(part)),
    )


def _headers(raw: bytes, message: Message, readers: Sequence[HeaderReader]) -> Headers:
    """The first reader's headers; any failure of theirs falls back to the standard library."""
    for reader in readers:
        try:
            headers = reader(raw, message)
        except Exception as exc:  # a library bug on hostile input: the next reader decides
            _log_fallback(reader, type(exc).__name__)
            continue
        if headers is not None:
            return headers
        _log_fallback(reader, "no result")
    return headers_from_stdlib(raw, message)


def _log_fallback(reader: HeaderReader, error: str) -> None:
    name = getattr(reader, "__name__", type(reader).__name__)
    log.debug("parse.fallback", extra={"reader": name, "error": error})


# -- headers ---------------------------------------------------------------------------


def headers_from_mailparser(raw: bytes, message: Message) -> Headers | None:
    """mail-parser's sender and subject over the stdlib's other fields; None without headers.

    The standard library's value is kept where mail-parser reads worse:
    - date: mail-parser turns it into UTC and keeps the sender's offset only as a string
      rounded to a tenth of an hour ("+5.8" for +0545);
    - Message-ID: an opaque token that needs no decoding; mail-parser RFC 2047-decodes it
      (`<=?utf-8?q?a=C3=A9?=@x>` becomes `aé@x`), which would change the mail's identity;
    - a From or Subject with raw 8-bit octets, or whose encoded words do not decode (U+FFFD
      in the stdlib reading): mail-parser then drops bytes (`errors="ignore"`), leaves
      escaped surrogates or skips the encoded words (`flanker-malformed-8bit-headers.eml`);
    - a sender mail-parser refuses as ambiguous (`Jane <jane@example.com`, no `>`).
    mail-parser's subjects are NFC; its sender is the angle-addr of `a@b.example <c@d.example>`.
    """
    mail = mailparser.parse_from_bytes(raw)
    if mail.message is None or not mail.message.keys():
        return None
    stdlib = headers_from_stdlib(raw, message)
    name, address = _pick_sender(mail.from_)
    if not address or not _plain(message, "from", stdlib.sender_name):
        name, address = stdlib.sender_name, stdlib.sender_email
    subject = _one_line(_first(mail.subject))[:SUBJECT_MAX_CHARS]
    if not _plain(message, "subject", stdlib.subject):
        subject = stdlib.subject
    return replace(stdlib, sender_name=name, sender_email=address, subject=subject)


def headers_from_stdlib(raw: bytes, message: Message) -> Headers:
    """The standard library's reading of the headers (from `message`, the tree of `raw`)."""
    sender_name, sender_email = _sender(_header(message, "from"))
    return Headers(
        sender_name=sender_name,
        sender_email=sender_email,
        subject=_one_line(_decode_words(_header(message, "subject")))[:SUBJECT_MAX_CHARS],
        date=_date(_header(message, "date")),
        message_id=_message_id(_header(message, "message-id")),
    )


HEADER_READERS: tuple[HeaderReader, ...] = (headers_from_mailparser,)


def _first(value: str | list[str]) -> str:
    """mail-parser gives a list when a header repeats; the first counts, as in `_header`."""
    return value[0] if isinstance(value, list) else value


def _plain(message: Message, name: str, stdlib_text: str) -> bool:
    """Whether a header is 7-bit on the wire and its stdlib reading shows no U+FFFD."""
    raw = next((str(v) for k, v in message.raw_items() if k.strip().lower() == name), "")
    return raw.isascii() and "\ufffd" not in stdlib_text


def _header(part: Message, name: str) -> str:
    """The first raw value of a header, unfolded, 8-bit bytes read as text; "" when absent."""
    for key, value in part.raw_items():
        if key.strip().lower() == name:
            return _LINE_BREAKS.sub("", _unescape_8bit(str(value)))
    return ""


def _unescape_8bit(value: str) -> str:
    """Undo the parser's surrogate escapes: raw bytes as (mostly) UTF-8, else Windows-1252."""
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
    return "".join(ch for ch in collapsed if unicodedata.category(ch) not in _UNSAFE_CATEGORIES)


def _sender(value: str) -> tuple[str, str]:
    return _pick_sender(getaddresses([value]) if value else [])


def _pick_sender(pairs: list[tuple[str, str]]) -> tuple[str, str]:
    """The first pair with an address; its name RFC 2047 decoded, also when quoted (Outlook)."""
    named = next((pair for pair in pairs if "@" in pair[1]), pairs[0] if pairs else ("", ""))
    address = _one_line(named[1]).lower()
    return _one_line(_decode_words(named[0])), address if _ADDR_SPEC.fullmatch(address) else ""


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


def _leaves(message: Message) -> Iterator[tuple[Message, bool]]:
    """Each non-multipart part in order, with whether it sits inside an attached message."""
    stack: list[tuple[Message, bool]] = [(message, False)]
    walked = 0
    while stack and walked < MAX_MIME_PARTS:
        part, nested = stack.pop()
        walked += 1
        if not part.is_multipart():
            yield part, nested
            continue
        inner = nested or part.get_content_maintype() == "message"
        children = [child for child in part.get_payload() if isinstance(child, Message)]
        stack.extend((child, inner) for child in reversed(children))


def _is_attachment(part: Message) -> bool:
    """A named part, one marked as attachment, or any leaf that is not text."""
    if _filename(part) or part.get_content_disposition() == "attachment":
        return True
    return part.get_content_maintype() not in ("text", "multipart", "message")


def _attachment(part: Message) -> Attachment:
    return Attachment(
        filename=_filename(part), content_type=_content_type(part), data=_decoded_bytes(part)
    )


def _filename(part: Message) -> str:
    """RFC 2231 (continuations, charsets) then RFC 2047 decoding, then `safe_filename`."""
    probe = Message()  # the two headers re-read as real text, so 8-bit names survive
    for key in ("content-disposition", "content-type"):
        if value := _header(part, key):
            probe[key] = value
    name = probe.get_filename() or ""
    return safe_filename(_decode_words(name))


def _content_type(part: Message) -> str:
    match = _MIME_TYPE.match(part.get_content_type().strip().lower())
    return match.group(0) if match else "application/octet-stream"


def _decoded_bytes(part: Message) -> bytes:
    """The part's bytes with its transfer encoding undone (tolerating `base64;` and the like)."""
    declared = _header(part, "content-transfer-encoding")
    token = _CTE_TOKEN.match(declared.strip().lower())
    if token and declared and token.group(0) != declared:
        part.replace_header("content-transfer-encoding", token.group(0))
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


# -- body --------------------------------------------------------------------------------


def _body_text(leaves: list[tuple[Message, bool]]) -> str:
    """The plain-text parts of the mail itself; else its HTML parts as text; bounded."""
    texts = [part for part, nested in leaves if not nested and not _is_attachment(part)]
    plain = [_part_text(p) for p in texts if p.get_content_type() == "text/plain"]
    if not any(t.strip() for t in plain):
        html = [
            _part_text(p)[:_HTML_MAX_CHARS] for p in texts if p.get_content_type() == "text/html"
        ]
        plain = [_html_to_text(h) for h in html]
    return _clean_body("\n\n".join(t for t in plain if t.strip()))[:BODY_MAX_CHARS]


def _part_text(part: Message) -> str:
    return _text(
        _decoded_bytes(part)[: BODY_MAX_CHARS * 4 + _HTML_MAX_CHARS], part.get_content_charset()
    )


def _clean_body(text: str) -> str:
    text = _LINE_BREAKS.sub("\n", text)
    kept = (ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in _UNSAFE_CATEGORIES)
    return "".join(kept).strip()


class _HtmlText(HTMLParser):
    """Collects the visible text of an HTML body, with line breaks at block elements."""

    _HIDDEN = frozenset({"script", "style", "title"})
    _BLOCKS = frozenset(
        {"br", "p", "div", "li", "tr", "table", "h1", "h2", "h3", "h4", "blockquote", "pre", "hr"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden += 1
        elif tag in self._BLOCKS:
            self.chunks.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in self._BLOCKS:
            self.chunks.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.chunks.append(data)


def _html_to_text(html: str) -> str:
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.chunks).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
