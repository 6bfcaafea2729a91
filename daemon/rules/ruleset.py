"""Reading the rule files (scaffold: the folder is not read yet)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from daemon.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in a rule file: where, what, and what to do."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class RulesInvalid(ConfigError):
    """The rule set has problems; every one of them is listed."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("invalid routing rules:\n" + "\n".join(f"  {p}" for p in problems), key="rules.path")


@dataclass(frozen=True, slots=True)
class RuleSet:
    folder: Path | None = None
    rules: tuple[object, ...] = ()
    fingerprint: str = ""  # of the files read: tells whether the files on disk changed since


def load_rules(folder: Path) -> RuleSet:
    return RuleSet(folder)
