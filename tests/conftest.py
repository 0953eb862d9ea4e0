"""Shared test fixtures: where the real data in ../shared lives."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

# python-telegram-bot: retry_after as a timedelta, without its deprecation warning (which the
# suite would turn into an error whenever a fake server answers 429).
os.environ.setdefault("PTB_TIMEDELTA", "true")

import pytest

from bot.storage.store import Store
from bot.universe import Universe, load_universe
from handlers.commands import build_registry
from handlers.registry import Registry
from handlers.services import Services
from tests.postgres import database, postgres_url  # noqa: F401 - fixtures for every module

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
PRICES = SHARED_DATA / "prices"


def pytest_collection_finish(session: pytest.Session) -> None:
    """What collection imported lives for the whole run: out of the collector's sight, as
    ``App.run`` does after start-up. A full collection of it takes ~100 ms, a good part of
    what a virtual-clock sender waits for a send in flight before it moves time on
    (``VIRTUAL_WAIT_SECONDS``)."""
    gc.freeze()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data beside the project; the suite needs it (CI clones with ../shared)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"{SHARED_DATA} is missing: clone the project with ../shared beside it")
    return SHARED_DATA


@pytest.fixture(scope="session")
def prices_dir(shared_data: Path) -> Path:
    return shared_data / "prices"


CHAT_NOW = datetime(2026, 8, 4, 12, 0, tzinfo=UTC)
"""The fixed time of the chat tests: the day after the last session in daily_close."""


@pytest.fixture
def universe() -> Universe:
    return load_universe()


@pytest.fixture
def registry() -> Registry:
    return build_registry()


@pytest.fixture
def store() -> Iterator[Store]:
    db = Store(":memory:")
    yield db
    db.close()


@pytest.fixture
def services(universe: Universe, store: Store) -> Services:
    """Command services on the real daily closes; a module may override it."""
    from tests.factories import Clock, command_services

    return command_services(store, Clock(CHAT_NOW), universe=universe)
