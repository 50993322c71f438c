"""Run the CRM's Alembic migrations from code: the scripts ship inside the package, no alembic.ini.

Developers add a revision after changing ``crm_store/models.py`` with
``python -m crm_store revision "add loyalty points"`` (see ``crm_store/__main__.py``).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from crm_store.models import Base

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config pointing at the packaged migration scripts."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # configparser interpolation
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migration scripts found in {MIGRATIONS_DIR}")
    return head


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def autogenerate_revision(engine: Engine, message: str) -> None:
    """Write a new migration script for the difference between ``engine``'s schema and the models."""
    with engine.connect() as probe:
        if not compare_metadata(MigrationContext.configure(probe), Base.metadata):
            raise RuntimeError("the models match the migrations; no revision written")
    with engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)


def upgrade_to_head(engine: Engine) -> None:
    """Bring the schema to the newest revision; a no-op when it is already there."""
    head = head_revision()
    with engine.connect() as probe:
        if current_revision(probe) == head:
            return  # the common case, answered without taking the write lock
    with engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        try:
            command.upgrade(config, "head")
        except Exception as exc:  # e.g. a database written by a newer version of this package
            raise RuntimeError(f"cannot migrate the CRM database to revision {head}: {exc}") from exc
