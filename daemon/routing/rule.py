"""One routing rule as read from a rule file (frozen data; see schema.py for the keys)."""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass

from daemon.domain import RuleAction
from daemon.routing.conditions import AllOf, Budget, Check, MailView

ACTIONS = tuple(RuleAction)


@dataclass(frozen=True, slots=True)
class JobRef:
    """How a rule names its job: by ATS id, by code, by exact title, or either code or title.

    `value` may hold placeholders (`{job}`, `{tag}`) filled from what the conditions captured.
    """

    by: str  # "id", "code", "title" or "code or title"
    value: str

    @property
    def placeholders(self) -> tuple[str, ...]:
        return placeholders(self.value)

    def filled(self, captures: Mapping[str, str]) -> str | None:
        """The value with its placeholders filled; None when one was not captured."""
        if any(name not in captures for name in self.placeholders):
            return None
        return self.value.format_map(captures).strip()

    def __str__(self) -> str:
        return f"job {self.by} {self.value!r}" if self.by != "code or title" else f"job {self.value!r}"


def placeholders(text: str) -> tuple[str, ...]:
    """The `{name}` fields in `text` (ValueError on a stray brace)."""
    return tuple(name for _, name, _, _ in string.Formatter().parse(text) if name is not None)


@dataclass(frozen=True, slots=True)
class Rule:
    """A rule: where it was written, its conditions and what it does."""

    name: str
    file: str
    line: int
    when: AllOf
    action: str = RuleAction.SUBMIT
    job: JobRef | None = None
    stage: str = ""
    source: str = ""
    comment: str = ""
    reason: str = ""
    signature: str = ""  # the conditions in a canonical form: equal signatures match the same mail

    @property
    def matches_everything(self) -> bool:
        return not self.when.conditions

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def check(self, mail: MailView, budget: Budget) -> Check:
        return self.when.check(mail, budget)
