"""Whether a database's schema is already at the migrations' head, found without importing Alembic.

Alembic (with Mako under it) costs every command's start about 200 ms of CPU and 7 MB; a database already at
head needs none of it. The head is read from the migration scripts' `revision` and `down_revision`
assignments (parsed, not imported), the stored revision from Alembic's own `alembic_version` table. Any
other answer (no version table, another or an unknown revision, a script that cannot be read) is "not at
head", and the caller migrates with Alembic as before, under its lock.
"""

from __future__ import annotations

import ast
from pathlib import Path

from sqlalchemy import Engine, inspect, text

from daemon.store.repository import READ_ONLY

VERSION_TABLE = "alembic_version"


def at_head(engine: Engine, scripts: Path) -> bool:
    """Whether the database holds exactly the head revision(s) of the scripts in `scripts`/versions."""
    heads = script_heads(scripts / "versions")
    if not heads:
        return False
    with engine.connect().execution_options(**{READ_ONLY: True}) as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return False
        stored = {row[0] for row in connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))}  # noqa: S608
    return stored == heads


def script_heads(versions: Path) -> frozenset[str]:
    """The revisions no other script names as its down_revision; empty when a script cannot be read."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in versions.glob("*.py"):
        found = _assignments(script)
        if not isinstance(found.get("revision"), str):
            return frozenset()
        revisions.add(found["revision"])
        down = found.get("down_revision")
        parents.update((down,) if isinstance(down, str) else down or ())
    return frozenset(revisions - parents)


def _assignments(script: Path) -> dict[str, object]:
    """The literal module-level `revision` and `down_revision` of one migration script."""
    try:
        tree = ast.parse(script.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return {}
    found: dict[str, object] = {}
    for node in tree.body:
        target, value = _assigned(node)
        if target in ("revision", "down_revision"):
            try:
                found[target] = ast.literal_eval(value)
            except ValueError:
                return {}
    return found


def _assigned(node: ast.stmt) -> tuple[str | None, ast.expr | None]:
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
        return node.target.id, node.value
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
        return node.targets[0].id, node.value
    return None, None
