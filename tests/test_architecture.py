"""The folders tell the architecture: each package imports only from the layers below it, and no
two packages import each other."""

from __future__ import annotations

import ast
from pathlib import Path

import daemon

ROOT = Path(daemon.__file__).parent

# Lowest first. A module may import its own package and anything in a lower layer, never a higher one;
# two packages of one layer never import each other.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("domain", "errors", "files", "settings"),  # the domain's words, the one exception tree, owner-only
    # files, the declaration of the configuration's keys
    ("mail",),  # a parsed mail: parsing, forwards, resumes, automatic mail, identity (pure)
    ("config",),  # the settings, validated once
    ("ats", "store", "replies"),  # the ATS adapter; the database; mail the daemon sends (templates, SMTP)
    ("mailbox", "routing"),  # IMAP and local folders; rules and inference (pure)
    ("intake",),  # a message's life: runner, flow, lifecycle, ledger, journal, submission, preview
    ("ops", "sandbox"),  # the service, its assembly, scheduler, IDLE, notify, metrics, health, alerts; the
    # sandbox ATS (a separate program the demo and the tests run)
    ("web",),  # the review page for recruiters (Starlette + Jinja2)
    ("cli",),  # the command line
)
LAYER = {part: index for index, parts in enumerate(LAYERS) for part in parts}


def part_of(module: str) -> str:
    """The top-level part of the daemon a dotted module name belongs to ("" for the package itself)."""
    pieces = module.split(".")
    if len(pieces) < 2 or pieces[0] != "daemon" or pieces[1] in ("__init__", "__version__"):
        return ""
    return pieces[1]


def imports(path: Path) -> set[str]:
    """Every daemon module a file imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("daemon."))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "daemon":
                found.update(f"daemon.{alias.name}" for alias in node.names)
            elif node.module.startswith("daemon."):
                found.add(node.module)
    return found


def edges() -> list[tuple[str, str, str]]:
    """(file, its part, the part it imports) for every import across parts."""
    out = []
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT.parent)
        mine = part_of(".".join(relative.with_suffix("").parts))
        for module in imports(path):
            theirs = part_of(module)
            if theirs and theirs != mine and not theirs.startswith("_"):
                out.append((str(relative), mine, theirs))
    return out


def test_every_part_has_a_layer():
    """A new package or top-level module is placed in a layer before it is used."""
    parts = {part_of(".".join(p.relative_to(ROOT.parent).with_suffix("").parts)) for p in ROOT.rglob("*.py")}
    assert parts - {""} <= LAYER.keys(), sorted(parts - {""} - LAYER.keys())


def test_no_part_imports_a_higher_layer():
    """Lower layers never import higher ones (the domain knows nothing of the CLI, the store nothing of intake)."""
    upward = [f"{file}: {mine} imports {theirs}" for file, mine, theirs in edges()
              if mine and LAYER[theirs] > LAYER[mine]]
    assert upward == []


def test_parts_of_one_layer_do_not_import_each_other():
    """Two parts of one layer are independent (no cycle can form between packages)."""
    sideways = sorted({f"{mine} imports {theirs}" for _file, mine, theirs in edges()
                       if mine and LAYER[theirs] == LAYER[mine]})
    assert sideways == []
