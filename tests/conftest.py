"""Shared test fixtures: where the real data in ../shared lives."""

from __future__ import annotations

import os
from pathlib import Path

# python-telegram-bot: retry_after as a timedelta, without its deprecation warning (which the
# suite would turn into an error whenever a fake server answers 429).
os.environ.setdefault("PTB_TIMEDELTA", "true")

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
PRICES = SHARED_DATA / "prices"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data beside the project; the suite needs it (CI clones with ../shared)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"{SHARED_DATA} is missing: clone the project with ../shared beside it")
    return SHARED_DATA


@pytest.fixture(scope="session")
def prices_dir(shared_data: Path) -> Path:
    return shared_data / "prices"
