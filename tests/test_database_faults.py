"""A database that is locked or damaged while the bot runs: one line in the log and in
``/status``, never a traceback; the next run tries again."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent

from bot.render.chat import plain_text
from bot.storage.store import Store
from handlers.commands import build_registry
from handlers.registry import Dispatcher, Invocation
from jobs.scheduler import JobHealth
from tests.factories import Clock, command_services

NOW = datetime(2026, 8, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(tmp_path / "bot.sqlite3")
    yield store
    store.close()


def failure(store: Store) -> sqlite3.Error:
    """What a write raises while another process holds the database (after the 2 s wait)."""
    with pytest.raises(sqlite3.Error) as caught:
        store.record_scan("us", "csv", NOW)
    return caught.value


@pytest.fixture
def held(store: Store) -> Iterator[sqlite3.Connection]:
    other = sqlite3.connect(store.path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    yield other
    other.execute("ROLLBACK")
    other.close()


def event(code: int, exception: BaseException | None = None) -> JobExecutionEvent:
    return JobExecutionEvent(code, "scan-us", "default", NOW, exception=exception)


def test_a_locked_database_is_one_line_in_the_log_and_status_then_clears(
    store: Store, held: sqlite3.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    health = JobHealth(database=str(store.path))

    health.listen(event(EVENT_JOB_ERROR, failure(store)))

    assert health.errors["scan-us"] == (
        f"another process holds {store.path} (database is locked); stop it or use another file"
    )
    (record,) = [r for r in caplog.records if r.name == "jobs.scheduler"]
    assert record.exc_info is None  # no traceback
    assert "database is locked" in record.getMessage()

    held.execute("ROLLBACK")
    held.execute("BEGIN")  # the other process lets go; the next run works
    store.record_scan("us", "csv", NOW)
    health.listen(event(EVENT_JOB_EXECUTED))
    assert health.errors == {}


def test_a_damaged_database_is_named_as_damaged(tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.sqlite3"
    damaged.write_bytes(b"this is not a database, it is a text file " * 200)
    with pytest.raises(sqlite3.DatabaseError) as caught:
        sqlite3.connect(damaged).execute("SELECT * FROM sqlite_master").fetchall()
    health = JobHealth(database=str(damaged))

    health.listen(event(EVENT_JOB_ERROR, caught.value))

    assert health.errors["scan-us"] == (
        f"the database at {damaged} is damaged: file is not a database"
    )


async def test_a_command_on_a_locked_database_apologises_and_logs_one_line(
    store: Store, held: sqlite3.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    services = command_services(store, Clock(NOW))
    invocation = Invocation(
        platform="test",
        command="subscribe",
        raw_args="",
        chat_id="7",
        chat_type="private",
        user_id="7",
        user_language="en",
        check_admin=lambda: _yes(),
    )

    reply = await Dispatcher(build_registry(), services).dispatch(invocation)

    assert reply is not None
    assert "error" in plain_text(reply)
    (record,) = [r for r in caplog.records if "command /subscribe failed" in r.getMessage()]
    assert record.exc_info is None
    assert f"another process holds {store.path}" in record.getMessage()


async def _yes() -> bool:
    return True
