"""Engines for the CRM database, with SQLite made safe for several threads writing at once."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.pool import StaticPool

BUSY_TIMEOUT_MS = 10_000
_BEGIN_OPTION = "crm_sqlite_begin"


def parse_url(url: str | URL) -> URL:
    try:
        return make_url(url)
    except ArgumentError as exc:
        raise ValueError(f"invalid database URL {str(url)!r}: {exc}") from None


def is_memory(url: URL) -> bool:
    """True for an in-memory SQLite URL (``sqlite://``, ``:memory:``, ``mode=memory``)."""
    return url.database in (None, "", ":memory:") or "mode=memory" in str(url.query)


def make_engines(url: URL) -> tuple[Engine, Engine]:
    """(read engine, write engine). They share one pool; on SQLite writes start with BEGIN IMMEDIATE.

    pysqlite's own transaction handling begins lazily at the first INSERT/UPDATE, so a read-then-write
    transaction in WAL mode fails with "database is locked" (busy snapshot, no retry) when another thread
    committed in between. Taking the write lock at BEGIN makes writers queue on the busy timeout instead.
    """
    if url.get_backend_name() != "sqlite":
        try:
            engine = create_engine(url, pool_pre_ping=True)
        except NoSuchModuleError as exc:
            raise ValueError(f"unsupported database URL {url.render_as_string()!r}: {exc}") from None
        return engine, engine

    kwargs: dict = {"connect_args": {"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000}}
    if is_memory(url):
        kwargs["poolclass"] = StaticPool  # one shared connection, or every session sees a new empty DB
    else:
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; a crash loses at most the last commit
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        connection.exec_driver_sql(connection.get_execution_options().get(_BEGIN_OPTION, "BEGIN"))

    return engine, engine.execution_options(**{_BEGIN_OPTION: "BEGIN IMMEDIATE"})
