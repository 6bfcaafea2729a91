"""Reading the rule files: every `*.toml` in the `[rules] path` folder, in file-name order.

`load_rules(folder)` reads the whole set and raises `RulesInvalid` listing every problem
at once (file, line, what to do). A missing or empty folder is a valid empty rule set.
Files whose names start with "." (editors' lock and backup files) are not read, nor
anything that does not end in `.toml` (README.md sits in the same folder).
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daemon.routing.lines import RuleLines, syntax_line
from daemon.routing.problems import Problem, RulesInvalid
from daemon.routing.rule import Rule
from daemon.routing.schema import RuleReader, nearest

__all__ = ["Problem", "RuleSet", "RulesInvalid", "fingerprint", "load_rules", "rule_files", "rules_from_texts"]


@dataclass(frozen=True, slots=True)
class RuleSet:
    """The rules in evaluation order, the files they came from, and a fingerprint of those files."""

    folder: Path | None = None
    rules: tuple[Rule, ...] = ()
    fingerprint: str = ""  # of the files read: compare with fingerprint(folder) to see a change on disk
    files: tuple[str, ...] = ()
    texts: tuple[tuple[str, str], ...] = ()  # (file name, text) as read: what the store keeps as the last good set

    def __len__(self) -> int:
        return len(self.rules)

    def summary(self) -> str:
        """"3 rules in 2 files" (or "no rules")."""
        if not self.files:
            return "no rules (no .toml file in the folder)"
        return f"{_count(len(self.rules), 'rule')} in {_count(len(self.files), 'file')}"


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def rule_files(folder: Path) -> list[Path]:
    """The rule files of `folder` in the order they are read ([] when there is no folder)."""
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.glob("*.toml") if p.is_file() and not p.name.startswith(".")),
                  key=lambda p: p.name)


def fingerprint(folder: Path) -> str:
    """A hash of the rule files' names and bytes: differs as soon as a file is added, removed or changed."""
    found = []
    for path in rule_files(folder):
        try:
            found.append((path.name, path.read_bytes()))
        except OSError:
            found.append((path.name, b"\0unreadable"))
    return _fingerprint(found)


def _fingerprint(files: Sequence[tuple[str, bytes]]) -> str:
    digest = hashlib.sha256()
    for name, data in files:
        digest.update(name.encode("utf-8", "surrogateescape") + b"\0")
        digest.update(hashlib.sha256(data).digest())
    return digest.hexdigest()[:16]


def load_rules(folder: Path) -> RuleSet:
    """Every rule of the folder, checked; `RulesInvalid` lists every problem found."""
    if folder.exists() and not folder.is_dir():
        raise RulesInvalid([Problem(str(folder), 1, "is not a folder: [rules] path names a folder of .toml files")])
    return _checked(folder, [(path, _read_text(path)) for path in rule_files(folder)])


def rules_from_texts(folder: Path, texts: Sequence[tuple[str, str]]) -> RuleSet:
    """The rule set of files given as (name, text) (the last good set the store kept), as if read from `folder`."""
    return _checked(folder, [(folder / name, text) for name, text in texts])


def _checked(folder: Path, read: Sequence[tuple[Path, str | Problem]]) -> RuleSet:
    files = [path for path, _ in read]
    problems: list[Problem] = []
    rules: list[Rule] = []
    named: list[Rule] = []  # valid or not, for duplicate names
    for path, text in read:
        found, invalid, trouble = ([], [], [text]) if isinstance(text, Problem) else _read_file(str(path), text)
        rules += found
        named += found + invalid
        problems += trouble
    problems += _shadowed(rules) + _duplicates(sorted(named, key=lambda r: (files.index(Path(r.file)), r.line)))
    if problems:
        raise RulesInvalid(sorted(problems, key=lambda p: (files.index(Path(p.file)) if Path(p.file) in files
                                                            else -1, p.line)))
    texts = tuple((path.name, text) for path, text in read if isinstance(text, str))
    return RuleSet(folder, tuple(rules), _fingerprint([(name, text.encode()) for name, text in texts]),
                   tuple(path.name for path in files), texts)


def _read_text(path: Path) -> str | Problem:
    """The file's text, or why it cannot be read."""
    try:
        return path.read_bytes().decode("utf-8")
    except OSError as exc:
        return Problem(str(path), 1, f"cannot read the file: {exc.strerror}")
    except UnicodeDecodeError:
        return Problem(str(path), 1, "is not UTF-8 text: save it as UTF-8")


def _read_file(name: str, text: str) -> tuple[list[Rule], list[Rule], list[Problem]]:
    """The valid rules of one file, the invalid ones, and the problems."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return [], [], [Problem(name, syntax_line(str(exc)), f"not valid TOML: {exc}; fix the syntax "
                                                          "(strings in double quotes, one key = value a line)")]
    return _read_tables(name, RuleLines(text), data)


def _read_tables(name: str, lines: RuleLines, data: Mapping[str, Any]) -> tuple[list[Rule], list[Rule], list[Problem]]:
    problems = [Problem(name, lines.top_level(key), f"unknown key {key!r} outside any rule.{nearest(key, ('rule',))}"
                                                    " Each rule starts with a [[rule]] line.")
                for key in data if key != "rule"]
    tables = data.get("rule", [])
    if not isinstance(tables, list) or not all(isinstance(t, Mapping) for t in tables):
        wrong = Problem(name, lines.top_level("rule"), "`rule` must be [[rule]] tables, one per rule")
        return [], [], [*problems, wrong]
    valid, invalid = [], []
    for index, table in enumerate(tables):
        reader = RuleReader(name, lines, index)
        rule = reader.read(table)
        problems += reader.problems
        (invalid if reader.problems else valid).append(rule)
    return valid, invalid, problems


def _shadowed(rules: list[Rule]) -> list[Problem]:
    """Rules that can never match because an earlier one always matches first."""
    problems = []
    catch_all: Rule | None = None
    seen: dict[str, Rule] = {}
    for rule in rules:
        if catch_all is not None:
            problems.append(Problem(rule.file, rule.line, f"rule {rule.name!r} can never match: rule "
                                    f"{catch_all.name!r} ({catch_all.where}) has no conditions and matches every "
                                    "mail first; give that rule conditions or move it last"))
        elif rule.signature in seen:
            first = seen[rule.signature]
            problems.append(Problem(rule.file, rule.line, f"rule {rule.name!r} can never match: rule "
                                    f"{first.name!r} ({first.where}) has the same conditions and comes first; "
                                    "change its conditions or merge the two"))
        if rule.matches_everything and catch_all is None:
            catch_all = rule
        seen.setdefault(rule.signature, rule)
    return problems


def _duplicates(rules: list[Rule]) -> list[Problem]:
    first: dict[str, Rule] = {}
    problems = []
    for rule in rules:
        key = rule.name.casefold()
        if key in first:
            problems.append(Problem(rule.file, rule.line, f"the name {rule.name!r} is already used by the rule at "
                                                          f"{first[key].where}: names must be unique"))
        else:
            first[key] = rule
    return problems
