"""Reply texts: one per kind and language, optionally per job (by job code), in a small safe engine.

A template is `Subject: ...`, a blank line, then the text. `string.Template` fills only the fields
of `FIELDS` (`$name`, `$job`, ...); anything else, `$` included, stays as written, so text from a
mail (a name, a subject) can never reach code or another field. Line breaks in a field are made
spaces. Built-in English texts are used for whatever the templates folder lacks. A folder holds
`KIND.LANG.txt` and `KIND.LANG.JOBCODE.txt` files, KIND one of `placed`, `set-aside`,
`acknowledgement`, `answer`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from string import Template

from daemon.errors import ConfigError
from daemon.replies import ReplyKind

FIELDS = ("name", "job", "code", "company", "reason")
FILE_NAMES = {ReplyKind.PLACED: "placed", ReplyKind.SET_ASIDE: "set-aside",
              ReplyKind.ACKNOWLEDGEMENT: "acknowledgement", ReplyKind.ANSWER: "answer"}
_FIELD_CHARS = 300
_NAME = re.compile(r"^(placed|set-aside|acknowledgement|answer)\.([a-z]{2,3}(?:-[a-z0-9]+)?)(?:\.([^.]+))?\.txt$")

BUILT_IN: Mapping[ReplyKind, str] = {
    ReplyKind.PLACED: "Subject: $name is now a candidate for $job\n\n"
                      "Thank you: $name is now a candidate for $job in the ATS.\n",
    ReplyKind.SET_ASIDE: "Subject: Set aside: $name\n\n"
                         "The CV you forwarded ($name) was set aside: $reason.\n\n"
                         "Reply to this mail with the job code or the job's title to place it, or with the "
                         "word 'ignore' to leave it. Keep this mail's subject; only the first line of your "
                         "reply is read.\n",
    ReplyKind.ACKNOWLEDGEMENT: "Subject: Your application for $job\n\n"
                               "Dear $name,\n\nthank you for your application for $job. It has arrived, "
                               "and we will be in touch.\n\n$company\n",
    ReplyKind.ANSWER: "Subject: Re: your reply\n\n$reason\n",
}


@dataclass(frozen=True, slots=True)
class Text:
    """A filled template: the subject (one line) and the body."""

    subject: str
    body: str


@dataclass(frozen=True, slots=True)
class Templates:
    """The templates by (kind, language, job code or ""); the built-in English ones underneath."""

    found: Mapping[tuple[ReplyKind, str, str], str]
    language: str = "en"

    def fill(self, kind: ReplyKind, fields: Mapping[str, str], *, language: str = "", job_code: str = "") -> Text:
        """The text of `kind` in `language` (else the default language, else English), the job's own when
        there is one; `fields` outside FIELDS are ignored, missing ones are empty."""
        source = self._pick(kind, language.lower(), job_code.lower())
        values = {name: _one_line(fields.get(name, "")) for name in FIELDS}
        head, _, body = source.partition("\n\n")
        subject = head.removeprefix("Subject:").strip()
        return Text(_one_line(Template(subject).safe_substitute(values)), Template(body).safe_substitute(values))

    def _pick(self, kind: ReplyKind, language: str, job_code: str) -> str:
        for lang in dict.fromkeys(lang for lang in (language, self.language, "en") if lang):
            for code in (job_code, ""):
                if (text := self.found.get((kind, lang, code))) is not None:
                    return text
        return BUILT_IN[kind]


def load(folder: str, language: str = "en") -> Templates:
    """The templates of `folder` ("" the built-in ones); a file that is not a template is a ConfigError."""
    if not folder:
        return Templates({}, language)
    path = Path(folder)
    if not path.is_dir():
        raise ConfigError(f"{path} is not a folder", key="replies.templates")
    found: dict[tuple[ReplyKind, str, str], str] = {}
    kinds = {name: kind for kind, name in FILE_NAMES.items()}
    for file in sorted(path.glob("*.txt")):
        match = _NAME.match(file.name.lower())
        if match is None:
            raise ConfigError(f"{file.name}: name it KIND.LANG.txt or KIND.LANG.JOBCODE.txt, KIND one of "
                              f"{', '.join(FILE_NAMES.values())}", key="replies.templates")
        text = file.read_text(encoding="utf-8").replace("\r\n", "\n")
        if not text.startswith("Subject:") or "\n\n" not in text:
            raise ConfigError(f"{file.name}: start with a line 'Subject: ...' and a blank line",
                              key="replies.templates")
        found[(kinds[match.group(1)], match.group(2), match.group(3) or "")] = text
    return Templates(found, language)


def _one_line(value: str) -> str:
    """A field's value on one line, bounded (a name or reason never spans lines or pages)."""
    return " ".join(str(value).split())[:_FIELD_CHARS]
