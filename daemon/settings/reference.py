"""The configuration reference (docs/configuration.md), drawn from the declaration of the keys.

`reference()` is the Markdown of every table (a `### [table]` heading and a table of its keys);
`with_reference(text)` puts it between the page's two markers. `tools/config_reference.py`
writes it; `tests/test_docs.py` fails when the page differs.
"""

from __future__ import annotations

import json

from daemon.settings.keys import LISTED_TABLES, REQUIRED, TABLES, Key, Kind

BEGIN = "<!-- The tables below are written by `python tools/config_reference.py` from daemon/settings/keys.py. -->"
END = "<!-- End of the written tables. -->"


def reference() -> str:
    """Every table's heading and its keys, in declaration order."""
    return "\n\n".join(_table(name, keys) for name, keys in TABLES.items()) + "\n"


def _table(name: str, keys: tuple[Key, ...]) -> str:
    rows = [f"| `{key.name}` | {default_cell(key)} | {meaning(key)} |" for key in keys]
    heading = f"[[{name}]]" if name in LISTED_TABLES else f"[{name}]"
    return "\n".join([f"### `{heading}`", "", "| Key | Default | Meaning |", "|---|---|---|", *rows])


def default_cell(key: Key) -> str:
    """"required", "none" (empty), or the default as a TOML literal in backticks, and its note."""
    if key.default is REQUIRED:
        return "required"
    if key.default == "":
        return "none"
    if key.kind is Kind.NAMES:
        return f"`{{{', '.join(f'{json.dumps(k)} = {json.dumps(v)}' for k, v in key.default.items())}}}`"
    literal = (json.dumps(key.default) if isinstance(key.default, bool | str | int) else
               json.dumps(list(key.default)))
    return f"`{literal}` {key.shown}".rstrip()


def meaning(key: Key) -> str:
    """The help, its `{range}` spelt out."""
    return key.help.replace("{range}", key.range)


def with_reference(text: str) -> str:
    """The page with the text between its markers replaced by `reference()`."""
    head, begin, rest = text.partition(BEGIN)
    _, end, tail = rest.partition(END)
    if not (begin and end):
        raise ValueError(f"the page lacks the markers {BEGIN!r} and {END!r}")
    return f"{head}{BEGIN}\n\n{reference()}\n{END}{tail}"
