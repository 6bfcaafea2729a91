"""The keys of a rule and how each is read: one rule table in, a Rule (or Problems) out.

A rule is one `[[rule]]` table with flat keys (rules/README.md is the admins' page):

    name             required, unique in the whole rule set
    case_sensitive   true: subject/body/header texts and regular expressions compare case exactly
  conditions (all must hold; a value may be a string or a list meaning "any of these"):
    to               a recipient address (To, Cc, Delivered-To, X-Original-To); glob
    to_tag           a recipient's plus-addressing tag (jobs+TAG@...); glob; captures `tag`
    from             the sender's address; glob
    from_domain      the sender's domain or a subdomain of it
    subject, body    the text contains this (case-insensitive)
    subject_regex, body_regex   a regular expression finds a match; named groups are captured
    attachment       an attached file's name; glob (case-insensitive)
    header           { Header-Name = "substring" }; "" means the header is present
    header_regex     { Header-Name = "regular expression" }
    any              [ {conditions}, ... ]: at least one table holds
    not              {conditions} or a list of them: none holds
  actions:
    action           "submit" (default), "review" or "ignore"
    reason           why, for review and ignore
    job_id, job_code, job_title, job   the job; `job` is a code or an exact title;
                     each may hold {job} or {tag} (what the conditions captured)
    stage            a stage name in the job's pipeline (default: its first stage)
    source           a source name (default: [ats] source)
    comment          an extra line for the confirmation comment
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Mapping
from typing import Any

import regex

from daemon.domain import RuleAction
from daemon.routing import conditions as c
from daemon.routing.lines import RuleLines
from daemon.routing.problems import Problem
from daemon.routing.rule import ACTIONS, JobRef, Rule, placeholders

CONDITION_KEYS = ("to", "to_tag", "from", "from_domain", "subject", "subject_regex", "body", "body_regex",
                  "attachment", "header", "header_regex", "any", "not")
JOB_KEYS = {"job_id": "id", "job_code": "code", "job_title": "title", "job": "code or title"}
ACTION_KEYS = ("action", "reason", *JOB_KEYS, "stage", "source", "comment")
RULE_KEYS = ("name", "case_sensitive", *CONDITION_KEYS, *ACTION_KEYS)
MAX_TEXT = 500  # characters of a reason, comment, stage or source name
DOES_SOMETHING = ("action", *JOB_KEYS, "stage", "source", "comment")


def nearest(word: str, known: tuple[str, ...]) -> str:
    """" Did you mean 'x'?" for the closest known key, else ""."""
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


class RuleReader:
    """Reads the `index`-th rule table of one file, collecting every problem."""

    def __init__(self, file: str, lines: RuleLines, index: int):
        self.file, self.lines, self.index = file, lines, index
        self.problems: list[Problem] = []
        self.captured: set[str] = set()
        self.case_sensitive = False
        self.name = ""
        self.inside = ""  # "any" or "not" while reading their tables

    def fail(self, key: str | None, message: str) -> None:
        line = self.lines.key(self.index, key, self.inside) if key else self.lines.rule(self.index)
        self.problems.append(Problem(self.file, line, f"rule {self.name!r}: {message}" if self.name else message))

    def read(self, table: Mapping[str, Any]) -> Rule:
        """The rule; valid only when `problems` stays empty."""
        name = self.name = self._name(table)
        for key in table:
            if key not in RULE_KEYS:
                self.fail(key, f"unknown key {key!r}.{nearest(key, RULE_KEYS)} "
                               "The keys are listed in rules/README.md.")
        self.case_sensitive = self._bool(table, "case_sensitive")
        when = self.conditions(table, "")
        return Rule(name=name, file=self.file, line=self.lines.rule(self.index), when=when,
                    signature=json.dumps({"case": self.case_sensitive,
                                          "when": {k: table[k] for k in CONDITION_KEYS if k in table}},
                                         sort_keys=True, default=str),
                    **self._actions(table, name))

    def _name(self, table: Mapping[str, Any]) -> str:
        name = table.get("name")
        if not isinstance(name, str) or not name.strip():
            self.fail("name" if "name" in table else None,
                      f"rule #{self.index + 1} needs a `name`: a short text, unique in the rule set")
            return f"#{self.index + 1}"
        return name.strip()

    def _bool(self, table: Mapping[str, Any], key: str) -> bool:
        value = table.get(key, False)
        if not isinstance(value, bool):
            self.fail(key, f"`{key}` must be true or false, not {_shown(value)}")
            return False
        return value

    # -- conditions ---------------------------------------------------------------------------

    def conditions(self, table: Mapping[str, Any], within: str) -> c.AllOf:
        """The conditions of a rule (within "") or of one table of `any`/`not`."""
        found: list[c.Condition] = []
        outer, self.inside = self.inside, self.inside or within
        for key, value in table.items():
            if within and key not in CONDITION_KEYS:
                home = " It belongs in the rule itself." if key in RULE_KEYS else nearest(key, CONDITION_KEYS)
                self.fail(key, f"unknown condition {key!r} in `{within}`.{home}")
                continue
            reader = self._condition_readers().get(key)
            if reader is not None:
                condition = reader(key, value)
                if condition is not None:
                    found.append(condition)
        self.inside = outer
        return c.AllOf(tuple(found))

    def _condition_readers(self) -> dict[str, Callable[[str, Any], c.Condition | None]]:
        return {
            "to": lambda k, v: self._with(k, v, c.Recipient),
            "to_tag": self._tag,
            "from": lambda k, v: self._with(k, v, c.Sender),
            "from_domain": lambda k, v: self._with(k, v, c.SenderDomain),
            "attachment": lambda k, v: self._with(k, v, c.AttachmentName),
            "subject": self._contains,
            "body": self._contains,
            "subject_regex": self._matches,
            "body_regex": self._matches,
            "header": self._headers,
            "header_regex": self._headers,
            "any": self._any,
            "not": self._not,
        }

    def _strings(self, key: str, value: Any, *, empty_ok: bool = False) -> tuple[str, ...] | None:
        values = value if isinstance(value, list) else [value]
        if not values or not all(isinstance(v, str) for v in values):
            self.fail(key, f"`{key}` must be a text or a list of texts, not {_shown(value)}")
            return None
        if not empty_ok and not all(v.strip() for v in values):
            self.fail(key, f"`{key}` has an empty text, which every mail would match: remove it or fill it in")
            return None
        return tuple(v if empty_ok else v.strip() for v in values)

    def _with(self, key: str, value: Any, kind: type) -> c.Condition | None:
        values = self._strings(key, value)
        return kind(values) if values is not None else None

    def _tag(self, key: str, value: Any) -> c.Condition | None:
        self.captured.add("tag")
        return self._with(key, value, c.RecipientTag)

    def _contains(self, key: str, value: Any, where: str = "") -> c.Condition | None:
        values = self._strings(key, value, empty_ok=bool(where))
        return c.Contains(where or key, values, self.case_sensitive) if values is not None else None

    def _matches(self, key: str, value: Any, where: str = "") -> c.Condition | None:
        values = self._strings(key, value)
        if values is None:
            return None
        flags = 0 if self.case_sensitive else regex.IGNORECASE
        compiled = []
        for text in values:
            try:
                compiled.append(regex.compile(text, flags))
            except regex.error as exc:
                self.fail(key, f"`{key}`: /{text}/ is not a valid regular expression ({exc}): fix it, "
                               "or use a plain substring key instead")
                continue
            self.captured.update(compiled[-1].groupindex)
        if len(compiled) < len(values):
            return None
        return c.Matches(where or key.removesuffix("_regex"), tuple(compiled))

    def _headers(self, key: str, value: Any) -> c.Condition | None:
        if not isinstance(value, Mapping) or not value:
            self.fail(key, f'`{key}` must be a table of header names, such as {{ "List-Id" = "news" }}, '
                           f"not {_shown(value)}")
            return None
        parts: list[c.Condition] = []
        for name, wanted in value.items():
            if not name.strip() or any(ch.isspace() or ch == ":" for ch in name):
                self.fail(key, f"`{key}`: {name!r} is not a header name (no spaces, no colon)")
                continue
            read = self._contains if key == "header" else self._matches
            part = read(key, wanted, where=f"header {name.lower()}")
            if part is not None:
                parts.append(part)
        return c.AllOf(tuple(parts)) if len(parts) > 1 else (parts[0] if parts else None)

    def _tables(self, key: str, value: Any, *, single_ok: bool) -> list[Mapping[str, Any]] | None:
        tables = [value] if single_ok and isinstance(value, Mapping) else value
        if not isinstance(tables, list) or not tables or not all(isinstance(t, Mapping) and t for t in tables):
            form = "a table of conditions or a list of them" if single_ok else "a list of tables of conditions"
            self.fail(key, f"`{key}` must be {form}, such as [ {{ subject = \"x\" }}, {{ to_tag = \"y\" }} ], "
                           f"not {_shown(value)}")
            return None
        return tables

    def _any(self, key: str, value: Any) -> c.Condition | None:
        tables = self._tables(key, value, single_ok=False)
        return c.AnyOf(tuple(self.conditions(t, "any") for t in tables)) if tables else None

    def _not(self, key: str, value: Any) -> c.Condition | None:
        tables = self._tables(key, value, single_ok=True)
        if not tables:
            return None
        shown = " or ".join(_inline(t) for t in tables)
        return c.NoneOf(tuple(self.conditions(t, "not") for t in tables), shown)

    # -- actions ------------------------------------------------------------------------------

    def _actions(self, table: Mapping[str, Any], name: str) -> dict[str, Any]:
        action = table.get("action", RuleAction.SUBMIT)
        if action not in ACTIONS:
            self.fail("action", f"`action` must be one of {', '.join(map(repr, ACTIONS))}, "
                                f"not {_shown(action)}")
            action = RuleAction.SUBMIT
        if not any(k in table for k in DOES_SOMETHING):
            self.fail(None, "does nothing: give it an action (job_code, job_title, job_id, "
                            "job, stage, source, comment, or action = \"review\" or \"ignore\")")
        texts = {k: self._text(table, k) for k in ("reason", "stage", "source", "comment")}
        job = self._job(table)
        if action in (RuleAction.REVIEW, RuleAction.IGNORE):
            for key in (*JOB_KEYS, "stage", "source", "comment"):
                if key in table:
                    self.fail(key, f"`{key}` has no effect with action = {action!r}: "
                                   "remove it, or remove `action`")
        elif "reason" in table:
            self.fail("reason", "`reason` is for action = \"review\" or \"ignore\": "
                                "use `comment` for a line in the confirmation comment")
        return {"action": action, "job": job, **texts}

    def _text(self, table: Mapping[str, Any], key: str) -> str:
        if key not in table:
            return ""
        value = table[key]
        if not isinstance(value, str) or not value.strip():
            self.fail(key, f"`{key}` must be a non-empty text, not {_shown(value)}")
            return ""
        if len(value) > MAX_TEXT:
            self.fail(key, f"`{key}` is longer than {MAX_TEXT} characters: shorten it")
        return value.strip()

    def _job(self, table: Mapping[str, Any]) -> JobRef | None:
        given = [k for k in JOB_KEYS if k in table]
        if len(given) > 1:
            self.fail(given[1], f"give one of {', '.join(given)}, not several: a rule names one job")
        if not given:
            return None
        key, value = given[0], table[given[0]]
        if key == "job_id" and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            kind = "a number or a text" if key == "job_id" else "a non-empty text"
            self.fail(key, f"`{key}` must be {kind}, not {_shown(value)}")
            return None
        try:
            missing = [p for p in placeholders(value) if p not in self.captured]
        except ValueError:
            self.fail(key, f"`{key}` has a stray brace: use {{job}} or {{tag}} for what the conditions captured")
            return None
        if missing:
            known = ", ".join(f"{{{n}}}" for n in sorted(self.captured)) or "none"
            self.fail(key, f"`{key}` uses {{{missing[0]}}}, which no condition of this rule captures "
                           f"(captured here: {known}); name a regular expression group (?P<{missing[0]}>...)")
            return None
        return JobRef(JOB_KEYS[key], value.strip())


def _shown(value: Any) -> str:
    kind = {bool: "true/false", int: "a number", float: "a number", str: "a text", list: "a list",
            dict: "a table"}.get(type(value), type(value).__name__)
    return f"{kind} ({json.dumps(value, default=str)[:60]})"


def _inline(table: Mapping[str, Any]) -> str:
    return "{ " + ", ".join(f"{k} = {json.dumps(v, default=str)}" for k, v in table.items()) + " }"
