"""The schema's revision read without Alembic: a database at head opens without importing it, any other migrates."""

from __future__ import annotations

from alembic.config import Config
from alembic.script import ScriptDirectory

from daemon.store.database import create_store_engine, migrations_dir, upgrade
from daemon.store.migrate import at_head, script_heads


def test_the_head_read_from_the_scripts_is_alembics_head():
    """The head found by parsing the migration scripts is the one Alembic finds by importing them."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    assert script_heads(migrations_dir() / "versions") == frozenset(ScriptDirectory.from_config(config).get_heads())


def test_a_database_is_at_head_only_when_it_holds_the_head_revision(tmp_path):
    """A new database and one at an older revision are not at head (Alembic migrates them); one migrated is."""
    engine = create_store_engine(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        assert not at_head(engine, migrations_dir())
        upgrade(engine, "0001")
        assert not at_head(engine, migrations_dir())
        upgrade(engine)
        assert at_head(engine, migrations_dir())
    finally:
        engine.dispose()
