"""Inline forwards: the original sender's header block written as text in a forward's body.

Mail clients write the forwarded message's headers as lines of text, in the forwarder's
language (`shared/field-notes.md`, "Forwarded mail"). The shapes known here, with the labels and
separators taken from the clients' own translations (crisp-oss/email-forward-parser's
`lib/parser.js`, MIT, and its fixtures in `tests/fixtures/forwards/`):

| client | introduced by | fields |
|---|---|---|
| Gmail, Missive, HubSpot | `---------- Forwarded message ---------` | `From:`/`Date:`/`Subject:`/`To:` |
| (other languages) | the same (HubSpot: translated) | `Da:`, `Van:`, `Od:`, `Gönderen:`, `送信元` + full-width colon |
| Outlook desktop, BlackBerry, IONOS | `-----Original Message-----`, translated | `From:`/`Sent:`/`To:`/`Subject:` |
| (Outlook's address) | | often `Name [mailto:addr]`, `a@b<mailto:a@b>`, or missing |
| Outlook Live / 365, new Outlook | a line of underscores, or nothing | translated labels, `*From:*` in bold |
| Outlook 2019 (Mac) | a "wrote:" line: `On <date>, "Name" <addr> wrote:` (a row per locale) | none |
| Yandex | `12.02.2019, 01:54, "Name" <addr>:` | none |
| Apple Mail, MailMate | `Begin forwarded message:`, translated, often quoted with `>` | + `Reply-To:` |
| Thunderbird | `-------- Forwarded Message --------`, translated | `Subject:` first; in HTML a table |
| Yahoo Mail | `----- Forwarded Message -----`, translated | all on the separator's line, glued |
| Mail.ru | `-------- Пересылаемое сообщение --------` | `От кого:`, `Кому:`, `Дата:`, `Тема:` |

Inside a block: full-width colons (`件名` U+FF1A), a `Reply-To` line, and one blank line between fields
(BlackBerry; HTML tables reduced to text) are all read.

Why a table of our own and not `email-forward-parser` (evaluated, version 0.1.3, the last one
for Python before 3.14): it knows no Outlook desktop separator (`-----Original Message-----`,
`Ursprüngliche Nachricht`) unless the subject starts with a forward prefix, misses the Russian
Gmail and Outlook blocks and the `Пересл:` prefix, returns the outer block of a mail forwarded
twice (the middle forwarder, not the candidate), and some of its regular expressions take
quadratic time on long lines of attacker text (2.9 s for one 12,000-character line; bodies
reach 100,000). Here every pattern runs over a bounded line (1,000 characters) and has no nested
repetition; each is anchored at the line start, but for two scans (Yahoo's glued labels, the
address of a "wrote:" line) that try a fixed set of words or a bracket at each position: the
whole scan is linear in the body.

The Outlook separator, a bare header block and a "wrote:" line also open a *quoted reply*; a
reply is not a forward. So a header block counts only when a forward separator precedes it, or
the caller says the mail is a forward (a forward subject prefix, an internal sender); a "wrote:"
line only in the latter case, and only when no header block is found. `at_top` says whether the
forward is the first thing in the body (at most a short note above it): the caller's sign that
a mail is plainly a forward rather than a letter that quotes one. Of several blocks, the chain is
followed inward while a link forwards (its sender is passed over, or its subject is a forward and
the next block is at the top of its text); see daemon.mail.forwards for why. Everything here is
pure text processing.
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
_NOTE_LINES = 15  # non-blank lines a forwarder's note above the forward may have for it to be at the top

# Separators by client and language, from the clients' own translations (crisp-oss/email-forward-parser,
# lib/parser.js, MIT) and the Outlook desktop locales. Written as the client writes them (case is ignored).
_FORWARD_TITLES = (  # between dashes: Gmail, Yahoo, Thunderbird, HubSpot, Mail.ru
    "forwarded message", "weitergeleitete nachricht", "message transféré", "message transfere", "message transmis",
    "mensaje reenviado", "mensaje transferido", "пересылаемое сообщение", "перенаправленное сообщение",
    "пересланное сообщение", "přeposlaná zpráva", "videresendt meddelelse", "edelleenlähetetty viesti",
    "továbbított üzenet", "messaggio inoltrato", "doorgestuurd bericht", "videresendt melding",
    "przekazana wiadomość", "mensagem reencaminhada", "mensagem encaminhada", "mesaj redirecționat",
    "mesaj redirectionat", "preposlaná správa", "vidarebefordrat meddelande", "İletilmiş mesaj",
    "iletilmiş mesaj", "перенаправлене повідомлення", "välitetty viesti / fwd.msg", "proslijeđena poruka",
    "treść przekazanej wiadomości", "preposlaná správa --- forwarded message", "İletilen ileti", "iletilen ileti",
    "переслане повідомлення", "メッセージを転送", "転送メッセージ", "wiadomość przesłana dalej", "转发的邮件",
    "轉寄的郵件", "전달된 메시지", "edasi saadetud kiri", "proslijeđena poruka", "preusmjerena poruka",
)
_FORWARD_OPENERS = (  # a line ending in a colon: Apple Mail, MailMate
    "begin forwarded message", "začátek přeposílané zprávy", "start på videresendt besked",
    "anfang der weitergeleiteten nachricht", "inicio del mensaje reenviado", "välitetty viesti alkaa",
    "début du message réexpédié", "début du message transféré", "debut du message reexpedie",
    "započni proslijeđenu poruku", "továbbított levél kezdete", "inizio messaggio inoltrato",
    "begin doorgestuurd bericht", "videresendt melding", "początek przekazywanej wiadomości",
    "início da mensagem reencaminhada", "início da mensagem encaminhada", "începe mesajul redirecționat",
    "начало переадресованного сообщения", "začiatok preposlanej správy", "vidarebefordrat mejl",
    "İleti başlangıcı", "ileti başlangıcı", "початок листа, що пересилається", "forwarded message",
    "転送されたメッセージ", "转发的邮件", "전달된 메시지",
)
_ORIGINAL_TITLES = (  # between dashes: Outlook desktop, IONOS, BlackBerry
    "original message", "ursprüngliche nachricht", "message d'origine", "mensaje original",
    "исходное сообщение", "původní zpráva", "oprindelig meddelelse", "alkuperäinen viesti",
    "messaggio originale", "oorspronkelijk bericht", "opprinnelig melding", "wiadomość oryginalna",
    "mensagem original", "ursprungligt meddelande", "eredeti üzenet", "pôvodná správa", "orijinal ileti",
    "оригінальне повідомлення", "izvorna poruka", "mesaj original", "元のメッセージ", "原始邮件", "原始郵件",
    "원본 메시지",
)


def _words(words: tuple[str, ...]) -> str:
    return "|".join(re.escape(word) for word in sorted(set(words), key=len, reverse=True))


FORWARD_SEPARATORS = (
    r"-{2,}\s*(?:" + _words(_FORWARD_TITLES) + r")\s*-{2,}",
    r"(?:" + _words(_FORWARD_OPENERS) + r")\s*[:：]",
)
ORIGINAL_SEPARATORS = (
    r"-{2,}\s*(?:" + _words(_ORIGINAL_TITLES) + r")\s*-{2,}",
    r"_{10,}",
    r"original message",  # BlackBerry: the words alone on their line
)
_FORWARD_SEPARATOR = re.compile("|".join(FORWARD_SEPARATORS), re.IGNORECASE)
_ORIGINAL_SEPARATOR = re.compile("|".join(ORIGINAL_SEPARATORS), re.IGNORECASE)

# Field labels of a forwarded header block, by what they mean, in the languages of the separators
# (the clients' own translations: Gmail, Outlook, Apple Mail, Thunderbird, Yahoo, HubSpot, Mail.ru, ...).
FIELD_LABELS = {
    "from": ("from", "von", "de", "od", "fra", "lähettäjä", "šalje", "feladó", "da", "van", "expeditorul",
             "отправитель", "från", "kimden", "від кого", "saatja", "de la", "gönderen", "от", "от кого", "від",
             "mittente", "nadawca", "送信元", "差出人", "发件人", "寄件者", "寄件人", "보낸 사람", "보낸사람",
             "absender", "expéditeur", "remitente", "odesílatel", "afzender", "avsändare", "lähettäjä",
             "pošiljatelj", "pošiljalac"),
    "date": ("date", "sent", "datum", "dato", "envoyé", "fecha", "päivämäärä", "päiväys", "dátum", "data",
             "dată", "дата", "tarih", "日付", "日期", "时间", "發送時間", "发送时间", "날짜", "보낸 날짜",
             "gesendet", "enviado", "enviado el", "отправлено", "sendt", "verzonden", "wysłano", "wysłane",
             "inviato", "lähetetty", "skickat", "gönderilen", "gönderildi", "elküldve", "trimis", "odesláno",
             "odoslané", "poslano", "надіслано", "відправлено", "kuupäev", "saadetud"),
    "to": ("to", "an", "à", "a", "para", "кому", "komu", "til", "vastaanottaja", "prima", "címzett", "aan",
           "do", "destinatarul", "către", "pre", "till", "kime", "pour", "adresat", "送信先", "宛先", "收件人",
           "收件者", "받는 사람", "받는사람", "saaja", "primatelj"),
    "cc": ("cc", "kopie", "copie", "копия", "kopio", "másolat", "kopi", "dw", "kopia", "bilgi", "копія",
           "másolatot kap", "kópia", "kopie (cc)", "copie à", "抄送", "副本", "참조", "koopia"),
    "bcc": ("bcc", "blindkopie", "cci", "cco", "скрытая копия"),
    "subject": ("subject", "betreff", "objet", "sujet", "asunto", "тема", "předmět", "emne", "aihe", "predmet",
                "tárgy", "oggetto", "onderwerp", "temat", "assunto", "subiectul", "subiect", "ämne", "konu",
                "naslov", "件名", "主题", "主旨", "제목", "teema"),
    "reply_to": ("reply-to", "reply to", "odgovori na", "odpověď na", "svar til", "antwoord aan", "vastaus",
                 "répondre à",
                 "antwort an", "válaszcím", "rispondi a", "odpowiedź-do", "responder a", "răspuns către",
                 "ответ-кому", "odpovedať-pre", "svara till", "yanıt adresi", "кому відповісти"),
    "sender": ("sender",),
}
_LABEL_FIELD = {label: field for field, labels in FIELD_LABELS.items() for label in labels}
_LABELS = _words(tuple(_LABEL_FIELD))
_FIELD_LINE = re.compile(r"\*?(" + _LABELS + r")\*?[ \t]?[:：]\*?[ \t]*(.*)", re.IGNORECASE)
# A label anywhere in a line: Yahoo Mail writes the separator and every field on one line, glued.
_GLUED_LABEL = re.compile(r"(" + _LABELS + r")[ \t]?[:：]", re.IGNORECASE)
_SEPARATOR_START = re.compile(FORWARD_SEPARATORS[0], re.IGNORECASE)
_QUOTE_MARKS = re.compile(r"^(?:[ \t]*>)+[ \t]?")

# A "wrote:" line that opens a forward instead of a header block (Outlook 2019 in its locales, Yandex):
# (the line begins with, the name stands after, the words after the address). The name "after" None
# is the quoted one right before the address ("Name", « Name », „Name”); "" is all the text before it.
WROTE_LINES = (
    ("On ", None, "wrote"),  # en: On 28/10/2021 12:46, "John Doe" <a@b> wrote:
    ("Dne ", ", ", "napsal(a)"),  # cs
    ("D. ", None, ""),  # da: D. <date> skrev "Name" <a@b>:
    ("Am ", None, ""),  # de: Am <date> schrieb "Name" <a@b>:
    ("El ", None, "escribió"),  # es
    ("Le ", None, "a écrit"),  # fr
    ("", "", "kirjoitti"),  # fi: Name <a@b> kirjoitti <date>:
    ("", "időpontban ", "ezt írta"),  # hu: <date> időpontban Name (a@b) ezt írta:
    ("Il giorno ", None, "ha scritto"),  # it
    ("Op ", "heeft ", "geschreven"),  # nl
    ("", "", "skrev følgende den"),  # no
    ("Dnia ", None, "napisał"),  # pl
    ("Em ", None, "escreveu"),  # pt
    ("", None, "написал"),  # ru: <date> пользователь "Name" <a@b> написал:
    ("", "používateľ ", "napísal"),  # sk
    ("Den ", None, "följande"),  # sv
    ("", None, "tarihinde şunu yazdı"),  # tr: "Name" <a@b>, <date> ... (the words last)
    ("", None, ""),  # Yandex: 12.02.2019, 01:54, "Name" <a@b>:
)
_WROTE_ADDRESS = re.compile(r"[<\[(](?:mailto:)?([^\s<>\[\]()@]+@[^\s<>\[\]()@]+)[>\])]", re.IGNORECASE)
_QUOTES = {'"': '"', "»": "«", "”": "„“", "“": "„"}

# Subject prefixes: forwards in the languages above, as Outlook, Gmail, Thunderbird, Yahoo and the
# Asian clients write them, and replies, which a forwarded subject often carries behind the forward
# prefix ("WG: AW: ..."). "Vs:" is Norwegian Outlook's forward (and Finnish for a reply): a forward here.
FORWARD_PREFIXES = ("fwd", "fw", "wg", "tr", "rv", "enc", "vs", "vb", "vl", "pd", "i", "doorst", "videresend",
                    "redir.", "İlt", "ilt", "přeposlat", "továbbítás", "пересл", "переслать", "转发", "轉寄",
                    "轉發", "전달", "転送")
REPLY_PREFIXES = ("re", "aw", "antw", "antwort", "sv", "res", "odp", "ynt", "vá", "r", "ответ", "отв", "réf",
                  "rif", "回复", "答复", "回覆", "답장", "返信")
_PREFIX = re.compile(
    r"\s*(?P<word>" + _words(FORWARD_PREFIXES + REPLY_PREFIXES) + r")(?:\[\d+\]|\(\d+\))?\s*[:：]\s*",
    re.IGNORECASE,
)
_FORWARD_WORD = re.compile("(?:" + _words(FORWARD_PREFIXES) + r")(?:\[\d+\])?", re.IGNORECASE)
_ANGLE_ADDRESS = re.compile(r"(.*?)[<\[]\s*(?:mailto:)?([^\s<>\[\]@]+@[^\s<>\[\]@]+?)\s*[>\]]", re.IGNORECASE)
_MAILTO_ECHO = re.compile(r"(?<=[^\s<>\[\]])<mailto:[^\s<>]*>", re.IGNORECASE)  # Outlook's `a@b<mailto:a@b>`
_BARE_ADDRESS = re.compile(r"[^\s<>\[\]()\"',;:@]+@[^\s<>\[\]()\"',;:@]+\.[^\s<>\[\]()\"',;:@]+")


@dataclass(frozen=True, slots=True)
class HeaderBlock:
    """One forwarded header block: its fields (first of each), and what introduced it."""

    fields: dict[str, str]
    forward_separator: bool  # a forward separator ("Forwarded message") right above it
    any_separator: bool  # a forward or original-message separator above it
    line: int = 0  # the index of its separator's line, or of its first field when it has none
    wrote: bool = False  # a "wrote:" line (`On <date>, "Name" <a@b> wrote:`), not a block of fields
    # It (or its separator) follows at most a short note quoted no deeper than it, from the text's
    # start or from the block before it: the link above it plainly forwards it.
    at_top: bool = False

    @property
    def sender(self) -> Person:
        return person(self.fields.get("from", ""))


@dataclass(frozen=True, slots=True)
class InlineForward:
    """The innermost original sender of an inline forward; `sender` is None when its header is cut off."""

    sender: Person | None
    subject: str  # the original subject, forward and reply prefixes stripped; "" when not found
    # The forward (its separator, else its header block) is the first thing in the body: above it at
    # most a short note (_NOTE_LINES non-blank lines), no quoted text and no quote header.
    at_top: bool = False


@dataclass(frozen=True, slots=True)
class _Lines:
    """A body as lines: quote marks and outer blanks stripped, each bounded; which were quoted, how deep."""

    text: list[str]
    quoted: list[bool]
    depth: list[int]  # the number of quote marks ("> > x" is 2)


def inline_forward(
    text: str, *, expect_forward: bool, passed_over: Callable[[str], bool] = lambda _address: False
) -> InlineForward | None:
    """The original sender of the inline forward in `text` (a body), or None when it is no forward.

    `expect_forward`: the mail is a forward by other signs (subject prefix, internal sender),
    so a block introduced by an Outlook separator or by nothing counts too, and so does a
    "wrote:" line when there is no block. A forward separator with no readable block under it
    (headers cut off) gives `InlineForward(None, "")`; no block and no forward separator give
    None, whatever `expect_forward` says.
    `passed_over(address)`: a block from such an address (an internal colleague who forwarded
    it on) leads on to the next block.
    """
    lines = _lines(text)
    found = header_blocks(lines)
    blocks = [b for b in found if not b.wrote and (b.forward_separator or (expect_forward and b.fields.get("from")))]
    if not blocks and expect_forward:
        blocks = [b for b in found if b.wrote][:1]
    if not blocks:
        cut = next((i for i, line in enumerate(lines.text) if _FORWARD_SEPARATOR.fullmatch(line)), None)
        return None if cut is None else InlineForward(None, "", at_top(lines, cut))
    block = _innermost(blocks, passed_over)
    sender = block.sender
    found_sender = sender if (sender.name or sender.address) else None
    return InlineForward(found_sender, strip_prefixes(block.fields.get("subject", "")), at_top(lines, blocks[0].line))


def at_top(lines: _Lines, start: int) -> bool:
    """Whether only a short note stands above line `start`: no quoted line, no quote header, no block."""
    above = [index for index in range(start) if lines.text[index]]
    if len(above) > _NOTE_LINES:
        return False
    return not any(lines.quoted[i] or _is_header(lines.text, i) for i in above)


def _is_header(text: list[str], index: int) -> bool:
    line = text[index]
    return bool(_ORIGINAL_SEPARATOR.fullmatch(line) or _FORWARD_SEPARATOR.fullmatch(line)
                or _wrote_line(line) or _FIELD_LINE.fullmatch(line))


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


def header_blocks(body: _Lines) -> list[HeaderBlock]:
    """Every block of forwarded-header lines holding a From field, and every "wrote:" line, in text order."""
    lines = body.text
    blocks: list[HeaderBlock] = []
    index, separator, since, opened, note_from = 0, "", 0, 0, 0
    while index < len(lines):
        line = lines[index]
        if _FORWARD_SEPARATOR.fullmatch(line):
            separator, since, opened = "forward", 0, index
        elif _ORIGINAL_SEPARATOR.fullmatch(line):
            separator, since, opened = "original", 0, index
        elif (fields_end := _block_at(lines, index)) is not None:
            fields, end = fields_end
            if _plausible_from(fields.get("from", "")) and (separator or len(fields) >= 2):
                first = opened if separator else index
                blocks.append(HeaderBlock(fields, separator == "forward", bool(separator), first,
                                          at_top=_short_note(body, note_from, first)))
                note_from = end
            separator, index = "", end
            continue
        elif (sender := _wrote_line(line)) is not None:
            blocks.append(HeaderBlock({"from": sender}, False, False, index, wrote=True))
            separator = ""
        elif line:
            since += 1
            if since > _SEPARATOR_WINDOW:
                separator = ""
        index += 1
    return blocks


def _short_note(body: _Lines, start: int, end: int) -> bool:
    """Whether lines `start` to `end` are at most a short note, quoted no deeper than line `end`."""
    written = [i for i in range(start, end) if body.text[i]]
    depth = body.depth[end] if end < len(body.depth) else 0
    return len(written) <= _NOTE_LINES and all(body.depth[i] <= depth for i in written)


def _plausible_from(value: str) -> bool:
    """A From value is an address, or a name without digits ("From: 06/2019" in a CV is no sender)."""
    return "@" in value or (bool(value) and not any(ch.isdigit() for ch in value))


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


def _wrote_line(line: str) -> str | None:
    """The sender ("Name <a@b>") of a "wrote:" line that opens a forwarded message, or None."""
    if not line.endswith((":", "：")) or (match := _WROTE_ADDRESS.search(line)) is None:
        return None
    before, after = line[: match.start()].rstrip(" ("), line[match.end() :][:-1].lstrip(" ),").rstrip()
    for begins, name_after, words in WROTE_LINES:
        if not line.startswith(begins) or not (after == words if not words else _ends_with(after, words)):
            continue
        name = _quoted_end(before) if name_after is None else _after(before, name_after)
        if name is not None:
            return f"{name} <{match.group(1)}>"
    return None


def _ends_with(after: str, words: str) -> bool:
    return after.startswith(words) or after.endswith(words)


def _quoted_end(text: str) -> str | None:
    """The quoted name that ends `text` ("..., "Name"", « Name », „Name”), or None."""
    openers = _QUOTES.get(text[-1:]) if text else None
    if openers is None:
        return None
    start = max(text.rfind(opener, 0, len(text) - 1) for opener in openers)
    return text[start + 1 : -1].strip() if start >= 0 else None


def _after(text: str, word: str) -> str | None:
    if not word:
        return text.strip()
    at = text.rfind(word)
    return text[at + len(word) :].strip() if at >= 0 else None


def _lines(text: str) -> _Lines:
    """The body's lines, quote marks and outer blanks stripped, each bounded; Yahoo's one-line
    blocks split into a separator and one line per field."""
    cleaned = text.replace("\u00a0", " ").replace("\ufeff", "").replace("\u200b", "")
    lines: list[str] = []
    quoted: list[bool] = []
    depths: list[int] = []
    for raw in cleaned.splitlines():
        bounded = raw[:_LINE_MAX_CHARS]
        line = _QUOTE_MARKS.sub("", bounded).strip()
        pieces = _split_glued(line)
        lines.extend(pieces)
        quoted.extend([line != bounded.strip() and bounded.lstrip().startswith(">")] * len(pieces))
        marks = _QUOTE_MARKS.match(bounded)
        depths.extend([marks.group(0).count(">") if marks else 0] * len(pieces))
    return _Lines(lines, quoted, depths)


def _split_glued(line: str) -> list[str]:
    """A separator with the fields after it on the same line (Yahoo Mail), as one line each."""
    match = _SEPARATOR_START.match(line)
    if match is None or match.end() == len(line):
        return [line]
    rest = line[match.end() :]
    starts = [label.start() for label in _GLUED_LABEL.finditer(rest)]
    if not starts or rest[: starts[0]].strip():
        return [line]
    ends = [*starts[1:], len(rest)]
    return [line[: match.end()].strip()] + [rest[a:b].strip() for a, b in zip(starts, ends, strict=True)]


def person(value: str) -> Person:
    """The name and address of a From value: `Name <a@b>`, `"Name" <a@b>`, `Name [mailto:a@b]`,
    `a@b (Name)`, a bare address, or a name with no address at all. An address that is no usable
    addr-spec (an RFC 2047 encoded word in it, say) is "", as in the mail's own From."""
    value = _MAILTO_ECHO.sub("", " ".join(value.split())[:_LINE_MAX_CHARS])
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
