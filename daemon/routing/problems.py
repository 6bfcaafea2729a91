"""What can be wrong with a rule set: one Problem each, all reported at once."""

from __future__ import annotations

from dataclasses import dataclass

from daemon.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in a rule file: where, what, and what to do.

    A `warning` (a rule naming a closed job) is reported but does not make the set invalid.
    """

    file: str
    line: int
    message: str
    warning: bool = False

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {'warning: ' if self.warning else ''}{self.message}"


class RulesInvalid(ConfigError):
    """The rule set has problems; every one of them is listed."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("invalid routing rules:\n" + "\n".join(f"  {p}" for p in problems), key="rules.path")
