"""Engine and session factory. Nothing is created at import time: call :func:`init_engine`.

Functions that query take a ``Session``; services own the transaction (``with session.begin()``
or an explicit commit); entrypoints (Flask requests, Rasa actions, CLI commands) open one
session each through :func:`session_scope`.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Self

from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

# Stable constraint names, so Alembic migrations are the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _unicode_lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


#: How long a writer waits for SQLite's write lock before "database is locked" (PRAGMA
#: busy_timeout), in its turn in the queue as well.
SQLITE_BUSY_SECONDS = 5.0
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLAC")


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # SQLite's own lower() folds ASCII only: "Élodie" would never match "élodie".
    dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_SECONDS * 1000)}")
    cursor.close()


class QueuedWriterConnection(sqlite3.Connection):
    """A connection whose write transactions queue for a lock file beside the database.

    SQLite lets one writer in at a time and makes the others poll: its busy handler sleeps
    1, 2, 5, 10, 15, 20, 25... ms between tries, so a writer kept out for 4 ms sleeps 8, and
    one kept out for 20 sleeps 33. The gateway's workers and the action server all write the
    app database on every turn: at 50 conversations at once a turn's first write waited up to
    58 ms (bench/RESULTS.md, notes of 2026-12-07). Here a transaction takes an advisory lock on
    ``<database>-writers`` (flock) before its first write and gives it back when it commits
    or rolls back: the next writer is in within half a millisecond of the last leaving.

    Reads never queue (WAL lets them run beside the writer). SQLite's own lock still guards
    against writers that do not queue (the sqlite3 shell, another program), with its busy
    timeout; a turn in the queue longer than that timeout fails as SQLite would."""

    def __init__(self, database: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        path = str(database)
        memory = path in ("", ":memory:") or path.startswith("file:") or "mode=memory" in path
        self._queue_fd: int | None = (
            None if memory else os.open(f"{path}-writers", os.O_RDWR | os.O_CREAT, 0o600)
        )
        self._queued = False

    def cursor(self, factory: Any = None) -> sqlite3.Cursor:  # type: ignore[override]
        return super().cursor(factory or _QueuedWriterCursor)

    def wait_to_write(self) -> None:
        """Before a write: this connection's turn in the queue, unless it already has it."""
        if self._queued or self._queue_fd is None:
            return
        deadline = time.monotonic() + SQLITE_BUSY_SECONDS
        while True:
            try:
                fcntl.flock(self._queue_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise sqlite3.OperationalError("database is locked") from None
                time.sleep(0.0005)
                continue
            self._queued = True
            return

    def _leave_queue(self) -> None:
        if self._queued and self._queue_fd is not None:
            fcntl.flock(self._queue_fd, fcntl.LOCK_UN)
        self._queued = False

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            if not self.in_transaction:  # a failed commit stays open, to be rolled back
                self._leave_queue()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._leave_queue()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._close_queue()

    def __del__(self) -> None:  # dropped without close(): the lock file is not left open
        self._close_queue()

    def _close_queue(self) -> None:
        fd = getattr(self, "_queue_fd", None)  # None too when __init__ failed before it
        if fd is not None:
            self._queue_fd = None
            os.close(fd)  # also gives back the lock, if held
        self._queued = False


class _QueuedWriterCursor(sqlite3.Cursor):
    def _before(self, sql: str) -> None:
        if sql.lstrip()[:6].upper() in _WRITES:
            connection = self.connection
            assert isinstance(connection, QueuedWriterConnection)
            connection.wait_to_write()

    def execute(self, sql: str, parameters: Any = (), /) -> Self:
        self._before(sql)
        return super().execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> Self:
        self._before(sql)
        return super().executemany(sql, seq_of_parameters)


@lru_cache(maxsize=8)
def init_engine(url: str) -> Engine:
    """One engine per database URL per process."""
    return create_app_engine(url)


def create_app_engine(url: str) -> Engine:
    """A new engine set up as the app's are (SQLite: foreign keys, WAL, Unicode lower())."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={
                "check_same_thread": False,
                "timeout": 15,
                "factory": QueuedWriterConnection,
            },
        )
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)
    return engine


@lru_cache(maxsize=8)
def session_factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=init_engine(url), expire_on_commit=False)


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session for one unit of work: committed on success, rolled back on error."""
    session = session_factory(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
