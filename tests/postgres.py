"""A real PostgreSQL for the storage tests: ``BOT_TEST_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``).

Each test gets a schema of its own in that database (dropped afterwards), so tests and
parallel runs never see each other's rows. When the server does not answer, the PostgreSQL
variants are skipped and say why; with ``BOT_TEST_POSTGRES_REQUIRED=1`` (CI) they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from urllib.parse import quote

import pytest

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


def server_url() -> str:
    return os.environ.get("BOT_TEST_POSTGRES_URL") or DEFAULT_URL


@cache
def unreachable() -> str | None:
    """Why the test server cannot be used (``None``: it answers)."""
    import psycopg

    try:
        with psycopg.connect(server_url(), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"PostgreSQL at {server_url()} does not answer: {str(exc).strip()[:200]}"
    return None


def require_server() -> None:
    why = unreachable()
    if why is None:
        return
    if os.environ.get("BOT_TEST_POSTGRES_REQUIRED") == "1":
        pytest.fail(f"{why} (BOT_TEST_POSTGRES_REQUIRED=1)")
    pytest.skip(why)


def with_schema(url: str, schema: str) -> str:
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL whose tables live in a fresh schema of the test database."""
    import psycopg

    require_server()
    schema = f"bot_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url(), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield with_schema(server_url(), schema)
    finally:
        with psycopg.connect(server_url(), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


ENGINES = ["sqlite", "postgresql"]
"""Parametrise a storage fixture with these: every test runs on both engines."""


@pytest.fixture(params=ENGINES)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a storage test keeps its tables: a SQLite file, then a PostgreSQL schema."""
    if request.param == "sqlite":
        return str(tmp_path / "bot.db")
    return str(request.getfixturevalue("postgres_url"))
