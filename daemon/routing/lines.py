"""Line numbers in a rule file, found by scanning its text (tomllib gives none for keys).

The n-th `[[rule]]` header starts the n-th rule's block, which runs to the next one; a key's
line is the first line of that block that sets it (`key =`, `key.x =`, `[rule.key]`, or
`key =` inside an inline table). When nothing is found, the rule's header line is used.
"""

from __future__ import annotations

import re

_RULE_HEADER = re.compile(r"""^\s*\[\[\s*(?:rule|"rule"|'rule')\s*\]\]""")
_SYNTAX_LINE = re.compile(r"at line (\d+)")


class RuleLines:
    """Where each rule and each of its keys is written in one file's text."""

    def __init__(self, text: str):
        self.lines = text.splitlines()
        self.starts = [n for n, line in enumerate(self.lines, 1) if _RULE_HEADER.match(line)]

    def rule(self, index: int) -> int:
        """The line of the `index`-th rule's header (0-based index); 1 when not found."""
        return self.starts[index] if index < len(self.starts) else 1

    def key(self, index: int, key: str, inside_key: str = "") -> int:
        """The first line of the `index`-th rule's block that sets `key` (within `inside_key`'s value)."""
        start = self.key(index, inside_key) if inside_key else self.rule(index)
        end = self.starts[index + 1] - 1 if index + 1 < len(self.starts) else len(self.lines)
        name = re.escape(key)
        quoted = rf"""(?:{name}|"{name}"|'{name}')"""
        at_start = re.compile(rf"""^\s*{quoted}\s*[=.]|^\s*\[\s*rule\s*\.\s*{quoted}\s*\]""")
        inside = re.compile(rf"""(?:^|[{{,\s]){quoted}\s*=""")
        for pattern in (inside, at_start) if inside_key else (at_start, inside):
            for n in range(start, end + 1):
                if pattern.search(self.lines[n - 1]):
                    return n
        return start

    def top_level(self, key: str) -> int:
        """The line that sets a key outside any rule; 1 when not found."""
        pattern = re.compile(rf"""^\s*(?:\[+\s*)?["']?{re.escape(key)}["']?\s*[=.\]]""")
        return next((n for n, line in enumerate(self.lines, 1) if pattern.match(line)), 1)


def syntax_line(message: str) -> int:
    """The line tomllib names in a syntax error message ("... (at line 3, column 7)")."""
    found = _SYNTAX_LINE.search(message)
    return int(found.group(1)) if found else 1
