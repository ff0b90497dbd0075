"""SQLite writers queue on a lock file beside the database (bot.db.QueuedWriterConnection):
taken at a transaction's first write, given back when it ends, and never by a reader."""

from __future__ import annotations

import fcntl
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from bot import db


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "app.db"


@pytest.fixture
def engines(path: Path) -> Iterator[tuple[Engine, Engine]]:
    """Two engines on one file, as two processes (the gateway, the action server) have."""
    first, second = (db.create_app_engine(f"sqlite:///{path}") for _ in range(2))
    with first.begin() as conn:
        conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
    yield first, second
    first.dispose()
    second.dispose()


def queue_is_free(path: Path) -> bool:
    """What another writer would find: can it take the queue's lock now?"""
    fd = os.open(f"{path}-writers", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # gives the lock back if it was taken
    return True


def test_the_queue_file_sits_beside_the_database_readable_by_its_owner_only(
    engines: tuple[Engine, Engine], path: Path
) -> None:
    mode = stat.S_IMODE(os.stat(f"{path}-writers").st_mode)
    assert mode & 0o077 == 0


def test_a_reader_never_queues_a_writer_holds_the_queue_until_it_commits(
    engines: tuple[Engine, Engine], path: Path
) -> None:
    first, _ = engines
    with first.connect() as conn:
        conn.execute(text("SELECT count(*) FROM notes")).scalar_one()
        assert queue_is_free(path)  # reading: nobody waits for it
        conn.execute(text("INSERT INTO notes (body) VALUES ('a')"))
        assert not queue_is_free(path)  # its first write: in the queue until it ends
        conn.execute(text("INSERT INTO notes (body) VALUES ('b')"))  # still its turn
        conn.commit()
        assert queue_is_free(path)
    with first.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM notes")).scalar_one() == 2


@pytest.mark.parametrize("end", ["rollback", "close"])
def test_a_writer_that_rolls_back_or_is_closed_leaves_the_queue_and_writes_nothing(
    engines: tuple[Engine, Engine], path: Path, end: str
) -> None:
    first, _ = engines
    conn = first.connect()
    conn.execute(text("INSERT INTO notes (body) VALUES ('lost')"))
    assert not queue_is_free(path)
    if end == "rollback":
        conn.rollback()
    conn.close()  # back to the pool, which rolls back what is open
    assert queue_is_free(path)
    first.dispose()  # the pooled connection itself closed
    assert queue_is_free(path)
    with first.connect() as check:
        assert check.execute(text("SELECT count(*) FROM notes")).scalar_one() == 0


def test_a_second_writer_waits_for_the_first_to_commit_then_writes_after_it(
    engines: tuple[Engine, Engine],
) -> None:
    first, second = engines
    order: list[str] = []
    waiting = threading.Event()
    done = threading.Event()

    def later_writer() -> None:
        with second.begin() as conn:
            waiting.set()
            conn.execute(text("INSERT INTO notes (body) VALUES ('second')"))
        order.append("second committed")
        done.set()

    with first.begin() as conn:
        conn.execute(text("INSERT INTO notes (body) VALUES ('first')"))
        thread = threading.Thread(target=later_writer)
        thread.start()
        assert waiting.wait(5)
        assert not done.wait(0.3)  # it is queued behind this transaction, not failed
        order.append("first committing")
    thread.join(10)
    assert order == ["first committing", "second committed"]
    with first.connect() as conn:
        rows = conn.execute(text("SELECT body FROM notes ORDER BY id")).scalars().all()
    assert rows == ["first", "second"]


def test_a_writer_queued_longer_than_the_busy_timeout_fails_as_sqlite_would(
    engines: tuple[Engine, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its transaction is refused ("database is locked", which the app answers as any
    locked database) and nothing of it is written."""
    monkeypatch.setattr(db, "SQLITE_BUSY_SECONDS", 0.3)
    first, second = engines
    with first.begin() as conn:
        conn.execute(text("INSERT INTO notes (body) VALUES ('holds the queue')"))
        with (
            pytest.raises(OperationalError, match="database is locked"),
            second.begin() as late,
        ):
            late.execute(text("INSERT INTO notes (body) VALUES ('never')"))
    with second.connect() as conn:
        assert conn.execute(text("SELECT body FROM notes")).scalars().all() == ["holds the queue"]


def test_an_in_memory_database_has_no_queue_file(tmp_path: Path) -> None:
    engine = db.create_app_engine("sqlite://")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
        assert conn.execute(text("SELECT x FROM t")).scalar_one() == 1
    engine.dispose()
    assert not list(Path.cwd().glob("*-writers"))
