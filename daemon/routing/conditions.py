"""The conditions of a rule, checked against one mail (pure, time-bounded).

Each condition answers `check(mail, budget) -> Check`: whether it holds, a sentence saying
why in the admin's words ("recipient tag data-eng", "subject matches /ENG-\\d+/"), the named
groups a regular expression captured, and any regular expression that ran out of time.

Regular expressions run on the `regex` module with a `timeout`: each search may take
`REGEX_TIMEOUT`, and all the searches for one mail together `RULES_BUDGET` (a `Budget`
carried through the checks), so a hostile mail (say, hundreds of headers against one
`header_regex`) cannot hang the daemon through a rule. A timeout is never "did not match":
a condition that ran out of time is undecided (`Check.undecided`), and so is every
combination whose answer depends on it; a condition that does not hold, or an alternative
of `any` that does, still decides. The text a rule looks at is bounded (`MailView`).
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import regex

from daemon.mail import ParsedEmail

REGEX_TIMEOUT = 0.25  # seconds one regular expression may run on one text
MAX_SUBJECT = 2_000  # characters of the subject a rule looks at
MAX_BODY = 100_000  # characters of the body text a rule looks at
MAX_HEADER = 10_000  # characters of one header value a rule looks at
RULES_BUDGET = 1.0  # seconds all the regular expressions of all the rules may run on one mail


@dataclass(frozen=True, slots=True)
class Budget:
    """The time the rules may still take on one mail: a deadline on the monotonic clock."""

    ends: float
    seconds: float = RULES_BUDGET

    @classmethod
    def start(cls, seconds: float = RULES_BUDGET) -> Budget:
        return cls(time.monotonic() + seconds, seconds)

    def left(self) -> float:
        return self.ends - time.monotonic()


@dataclass(frozen=True, slots=True)
class MailView:
    """What rules see of one mail: lower-cased addresses, bounded texts."""

    sender: str
    recipients: tuple[str, ...]
    subject: str
    body: str
    attachments: tuple[str, ...]
    headers: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, email: ParsedEmail) -> MailView:
        return cls(
            sender=email.sender_email.strip().lower(),
            recipients=tuple(dict.fromkeys(r.strip().lower() for r in email.recipients if r.strip())),
            subject=email.subject[:MAX_SUBJECT],
            body=email.body_text[:MAX_BODY],
            attachments=tuple(a.filename for a in email.attachments if a.filename),
            headers=tuple((name.lower(), value[:MAX_HEADER]) for name, value in email.headers),
        )

    def header_values(self, name: str) -> tuple[str, ...]:
        wanted = name.lower()
        return tuple(value for key, value in self.headers if key == wanted)


def plus_tag(address: str) -> str:
    """The plus-addressing tag of an address: `jobs+data-eng@acme.com` -> `data-eng` ("" if none)."""
    local = address.rpartition("@")[0] if "@" in address else address
    return local.partition("+")[2]


def domain_of(address: str) -> str:
    return address.rpartition("@")[2] if "@" in address else ""


@dataclass(frozen=True, slots=True)
class Check:
    """The answer of one condition for one mail."""

    ok: bool
    said: str
    captures: Mapping[str, str] = field(default_factory=dict)
    timeouts: tuple[str, ...] = ()
    undecided: bool = False  # the answer depends on a search that ran out of time: neither yes nor no


def _glob(pattern: str, text: str) -> bool:
    return fnmatch.fnmatchcase(text.lower(), pattern.lower())


def _quoted(values: Sequence[str]) -> str:
    return " or ".join(repr(v) for v in values)


@dataclass(frozen=True, slots=True)
class Recipient:
    """`to`: a recipient (To, Cc, Delivered-To, X-Original-To) is one of these addresses (globs)."""

    patterns: tuple[str, ...]

    def check(self, mail: MailView, budget: Budget) -> Check:
        for address in mail.recipients:
            hit = next((p for p in self.patterns if _glob(p, address)), None)
            if hit is not None:
                return Check(True, f"recipient {address}")
        return Check(False, f"no recipient is {_quoted(self.patterns)}")


@dataclass(frozen=True, slots=True)
class RecipientTag:
    """`to_tag`: a recipient's plus-addressing tag is one of these (globs); captures `tag`."""

    patterns: tuple[str, ...]

    def check(self, mail: MailView, budget: Budget) -> Check:
        for tag in (plus_tag(r) for r in mail.recipients):
            if tag and any(_glob(p, tag) for p in self.patterns):
                return Check(True, f"recipient tag {tag}", {"tag": tag})
        if self.patterns == ("*",):
            return Check(False, "no recipient has a plus tag (jobs+TAG@...)")
        return Check(False, f"no recipient tag is {_quoted(self.patterns)}")


@dataclass(frozen=True, slots=True)
class Sender:
    """`from`: the sender's address is one of these (globs)."""

    patterns: tuple[str, ...]

    def check(self, mail: MailView, budget: Budget) -> Check:
        if mail.sender and any(_glob(p, mail.sender) for p in self.patterns):
            return Check(True, f"sender {mail.sender}")
        return Check(False, f"sender {mail.sender or '(none)'} is not {_quoted(self.patterns)}")


@dataclass(frozen=True, slots=True)
class SenderDomain:
    """`from_domain`: the sender's domain is one of these, or a subdomain of one."""

    domains: tuple[str, ...]

    def check(self, mail: MailView, budget: Budget) -> Check:
        domain = domain_of(mail.sender)
        for wanted in self.domains:
            wanted = wanted.lower().lstrip("@").strip(".")
            if domain and (domain == wanted or domain.endswith("." + wanted)):
                return Check(True, f"sender domain {domain}")
        return Check(False, f"sender domain {domain or '(none)'} is not {_quoted(self.domains)}")


@dataclass(frozen=True, slots=True)
class Contains:
    """`subject`, `body`, `header`: the text contains one of these (case-insensitive unless asked)."""

    where: str  # "subject", "body" or "header NAME"
    needles: tuple[str, ...]
    case_sensitive: bool = False

    def check(self, mail: MailView, budget: Budget) -> Check:
        for text in _texts(mail, self.where):
            hay = text if self.case_sensitive else text.casefold()
            for needle in self.needles:
                if (needle if self.case_sensitive else needle.casefold()) in hay:
                    return Check(True, _contains_said(self.where, needle))
        return Check(False, f"{self.where} does not contain {_quoted(self.needles)}"
                     if _texts(mail, self.where) else f"no {self.where}")


def _contains_said(where: str, needle: str) -> str:
    if where.startswith("header ") and not needle:
        return f"{where} is present"
    return f"{where} contains {needle!r}"


@dataclass(frozen=True, slots=True)
class Matches:
    """`subject_regex`, `body_regex`, `header_regex`: a regular expression finds a match.

    Named groups it captures (e.g. `job`) are handed to the actions.
    """

    where: str
    patterns: tuple[regex.Pattern[str], ...]

    def check(self, mail: MailView, budget: Budget) -> Check:
        timeouts: list[str] = []
        for pattern in self.patterns:
            late = 0  # texts this expression could not be decided on
            for text in _texts(mail, self.where):
                left = budget.left()
                if left <= 0:
                    timeouts.append(f"{self.where} /{pattern.pattern}/ not finished: the mail's {budget.seconds} s "
                                    "for rules ran out")
                    return self._undecided(timeouts)
                try:
                    found = pattern.search(text, timeout=min(REGEX_TIMEOUT, left))
                except TimeoutError:
                    late += 1
                    continue
                if found is not None:
                    groups = {k: v.strip() for k, v in found.groupdict().items() if v is not None}
                    return Check(True, f"{self.where} matches /{pattern.pattern}/", groups, tuple(timeouts))
            if late:
                timeouts.append(f"{self.where} /{pattern.pattern}/ ran out of time ({REGEX_TIMEOUT} s a search) "
                                f"on {late} text(s): not decided")
        if timeouts:
            return self._undecided(timeouts)
        shown = " or ".join(f"/{p.pattern}/" for p in self.patterns)
        return Check(False, f"{self.where} does not match {shown}")

    def _undecided(self, timeouts: list[str]) -> Check:
        return Check(False, f"could not be decided in time: {timeouts[0]}", {}, tuple(timeouts), undecided=True)


@dataclass(frozen=True, slots=True)
class AttachmentName:
    """`attachment`: an attached file's name matches one of these globs (case-insensitive)."""

    patterns: tuple[str, ...]

    def check(self, mail: MailView, budget: Budget) -> Check:
        for name in mail.attachments:
            if any(_glob(p, name) for p in self.patterns):
                return Check(True, f"attachment {name!r}")
        return Check(False, f"no attachment named {_quoted(self.patterns)}")


def _texts(mail: MailView, where: str) -> tuple[str, ...]:
    if where == "subject":
        return (mail.subject,)
    if where == "body":
        return (mail.body,)
    return mail.header_values(where.removeprefix("header "))


@dataclass(frozen=True, slots=True)
class AllOf:
    """Every condition holds (a rule's conditions, or one table of `any`)."""

    conditions: tuple[Condition, ...]

    def check(self, mail: MailView, budget: Budget) -> Check:
        said: list[str] = []
        captures: dict[str, str] = {}
        timeouts: list[str] = []
        unknown: Check | None = None
        for condition in self.conditions:
            answer = condition.check(mail, budget)
            timeouts += answer.timeouts
            if answer.undecided:
                unknown = unknown or answer
            elif not answer.ok:
                return Check(False, answer.said, {}, tuple(timeouts))
            said.append(answer.said)
            captures.update(answer.captures)
        if unknown is not None:
            return Check(False, unknown.said, {}, tuple(timeouts), undecided=True)
        return Check(True, "; ".join(said) or "no conditions (every mail)", captures, tuple(timeouts))


@dataclass(frozen=True, slots=True)
class AnyOf:
    """`any = [ {...}, {...} ]`: at least one of the tables holds."""

    options: tuple[AllOf, ...]

    def check(self, mail: MailView, budget: Budget) -> Check:
        timeouts: list[str] = []
        failed: list[str] = []
        unknown: Check | None = None
        for option in self.options:
            answer = option.check(mail, budget)
            timeouts += answer.timeouts
            if answer.ok:
                return Check(True, answer.said, answer.captures, tuple(timeouts))
            unknown = unknown or (answer if answer.undecided else None)
            failed.append(answer.said)
        if unknown is not None:
            return Check(False, unknown.said, {}, tuple(timeouts), undecided=True)
        return Check(False, "none of `any`: " + " / ".join(failed), {}, tuple(timeouts))


@dataclass(frozen=True, slots=True)
class NoneOf:
    """`not = {...}` (or a list of tables): none of the tables holds."""

    options: tuple[AllOf, ...]
    shown: str = ""  # the tables as written, for explanations

    def check(self, mail: MailView, budget: Budget) -> Check:
        timeouts: list[str] = []
        unknown: Check | None = None
        for option in self.options:
            answer = option.check(mail, budget)
            timeouts += answer.timeouts
            if answer.ok:
                return Check(False, f"`not` excludes it: {answer.said}", {}, tuple(timeouts))
            unknown = unknown or (answer if answer.undecided else None)
        if unknown is not None:
            return Check(False, f"`not`: {unknown.said}", {}, tuple(timeouts), undecided=True)
        return Check(True, f"not {self.shown}", {}, tuple(timeouts))


Condition = (Recipient | RecipientTag | Sender | SenderDomain | Contains | Matches | AttachmentName | AllOf | AnyOf
             | NoneOf)
