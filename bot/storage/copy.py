"""``python -m bot copy-db``: a bot's database copied into another, a SQLite file into
PostgreSQL when a team moves to two instances (or back).

Everything that is the bot's memory goes along: chats and their settings, portfolios, digests,
episodes and raised alerts (so nothing is raised twice after the move), readings, scans, news
state and headlines, charts and the outbox with its plans. Process state (leases, instances)
stays behind. The target must hold none of it yet; both are first brought to this version's
schema.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bot.storage.engine import is_postgres
from bot.storage.store import Store, StoreError

TABLES = (
    "chats",
    "portfolios",
    "digests",
    "episodes",
    "alerts",
    "readings",
    "scans",
    "feeds",
    "news_keys",
    "headlines",
    "images",
    "outbox_bodies",
    "fanouts",
    "outbox",
)
IDENTITIES = {
    "alerts": "seq",
    "readings": "id",
    "headlines": "id",
    "images": "id",
    "outbox_bodies": "id",
    "fanouts": "seq",
    "outbox": "id",
}
"""Columns PostgreSQL numbers itself: its counters must go on after the copied rows."""
BATCH = 1000


def copy_database(
    source: Path | str, target: Path | str, progress: Callable[[str, int], None] | None = None
) -> dict[str, int]:
    """Copy every table of ``source`` into the empty ``target``; returns the rows per table.

    Raises:
        StoreError: a database cannot be opened, or the target is not empty.
    """
    if not is_postgres(source) and not Path(source).is_file():
        raise StoreError(f"{source}: no such database file")
    if str(source) == str(target):
        raise StoreError("--from and --to name the same database")
    src = Store(source)
    try:
        dst = Store(target)
    except StoreError:
        src.close()
        raise
    try:
        held = {
            table: int(dst.connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])  # noqa: S608
            for table in TABLES
        }
        full = {table: count for table, count in held.items() if count}
        if full:
            rows = ", ".join(f"{count} in {table}" for table, count in full.items())
            raise StoreError(f"{dst.path} is not empty ({rows}); copy into a new database")
        copied: dict[str, int] = {}
        # One snapshot of the source: the outbox's rows and their texts as of one moment.
        src.connection.execute(
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
            if src.engine == "postgresql"
            else "BEGIN"
        )
        with dst.transaction() as db:
            for table in TABLES:
                cursor = src.connection.execute(f"SELECT * FROM {table}")  # noqa: S608
                columns = [str(d[0]) for d in cursor.description]
                insert = (
                    f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608
                    f"VALUES ({', '.join('?' for _ in columns)})"
                )
                count = 0
                while batch := cursor.fetchmany(BATCH):
                    db.executemany(insert, batch)
                    count += len(batch)
                copied[table] = count
                if progress is not None:
                    progress(table, count)
            if dst.engine == "postgresql":
                for table, column in IDENTITIES.items():
                    db.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "  # noqa: S608
                        f"COALESCE(MAX({column}), 1), MAX({column}) IS NOT NULL) FROM {table}"
                    )
        src.connection.execute("ROLLBACK")
        return copied
    finally:
        src.close()
        dst.close()
