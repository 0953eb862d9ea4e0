"""The two engines the store runs on: a SQLite file, or a PostgreSQL database (psycopg 3).

The store's SQL is written once, in what both engines understand alike (``?`` parameters,
``INSERT ... ON CONFLICT``, no rowid). A SQLite connection runs it as it is; a PostgreSQL
connection hands it to psycopg with the parameters spelled as psycopg wants them (``%s``).
psycopg has no ``?`` style and SQLite no ``%s``: translating the one character (cached per
statement) keeps one text for both and costs nothing per row.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import sqlite3
import sys
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote

from bot.storage.schema import Engine

if TYPE_CHECKING:
    import psycopg

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
CONNECT_TIMEOUT_SECONDS = 5
KEEPALIVE = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 15_000,
}
"""A connection whose server stopped answering fails within about 15 s, instead of holding
the event loop in one call until the kernel gives up (minutes): a leader cut off steps down."""


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def fetchmany(self, size: int = ..., /) -> list[Any]: ...

    @property
    def description(self) -> Any: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """What the store and its sibling modules (the outbox, the fan-out) use of a connection:
    ``sqlite3.Connection`` as it is, or :class:`PostgresConnection`."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> Cursor: ...

    @property
    def in_transaction(self) -> bool: ...

    def close(self) -> None: ...


def is_postgres(location: object) -> bool:
    return str(location).startswith(POSTGRES_SCHEMES)


def engine_of(location: object) -> Engine:
    return "postgresql" if is_postgres(location) else "sqlite"


_INLINE_PASSWORD = re.compile(r"(://[^:/?#@]*):([^?#]*)@")
_QUERY_PASSWORD = re.compile(r"([?&]password=)([^&#]*)", re.IGNORECASE)


def redact(location: object) -> str:
    """A database's place for messages: a PostgreSQL URL without its password, whether it
    is written as ``user:password@`` or as a ``password=`` parameter."""
    text = _INLINE_PASSWORD.sub(r"\1:***@", str(location))
    return _QUERY_PASSWORD.sub(r"\1***", text)


def url_password(location: object) -> str | None:
    """The password a PostgreSQL URL carries, if any (in either form)."""
    text = str(location)
    if not is_postgres(text):
        return None
    found = _INLINE_PASSWORD.search(text) or _QUERY_PASSWORD.search(text)
    return unquote(found.group(2)) if found and found.group(2) else None


@lru_cache(maxsize=512)
def _psycopg_sql(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


class PostgresConnection:
    """One psycopg connection in autocommit mode; transactions are explicit (``BEGIN``), as
    the store's are on SQLite."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.url = url
        self._conn: psycopg.Connection[tuple[Any, ...]] = psycopg.connect(
            psycopg.conninfo.make_conninfo(url, **KEEPALIVE),
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
        )

    def execute(self, sql: str, parameters: Any = (), /) -> Cursor:
        return self._conn.execute(_psycopg_sql(sql), tuple(parameters))

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> Cursor:
        cursor = self._conn.cursor()
        cursor.executemany(_psycopg_sql(sql), [tuple(p) for p in parameters])
        return cursor

    def script(self, sql: str) -> None:
        """Several statements, no parameters (the schema)."""
        self._conn.execute(sql.encode())

    @property
    def in_transaction(self) -> bool:
        from psycopg import pq

        return self._conn.info.transaction_status != pq.TransactionStatus.IDLE

    @property
    def failed(self) -> bool:
        """A statement of the open transaction failed: COMMIT would only roll it back."""
        from psycopg import pq

        return self._conn.info.transaction_status == pq.TransactionStatus.INERROR

    @property
    def closed(self) -> bool:
        return self._conn.closed

    @property
    def backend_pid(self) -> int:
        """The server process of this connection (it holds the session's advisory locks)."""
        return int(self._conn.info.backend_pid)

    def ensure_schema(self) -> str:
        """The schema the tables go in: the first of the URL's ``search_path`` is created
        when it does not exist yet (``?options=-csearch_path%3Dstaging``)."""
        row = self._conn.execute("SELECT current_schema()").fetchone()
        if row is not None and row[0] is not None:
            return str(row[0])
        from psycopg import sql

        path = self._conn.execute("SHOW search_path").fetchone()
        names = [n.strip().strip('"') for n in str(path[0] if path else "").split(",")]
        wanted = next((n for n in names if n and not n.startswith("$")), None)
        if wanted is None:
            raise ValueError("the URL's search_path names no schema to create the tables in")
        from psycopg import errors

        # Another instance starting at the same moment may create it first.
        with contextlib.suppress(errors.UniqueViolation):
            self._conn.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(wanted))
            )
        return wanted

    def namespace(self) -> str:
        """Which database and schema the connection works in: instances of one bot share
        both (another schema of the same database is another bot)."""
        row = self._conn.execute("SELECT current_database(), current_schema()").fetchone()
        if row is None:
            raise RuntimeError("PostgreSQL named no database")
        return f"{row[0]}/{row[1]}"

    def close(self) -> None:
        self._conn.close()


def lock_key(namespace: str, purpose: str) -> int:
    """A 64-bit advisory lock key for ``purpose`` in one database and schema."""
    digest = hashlib.sha256(f"ai-shock-bot/{namespace}/{purpose}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def is_database_error(exc: BaseException) -> bool:
    """An error of either engine (psycopg is looked at only when it was imported)."""
    return isinstance(exc, sqlite3.Error) or is_postgres_error(exc)


_LASTING = (
    "password authentication failed",
    "does not exist",
    "no pg_hba.conf entry",
    "permission denied",
)


def is_lasting(exc: BaseException) -> bool:
    """A failure to connect that trying again will not mend: the server refused this role,
    password or database (a server that does not answer may come back)."""
    text = str(exc)
    return is_postgres_error(exc) and any(marker in text for marker in _LASTING)


def is_postgres_error(exc: BaseException) -> bool:
    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(exc, psycopg.Error)


def explain_database_error(location: object, exc: BaseException) -> str:
    """One line a user can act on, for what the database said."""
    where = redact(location)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if is_postgres(location):
        psycopg = sys.modules.get("psycopg")
        if psycopg is not None and isinstance(exc, psycopg.OperationalError):
            return f"cannot reach the PostgreSQL database {where}: {redact(text)}"
        return f"the PostgreSQL database {where} refused a statement: {redact(text)}"
    if "locked" in text or "busy" in text:
        return f"another process holds {where} (database is locked); stop it or use another file"
    if "malformed" in text or "not a database" in text or "corrupt" in text:
        return f"the database at {where} is damaged: {text}"
    return f"cannot open database {where}: {text}"
