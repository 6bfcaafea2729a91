"""The README and the guides under docs/ are the contract with their readers: these tests keep them true to the code.

- `.ci/run` runs exactly the README's test command;
- the configuration reference (docs/configuration.md) is the one written from the declaration
  of the keys, and lists exactly the keys the loader reads, with its defaults;
- `config.example.toml` loads, uses only real keys, and sets optional keys to their defaults;
- the commands the admin's guide lists (docs/admin.md) exist in `ats-inbox --help`;
- every guide is reachable from the README, and no link between the pages is broken.

Which keys the loader reads is observed, not parsed from its source: the loader is given
tables that record every key asked for and the default offered for it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from daemon import config
from daemon.config import load_settings
from daemon.ops import crash
from daemon.settings import keys as declared
from daemon.settings.reference import with_reference

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
CONFIGURATION = DOCS / "configuration.md"  # the configuration reference
ADMIN = DOCS / "admin.md"  # the command line
GUIDES = ("admin.md", "recruiters.md", "operations.md", "configuration.md", "development.md")
PAGES = (README, *(DOCS / name for name in GUIDES), ROOT / "rules" / "README.md")
CI_RUN = ROOT / ".ci" / "run"
EXAMPLE = ROOT / "config.example.toml"
SECRETS = {config.IMAP_PASSWORD_ENV: "imap-secret", config.ATS_TOKEN_ENV: "ats-secret"}
SECRET_KEYS = {"password": config.IMAP_PASSWORD_ENV, "password_file": config.IMAP_PASSWORD_ENV,
               "token": config.ATS_TOKEN_ENV, "token_file": config.ATS_TOKEN_ENV}
REQUIRED, NONE = "required", "none"  # the reference's words for "no default" and "empty"


# -- reading the README and the guides -------------------------------------------------------------------


def _section(text: str, heading: str) -> str:
    """The body of the section whose heading line is `heading`, up to the next heading of its level."""
    level = heading.split(" ", 1)[0]
    lines = text.splitlines()
    start = lines.index(heading) + 1
    end = next((i for i in range(start, len(lines))
                if lines[i].startswith(level + " ") or
                (lines[i].startswith("#") and len(lines[i].split(" ", 1)[0]) < len(level))),
               len(lines))
    return "\n".join(lines[start:end])


def _first_code_block(text: str) -> list[str]:
    """The lines of the first fenced code block in `text`."""
    found = re.search(r"^```[\w-]*\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    assert found, "no fenced code block"
    return found.group(1).splitlines()


def _readme_command(heading: str) -> str:
    lines = _first_code_block(_section(README.read_text(encoding="utf-8"), heading))
    assert len(lines) == 1, f"{heading!r}: the command must be one line, got {lines}"
    return lines[0]


def _table_rows(text: str) -> Iterator[list[str]]:
    """Cells of each Markdown table body row (not the header or the rule)."""
    for line in text.splitlines():
        if line.startswith("|") and not re.match(r"^\|[-| :]+\|$", line):
            yield [cell.strip() for cell in line.strip().strip("|").split("|")]


def readme_config() -> dict[str, str]:
    """`table.key` -> the default cell of docs/configuration.md's key tables."""
    reference = _section(CONFIGURATION.read_text(encoding="utf-8"), "## The keys")
    keys: dict[str, str] = {}
    for block in re.split(r"^### ", reference, flags=re.MULTILINE)[1:]:
        title, _, body = block.partition("\n")
        table = re.fullmatch(r"`\[\[?(\w+)\]\]?`", title.strip())  # [table] or [[table]]
        if table is None:
            continue  # a heading that is not a table
        for cells in list(_table_rows(body))[1:]:
            key = re.fullmatch(r"`(\w+)`", cells[0])
            assert key, f"[{table.group(1)}]: key cell {cells[0]!r} is not `name`"
            keys[f"{table.group(1)}.{key.group(1)}"] = cells[1]
    return keys


def readme_commands() -> list[tuple[str, ...]]:
    """Each command of the admin's guide's CLI table as words, e.g. ("messages", "retry")."""
    section = _section(ADMIN.read_text(encoding="utf-8"), "## The command line")
    commands = []
    for cells in list(_table_rows(section))[1:]:
        usage = re.match(r"`ats-inbox ([^`]*)`", cells[0])
        assert usage, f"command cell {cells[0]!r} does not start with `ats-inbox ...`"
        words = re.match(r"[a-z][\w ]*?(?= [-\[A-Z]|$)", usage.group(1))
        assert words, f"no command in {usage.group(0)}"
        commands.append(tuple(words.group(0).split()))
    return commands


def _default_in_readme(cell: str) -> Any:
    """The default a reference cell states: None for "required", "" for "none", else its first literal."""
    if cell == REQUIRED:
        return None
    if cell == NONE:
        return ""
    literal = re.match(r"`([^`]+)`", cell)
    assert literal, f"default cell {cell!r} is not required, none, or a `literal`"
    return tomllib.loads(f"v = {literal.group(1)}")["v"]


# -- what the loader reads ------------------------------------------------------------------


class _RecordingTable(Mapping[str, Any]):
    """A TOML table that notes every key the loader asks for and the default it offers."""

    def __init__(self, name: str, values: Mapping[str, Any], reads: dict[str, Any]):
        self.name, self.values, self.reads = name, values, reads

    def __getitem__(self, key: str) -> Any:
        self.reads.setdefault(f"{self.name}.{key}", None)
        return self.values[key]

    def get(self, key: str, default: Any = None) -> Any:
        self.reads[f"{self.name}.{key}"] = default
        return self.values.get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)


class _RecordingConfig(Mapping[str, Any]):
    """The top of a TOML document: every table handed out records its reads."""

    def __init__(self, values: Mapping[str, Mapping[str, Any]]):
        self.values, self.reads = values, {}

    def __getitem__(self, name: str) -> Any:
        return self._recording(name, self.values[name])

    def get(self, name: str, default: Any = None) -> Any:
        return self._recording(name, self.values.get(name, default or {}))

    def _recording(self, name: str, value: Any) -> Any:
        """A table, or each table of an array of tables ([[mailbox]])."""
        if isinstance(value, list):
            return [_RecordingTable(name, table, self.reads) for table in value]
        return _RecordingTable(name, value, self.reads)

    def __contains__(self, name: object) -> bool:
        return name in self.values

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)


@pytest.fixture(scope="module")
def loader_reads(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`table.key` -> default offered, for every key the loader reads from a minimal valid file."""
    data = _RecordingConfig({
        "imap": {"host": "imap.example.com", "username": "jobs@example.com", "password": "p"},
        "ats": {"base_url": "http://127.0.0.1:8025", "token": "t"},
        "mailbox": [{"name": "other", "folder": "Other"}],
    })
    path = tmp_path_factory.mktemp("config") / "config.toml"
    config._settings(data, path, environ={})  # the loader's core, fed the recording tables
    return data.reads


# -- the tests -------------------------------------------------------------------------------


def test_ci_runs_the_readme_test_command():
    """`.ci/run` is an executable bash script whose one command is the README's test command."""
    command = _readme_command("### 2. Run the tests")
    script = CI_RUN.read_text(encoding="utf-8").splitlines()
    assert script[0] == "#!/usr/bin/env bash"
    assert "set -euo pipefail" in script
    commands = [line for line in script[1:] if line.strip() and not line.lstrip().startswith("#")]
    assert commands[-1] == command
    assert os.access(CI_RUN, os.X_OK)


def test_readme_test_command_installs_dovecot_and_runs_pytest():
    """The test command installs Dovecot and runs the whole suite, so CI cannot skip the IMAP tests."""
    command = _readme_command("### 2. Run the tests")
    assert "apt-get install -y" in command and "dovecot-imapd" in command
    assert command.endswith("python -m pytest")


def test_quick_start_demo_is_one_command():
    """The first quick-start command creates the venv, installs, and runs the demo."""
    command = _readme_command("### 1. Try the demo")
    assert command.startswith("python3 -m venv .venv && ")
    assert command.endswith(".venv/bin/ats-inbox demo")


def test_reference_documents_exactly_the_keys_the_loader_reads(loader_reads: dict[str, Any]):
    """Every key in the configuration reference is read by the loader, and every key it reads is there."""
    documented = set(readme_config())
    assert documented - set(loader_reads) == set(), "documented but never read"
    assert set(loader_reads) - documented == set(), "read but not documented"


def test_known_keys_are_exactly_the_keys_the_loader_reads(loader_reads: dict[str, Any]):
    """The list that rejects unknown keys holds every key the loader reads, and nothing else."""
    known = {f"{table}.{key}" for table, keys in config.KNOWN_KEYS.items() for key in keys}
    assert known == set(loader_reads)


def test_reference_is_written_from_the_declaration():
    """docs/configuration.md's key tables are exactly what tools/config_reference.py writes from the declaration."""
    text = CONFIGURATION.read_text(encoding="utf-8")
    assert with_reference(text) == text, "run: python tools/config_reference.py"


def test_config_reference_tool_checks_the_configuration_page(tmp_path: Path):
    """`tools/config_reference.py --check` passes on docs/configuration.md, and fails naming it once a table differs."""
    tool = ROOT / "tools" / "config_reference.py"
    done = subprocess.run([sys.executable, str(tool), "--check"], capture_output=True, text=True, timeout=60,
                          check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    copy = tmp_path / "tools" / "config_reference.py"  # the tool beside a page whose table was edited by hand
    copy.parent.mkdir()
    copy.write_text(tool.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "configuration.md").write_text(
        CONFIGURATION.read_text(encoding="utf-8").replace("| `host` | required |", "| `host` | `\"x\"` |"),
        encoding="utf-8")
    done = subprocess.run([sys.executable, str(copy), "--check"], capture_output=True, text=True, timeout=60,
                          check=False, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 1
    assert "docs/configuration.md" in done.stderr


def test_loader_offers_the_declared_defaults(loader_reads: dict[str, Any]):
    """The loader reads every declared key, falling back to the declared default (None: required)."""
    defaults = {key.qualified: None if key.default is declared.REQUIRED else
                list(key.default) if key.kind is declared.Kind.STRINGS else key.default for key in declared.KEYS}
    assert loader_reads == defaults


def test_reference_defaults_are_the_loader_defaults(loader_reads: dict[str, Any]):
    """Each default in the configuration reference is the one the loader falls back to."""
    stated = {key: _default_in_readme(cell) for key, cell in readme_config().items()}
    assert stated == {key: loader_reads[key] for key in stated}


@pytest.mark.parametrize("key", sorted(readme_config()))
def test_each_documented_key_is_validated_under_its_name(key: str, tmp_path: Path):
    """A documented key with a value of the wrong type stops the loader with an error naming that key."""
    table, name = key.split(".")
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    if table in declared.LISTED_TABLES:  # [[mailbox]]: one table of the array
        data[table] = [{"name": "other", "folder": "Other", name: [1, 2]}]
    else:
        data.setdefault(table, {})[name] = [1, 2]  # no key of the configuration is a list
    path = tmp_path / "config.toml"
    path.write_text(_toml(data), encoding="utf-8")
    # The variables override [imap]'s secret keys (not a [[mailbox]]'s own).
    environ = {var: v for var, v in SECRETS.items()
               if table in declared.LISTED_TABLES or not (name in SECRET_KEYS and var == SECRET_KEYS[name])}
    with pytest.raises(config.ConfigError) as raised:
        load_settings(path, environ)
    assert f"'{key}'" in str(raised.value)
    assert str(path) in str(raised.value)


def test_reference_lists_the_environment_variables():
    """The variables the loader reads (the file's, and each secret's) are in the reference, the test hook marked."""
    text = CONFIGURATION.read_text(encoding="utf-8")
    for variable in (config.CONFIG_ENV, *(key.env for key in declared.KEYS if key.env)):
        assert f"| `{variable}` |" in text
    assert f"`{crash.CRASH_ENV}` is a test hook" in text


def test_example_config_loads_with_secrets_from_the_environment():
    """config.example.toml is valid and points at the local sandbox ATS."""
    settings = load_settings(EXAMPLE, SECRETS)
    assert settings.ats.base_url == "http://127.0.0.1:8025"
    assert settings.imap.password == "imap-secret"
    assert settings.ats.token == "ats-secret"


def test_example_config_uses_only_keys_the_loader_reads(loader_reads: dict[str, Any]):
    """No key in config.example.toml is silently ignored (a typo would be)."""
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    keys = {f"{table}.{key}" for table, values in data.items() for key in values}
    assert keys - set(loader_reads) == set()


def test_example_config_lists_every_declared_key():
    """Every declared key is in config.example.toml under its table, set or in a comment, as its header says."""
    text = EXAMPLE.read_text(encoding="utf-8")
    parts = re.split(r"^(?:# )?\[\[?(\w+)\]\]?\s*$", text, flags=re.MULTILINE)
    tables: dict[str, str] = {}
    for table, body in zip(parts[1::2], parts[2::2], strict=True):  # [[mailbox]] may come more than once
        tables[table] = tables.get(table, "") + body
    missing = {key.qualified for key in declared.KEYS
               if not re.search(rf"(?<![\w.]){key.name} =", tables.get(key.table, ""))}
    assert missing == set()


def test_example_config_holds_no_secret_inline():
    """config.example.toml gives no secret's value: the secrets come from the environment or files."""
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    inline = {key.qualified for key in declared.KEYS if key.secret and data.get(key.table, {}).get(key.name)}
    assert inline == set()


def test_example_config_sets_optional_keys_to_their_defaults(loader_reads: dict[str, Any]):
    """Every optional key the example sets carries the loader's default, as its header says."""
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    optional = {key: default for key, default in loader_reads.items() if default is not None}
    differing = {key: (data[t][k], optional[key]) for t, values in data.items() for k in values
                 if (key := f"{t}.{k}") in optional and values[k] != optional[key]}
    assert differing == {}


@pytest.mark.parametrize("command", readme_commands(), ids=" ".join)
def test_cli_help_lists_each_documented_command(command: tuple[str, ...]):
    """Each command in the admin's guide's CLI table is a subcommand in `ats-inbox ... --help`."""
    *parents, name = command
    listed = _subcommands(_help(*parents))
    assert name in listed, f"`ats-inbox {' '.join(parents)} --help` lists {listed}"


def test_admin_guide_lists_every_top_level_command():
    """Every command in `ats-inbox --help` is in the admin's guide's CLI table."""
    documented = {command[0] for command in readme_commands()}
    assert set(_subcommands(_help())) - documented == set()


def test_every_guide_is_reachable_from_the_readme():
    """The README links each guide under docs/ and the rules' page; every .md under docs/ is one of them."""
    linked = {target for target, _ in _links(README)}
    assert {f"docs/{name}" for name in GUIDES} | {"rules/README.md"} <= linked
    assert {p.name for p in DOCS.glob("*.md")} == set(GUIDES)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_between_the_pages_resolve(page: Path):
    """Each relative link of a page names an existing file, and its #anchor a heading of that file."""
    for target, anchor in _links(page):
        path = (page.parent / target).resolve() if target else page
        assert path.exists(), f"{page.name}: link to a missing {target}"
        if anchor and path.suffix == ".md":
            assert anchor in _anchors(path), f"{page.name}: no heading #{anchor} in {path.name}"


def test_the_keywords_warning_names_the_event_the_daemon_logs():
    """The admin's warning about servers without keywords names the log event the IMAP adapter writes."""
    adapter = (ROOT / "daemon" / "mailbox" / "imap.py").read_text(encoding="utf-8")
    event = re.search(r'log\.warning\("(imap\.keywords_\w+)"', adapter)
    assert event and f"`{event.group(1)}`" in ADMIN.read_text(encoding="utf-8")


def _links(page: Path) -> list[tuple[str, str]]:
    """(file, anchor) of each relative Markdown link outside code blocks; file "" for the page itself."""
    text = re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.MULTILINE | re.DOTALL)
    found = []
    for link in re.findall(r"\]\(([^)\s]+)\)", text):
        if not re.match(r"[a-z]+:", link):
            target, _, anchor = link.partition("#")
            found.append((target, anchor))
    return found


def _anchors(page: Path) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.MULTILINE | re.DOTALL)
    headings = re.findall(r"^#+ (.+)$", text, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def _help(*words: str) -> str:
    script = Path(sys.executable).with_name("ats-inbox")
    done = subprocess.run([str(script), *words, "--help"], capture_output=True, text=True,
                          check=True, timeout=60, env={**os.environ, "COLUMNS": "100"})
    return done.stdout


def _subcommands(help_text: str) -> list[str]:
    """The sub-commands argparse lists under "positional arguments" (indented by four spaces)."""
    positional = help_text.split("positional arguments:", 1)[1].split("\noptions:", 1)[0]
    return re.findall(r"^ {4}(\w[\w-]*)(?: |$)", positional, re.MULTILINE)


def _toml(data: Mapping[str, Mapping[str, Any]]) -> str:
    """A minimal TOML writer for tables (and arrays of tables) of strings, booleans, integers and lists of integers."""
    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, list):
            return "[" + ", ".join(value(item) for item in v) + "]"
        return str(v)
    def one(header: str, values: Mapping[str, Any]) -> str:
        return f"{header}\n" + "".join(f"{k} = {value(v)}\n" for k, v in values.items())
    return "".join("".join(one(f"[[{table}]]", each) for each in values) if isinstance(values, list) else
                   one(f"[{table}]", values) for table, values in data.items())
