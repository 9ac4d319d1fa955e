"""Run Alembic migrations from code (the CLI and tests), without needing alembic.ini on disk."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError as AlembicError
from sqlalchemy.engine import Connection

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(database_url: str) -> Config:
    """An Alembic config pointing at our migrations and the given database."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database's schema up to `revision`."""
    command.upgrade(alembic_config(database_url), revision)


def schema_problem(connection: Connection) -> str | None:
    """Why the connected database's schema is not the one this code needs, or None when it is (or is newer)."""
    script = ScriptDirectory.from_config(alembic_config(connection.engine.url.render_as_string(hide_password=False)))
    heads = set(script.get_heads())
    # Reading the version is not news: keep Alembic's INFO lines ("Context impl …") out of a command's plain output.
    migration_log = logging.getLogger("alembic.runtime.migration")
    level = migration_log.level
    migration_log.setLevel(logging.WARNING)
    try:
        current = set(MigrationContext.configure(connection).get_current_heads())
    finally:
        migration_log.setLevel(level)
    if current == heads:
        return None
    if not current:
        return "has no expertmatch tables yet"
    for revision in current:
        try:
            if script.get_revision(revision) is None:
                return None
        except AlembicError:
            # A revision this code does not know was written by a newer version: nothing to upgrade to here.
            return None
    return f"is at revision {', '.join(sorted(current))}; this version needs {', '.join(sorted(heads))}"
