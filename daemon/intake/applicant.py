"""Who the applicant is by name: a display name split as people write it, else the ATS's reading
of the CV; never a name made from an address (pure).

`split_name` turns a display name into first, middle and last name:

- Decorations go: quotes, emoji and other symbols, bracketed parts ("(Recruiting)", "[Acme]"),
  "via LinkedIn" tails ("Jane Doe via Indeed"), titles in front ("Dr.", "Prof.", "Frau", "Mme")
  and degrees behind ("PhD", "MBA"). Generational suffixes ("Jr.", "III") stay with the last name:
  they are part of it ("King Jr.").
- Not a name at all (None): an address, an RFC 2047 encoded word left undecoded, something that
  looks like an address's local part ("karl.weber", "jobs_2024"), nothing but symbols.
- "Last, First" ("Chen, Wei", "Schmidt, Anna, PhD"): the part before the comma is the last name.
- Particles start the last name: "Ludwig van Beethoven" -> last "van Beethoven", "Jean-Claude de la
  Fontaine" -> last "de la Fontaine" (van, von, de, da, di, del, della, du, le, la, ter, ten, den,
  der, dos, das, bin, al, ...), only after a first name.
- A surname written in capitals, as many Europeans write it ("DUPONT Jean", "Jean DUPONT"), is the
  last name wherever it stands. It is kept as written, not title-cased: changing case is lossy
  ("McDonald", "DiCaprio", "van der Berg" cannot be rebuilt from capitals), and capitals are how
  the person chose to write it; the ATS shows it as they wrote it and a person may change it.
- One word ("Madonna") is a first name alone.
- Other scripts, where splitting wrongly is worse than not splitting: Latin and Greek names are
  split as above (given name first). Cyrillic names are split only when a patronymic shows the
  order ("Иванов Иван Иванович": last, first, patronymic as middle; "Иван Иванович Иванов"); Chinese,
  Japanese and Korean names written with one space are family name first ("田中 太郎": last 田中,
  first 太郎). Everything else (CJK without a space "王伟", two Cyrillic words, Arabic, Hebrew,
  Devanagari, Thai, mixed scripts) is kept whole in the first name and marked unsure.

`applicant_name` takes the display name when its order is sure, else the ATS's parsed CV name
when the upload returned one, else the display name kept whole; with neither it returns None:
the caller sets the mail aside for a person rather than invent a name.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

_ENCODED_OR_ADDRESS = re.compile(r"[@<>]|=\?.*\?=")
_LOCAL_PART = re.compile(r"[_\d]|[^\W\d_]\.[^\W\d_]{2}", re.UNICODE)  # karl.weber, jobs_2024, hr2
_BRACKETED = re.compile(r"\([^)]*\)|\[[^\]]*\]|\{[^}]*\}")
_VIA = re.compile(r"\s+(?:via|through|from|über|par)\s+\S.*$", re.IGNORECASE)
_QUOTES = "\"'`«»‹›“”„‟‘’‚‛「」『』"
_INVISIBLE = re.compile(r"[\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufe00-\ufe0f\ufeff]")
_PATRONYMIC = re.compile(r"(?:ович|евич|ич|овна|евна|ична|инична|оглы|кызы)$", re.IGNORECASE)

TITLES = frozenset(t.casefold() for t in (
    "dr", "dr.", "prof", "prof.", "professor", "mr", "mr.", "mrs", "mrs.", "ms", "ms.", "miss", "mx", "mx.",
    "sir", "dame", "herr", "frau", "hr.", "fr.", "m.", "mme", "mme.", "mlle", "mlle.", "sr.", "sra.", "srta.",
    "dott.", "dott.ssa", "ing.", "dipl.-ing.", "mag.", "ir.", "drs.", "mgr.", "rev.", "fr"))
DEGREES = frozenset(t.casefold() for t in (
    "phd", "ph.d.", "ph.d", "dphil", "md", "m.d.", "mba", "msc", "m.sc.", "bsc", "b.sc.", "ma", "m.a.", "ba",
    "b.a.", "meng", "beng", "llm", "ll.m.", "esq", "esq.", "cpa", "pe", "rn", "dds", "jd", "j.d.", "frcs",
    "cfa", "pmp"))
GENERATIONS = frozenset(t.casefold() for t in ("jr", "jr.", "sr", "sr.", "ii", "iii", "iv", "jun.", "sen."))
PARTICLES = frozenset((
    "van", "von", "de", "da", "di", "del", "della", "dello", "dei", "degli", "du", "des", "le", "la", "lo",
    "ter", "ten", "den", "der", "dos", "das", "do", "bin", "binti", "bint", "ibn", "al", "el", "af", "av",
    "zu", "vom", "zum", "zur", "y", "los", "las", "st.", "san", "santa", "d'", "l'", "'t", "van't"))


@dataclass(frozen=True, slots=True)
class PersonName:
    """A name as the ATS takes it. `sure`: the order of its parts is known (False: kept whole, or a
    guess the ATS's reading of the CV should win over)."""

    first: str
    middle: str
    last: str
    sure: bool = True


def split_name(display: str, address: str = "") -> PersonName | None:
    """The display name as first, middle and last name; None when it is no name (see the module doc).
    `address`: the mail's address for this person, whose local part is never taken for a name."""
    text = _cleaned(display)
    if not text or _ENCODED_OR_ADDRESS.search(display) or not any(c.isalpha() for c in text):
        return None
    local = address.partition("@")[0].casefold()
    if local and text.casefold() == local:
        return None
    segments, suffix = _segments(text)
    if not segments or any(_LOCAL_PART.search(w) for s in segments for w in s):
        return None
    name = _by_script(segments)
    last = " ".join(p for p in (name.last, *suffix) if p)
    return PersonName(name.first, name.middle, last, name.sure) if name.last else name


def applicant_name(display_name: str, parsed: Mapping[str, str], email: str = "") -> PersonName | None:
    """The display name when its order is sure; else the ATS's reading of the CV; else the display
    name kept whole; None when there is neither (never a name made from `email`'s local part)."""
    shown = split_name(display_name, email)
    if shown is not None and shown.sure:
        return shown
    return _from_parsed(parsed) or shown


def _from_parsed(parsed: Mapping[str, str]) -> PersonName | None:
    raw = [str(parsed.get(f"{part}_name") or "") for part in ("first", "middle", "last")]
    if any(_ENCODED_OR_ADDRESS.search(value) for value in raw):
        return None
    first, middle, last = (_cleaned(value) for value in raw)
    if not (first or last):
        return None
    return PersonName(first, middle, last) if first else PersonName(last, middle, "")


def _cleaned(text: str) -> str:
    """NFC, without invisible marks, symbols (emoji), quotes, bracketed parts, "via X" tails and titles."""
    text = _INVISIBLE.sub("", unicodedata.normalize("NFC", text))
    text = re.split(r"\s+[|/]\s+", text)[0]  # "Jane Doe | Acme": the name before the bar
    text = "".join(" " if unicodedata.category(c)[0] in "SC" else c for c in text)
    text = _VIA.sub("", _BRACKETED.sub(" ", text))
    words = [w.strip(_QUOTES) for w in text.split()]  # quotes around words, not an apostrophe inside (O'Neil)
    words = [w for w in words if w]
    while len(words) > 1 and words[0].casefold() in TITLES:
        words.pop(0)
    return " ".join(words).strip(" ,;:-")


def _segments(text: str) -> tuple[list[list[str]], list[str]]:
    """The comma-separated parts' words without degrees ("PhD"), and the generational suffixes ("Jr.").
    Without a comma, a short capitalised word stays ("Wei MA" is a surname, not a degree) unless three
    words or more are left."""
    segments: list[list[str]] = []
    suffix: list[str] = []
    for part in text.split(","):
        words = part.split()
        while words and words[-1].casefold() in DEGREES | GENERATIONS and (
                (len(words) == 1 and segments) or len(words) >= 3 or not _capitals(words[-1])):
            word = words.pop()
            suffix[:0] = [word] if word.casefold() in GENERATIONS else []
        if words:
            segments.append(words)
    return segments, suffix


def _script(words: list[str]) -> str:
    """'latin' (Latin or Greek), 'cyrillic', 'cjk' (Chinese, Japanese, Korean) or 'other' (mixed too)."""
    found = set()
    for char in "".join(words):
        if not char.isalpha():
            continue
        name = unicodedata.name(char, "")
        found.add("latin" if name.startswith(("LATIN", "GREEK")) else "cyrillic" if name.startswith("CYRILLIC")
                  else "cjk" if name.startswith(("CJK", "HIRAGANA", "KATAKANA", "HANGUL")) else "other")
    return found.pop() if len(found) == 1 else "other"


def _by_script(segments: list[list[str]]) -> PersonName:
    """Split by the rules of the name's script; kept whole and unsure where they cannot tell."""
    words = [w for s in segments for w in s]
    script = _script(words)
    if script == "latin":
        return _latin(segments)
    if script == "cyrillic" and len(segments) == 1:
        return _cyrillic(segments[0])
    if script == "cjk" and len(segments) == 1 and len(segments[0]) == 2:
        return PersonName(segments[0][1], "", segments[0][0])  # family name first: 田中 太郎
    return PersonName(" ".join(words), "", "", sure=False)


def _latin(segments: list[list[str]]) -> PersonName:
    if len(segments) >= 2:  # "Last, First [Middle]" (a third part, a company or a role, is dropped)
        given = segments[1]
        return PersonName(given[0], " ".join(given[1:]), " ".join(segments[0]))
    words = segments[0]
    if len(words) == 1:
        return PersonName(words[0], "", "")
    capitals = [i for i, w in enumerate(words) if _capitals(w)]
    if capitals and len(capitals) < len(words) and capitals == list(range(capitals[0], capitals[-1] + 1)):
        rest = [w for i, w in enumerate(words) if i not in capitals]  # "DUPONT Jean", "Jean DE LA FONTAINE"
        return PersonName(rest[0], " ".join(rest[1:]), " ".join(words[capitals[0]:capitals[-1] + 1]))
    start = next((i for i in range(1, len(words) - 1) if words[i].casefold() in PARTICLES), len(words) - 1)
    return PersonName(words[0], " ".join(words[1:start]), " ".join(words[start:]))


def _capitals(word: str) -> bool:
    """A word written in capitals (two letters at least, not initials such as "J.R.")."""
    letters = [c for c in word if c.isalpha()]
    return len(letters) >= 2 and "." not in word and all(c.isupper() for c in letters)


def _cyrillic(words: list[str]) -> PersonName:
    """Split only when a patronymic shows the order; otherwise kept whole, unsure."""
    if len(words) == 3 and _PATRONYMIC.search(words[2]):
        return PersonName(words[1], words[2], words[0])  # Иванов Иван Иванович
    if len(words) == 3 and _PATRONYMIC.search(words[1]):
        return PersonName(words[0], words[1], words[2])  # Иван Иванович Иванов
    return PersonName(" ".join(words), "", "", sure=False)
