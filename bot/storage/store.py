"""Storage: readings, episodes, raised alerts, chats, the outbox's tables and scan status.

One SQLite file (``[storage] path``, WAL mode), or a PostgreSQL database (``[storage] url``)
that several instances share (one of them leads: bot/runtime/leadership.py). The schema is
versioned (bot/storage/schema.py) and the SQL is the same for both engines
(bot/storage/engine.py). Writes are small and fast, so they run on the event loop's thread.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

from bot.alerts import Alert, Headline
from bot.detection.detect import Label, Reading, Severity
from bot.episodes import Episode
from bot.render.i18n import Language
from bot.storage.checkpoint import Checkpointer
from bot.storage.engine import (
    Connection,
    PostgresConnection,
    explain_database_error,
    is_database_error,
    is_lasting,
    is_postgres,
    lock_key,
    redact,
)
from bot.storage.schema import (
    FIRST_POSTGRES_VERSION,
    MIGRATIONS,
    POSTGRES_V6,
    SCHEMA_VERSION,
    SQLITE_MIGRATIONS,
    SQLITE_V1,
)
from bot.storage.subscriptions import ChatSettings, QuietHours

CACHE_KIB = 32 * 1024
"""SQLite's page cache (default 2 MiB): the outbox's indexes at 50,000 chats a fan-out are
bigger, and each chunk would read them back from the file."""

Scope = Literal["live", "drill"]
"""Readings, episodes, alerts and scans of drills are kept apart from the live ones, so a
drill never suppresses a real alert; chats and news are shared."""


def _upsert(table: str, columns: Sequence[str], key: Sequence[str]) -> str:
    """Insert a row, or replace every other column of the row with the same key."""
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 - fixed names
        f"VALUES ({', '.join('?' for _ in columns)}) "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
    )


_UPSERT_EPISODE = _upsert(
    "episodes",
    [
        "id",
        "grp",
        "session",
        "direction",
        "label",
        "severity",
        "opened_at",
        "updated_at",
        "regions",
        "quiet_readings",
        "quiet_since",
        "closed_at",
        "scope",
    ],
    ("id",),
)
_UPSERT_CHAT = _upsert(
    "chats",
    [
        "platform",
        "chat_id",
        "language",
        "subscribed",
        "min_severity",
        "segments",
        "quiet",
        "disabled_reason",
        "mention_role",
        "muted_until",
        "thread_id",
        "updated_at",
    ],
    ("platform", "chat_id"),
)


class StoreError(RuntimeError):
    """The database cannot be opened or has a schema this version does not know.

    ``lasting``: trying again will not help (a wrong password, role or database name): ``run``
    stops at once instead of waiting for the database.
    """

    def __init__(self, message: str, lasting: bool = False) -> None:
        super().__init__(message)
        self.lasting = lasting


BUSY_TIMEOUT_MS = 2000


def database_fault(exc: BaseException, path: Path | str) -> str | None:
    """One line for a failure of the database at ``path`` (damaged, held by another process,
    unreadable); ``None`` for any other failure. A running bot logs the line without a
    traceback and tries again at the next run: a lock passes, a damaged file needs its
    owner."""
    if isinstance(exc, sqlite3.DatabaseError) or (
        is_database_error(exc) and not isinstance(exc, sqlite3.Error)
    ):
        return explain_database_error(path, exc)
    if isinstance(exc, StoreError):
        return str(exc)
    return None


@dataclass(frozen=True)
class ScanStatus:
    region: str
    source: str
    last_attempt: datetime
    last_success: datetime | None
    last_error: str | None


_SEVERITY_NAMES = {str(s): s for s in Severity}


SettingsRow = tuple[Any, ...]
"""A chat's settings as stored: language, subscribed, min_severity, segments, quiet,
disabled_reason, mention_role, muted_until."""


INSTANCE_SEEN_WITHIN = timedelta(seconds=30)
"""An instance whose heartbeat is older than this is no longer counted (``/status``)."""


@dataclass(frozen=True)
class Instance:
    """A bot process sharing the database: ``role`` is ``leader``, ``standby``, ``stopped``
    or ``gone`` (a leader that stopped writing its row and was replaced)."""

    owner: str
    role: str
    started_at: datetime
    heartbeat: datetime
    backend_pid: int | None = None
    drill: str | None = None
    drill_epoch: datetime | None = None
    """In a drill: the wall time its drill clock started."""


@dataclass(frozen=True)
class DigestSetting:
    """A chat's daily digest: at ``at`` in ``timezone`` (``None``: after the US close)."""

    platform: str
    chat_id: str
    at: time | None
    timezone: str
    last_day: date | None


_INSTANCE_COLUMNS = "owner, role, started_at, heartbeat, backend_pid, drill, drill_epoch"


def _instance(row: Sequence[Any]) -> Instance:
    owner, role, started, beat, pid, drill, epoch = row
    return Instance(
        owner,
        role,
        datetime.fromisoformat(started),
        datetime.fromisoformat(beat),
        pid,
        drill,
        _dt(epoch),
    )


def _positions(text: str) -> list[tuple[str, float]]:
    return [(str(symbol), float(weight)) for symbol, weight in json.loads(text)]


def chat_from_row(platform: str, chat_id: str, row: Sequence[Any]) -> ChatSettings:
    language, subscribed, severity, segments, quiet, disabled, mention, muted = row
    quiet_hours = None
    if quiet:
        q = json.loads(quiet)
        quiet_hours = QuietHours(
            time.fromisoformat(q["start"]),
            time.fromisoformat(q["end"]),
            q["timezone"],
            bool(q["critical"]),
        )
    return ChatSettings(
        platform=platform,
        chat_id=chat_id,
        language=language if language in ("en", "de") else None,
        subscribed=bool(subscribed),
        min_severity=_SEVERITY_NAMES.get(severity) or Severity.parse(severity),
        segments=() if segments == "[]" else tuple(json.loads(segments)),
        quiet=quiet_hours,
        disabled_reason=disabled,
        mention_role=mention,
        muted_until=_dt(muted),
    )


def _ts(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


class Store:
    """The bot's database: a SQLite file, or a PostgreSQL database given by its URL."""

    def __init__(self, path: Path | str, scope: Scope = "live") -> None:
        """Args:
        path: a SQLite file (``:memory:`` for none), or a ``postgresql://`` URL.
        scope: whose readings, episodes, alerts and scans these are (a drill's are apart).
        """
        self.path: Path | str = redact(path) if is_postgres(path) else path
        """Where the database is, for messages (a PostgreSQL URL without its password)."""
        self.scope: Scope = scope
        self.engine = "postgresql" if is_postgres(path) else "sqlite"
        self._checkpointer: Checkpointer | None = None
        self._db: Connection
        if self.engine == "postgresql":
            self._open_postgres(str(path))
        else:
            self._open_sqlite(path)

    def _open_sqlite(self, path: Path | str) -> None:
        if str(path) != ":memory:":
            parent = Path(path).parent
            try:
                parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create {parent}: {exc.strerror}") from None
        try:
            db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(explain_database_error(path, exc)) from None
        self._db = db
        try:
            # Another process writing waits up to this long before "database is locked".
            db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            self._migrate_sqlite(db)
            if str(path) != ":memory:":
                db.execute("PRAGMA wal_autocheckpoint=0")
                self._checkpointer = Checkpointer(path)
        except (sqlite3.DatabaseError, StoreError) as exc:
            db.close()
            if isinstance(exc, StoreError):
                raise
            raise StoreError(explain_database_error(path, exc)) from None

    def _open_postgres(self, url: str) -> None:
        try:
            db = PostgresConnection(url)
        except Exception as exc:
            if not is_database_error(exc):
                raise
            raise StoreError(explain_database_error(url, exc), is_lasting(exc)) from None
        self._db = db
        try:
            db.ensure_schema()
            self._migrate_postgres(db)
        except Exception as exc:
            db.close()
            if isinstance(exc, StoreError):
                raise
            if isinstance(exc, ValueError):
                raise StoreError(f"{redact(url)}: {exc}", lasting=True) from None
            if not is_database_error(exc):
                raise
            raise StoreError(explain_database_error(url, exc), is_lasting(exc)) from None

    def _too_new(self, version: int) -> StoreError:
        return StoreError(
            f"{self.path} has schema {version}, newer than this bot ({SCHEMA_VERSION})"
        )

    def _migrate_sqlite(self, db: sqlite3.Connection) -> None:
        (version,) = db.execute("PRAGMA user_version").fetchone()
        if version > SCHEMA_VERSION:
            raise self._too_new(version)
        if version == SCHEMA_VERSION:
            return
        steps = "".join(
            SQLITE_MIGRATIONS[v] if v in SQLITE_MIGRATIONS else MIGRATIONS[v]["sqlite"]
            for v in range(max(version, 1) + 1, SCHEMA_VERSION + 1)
        )
        schema = SQLITE_V1 if version == 0 else ""
        db.executescript(
            f"BEGIN;\n{schema}\n{steps}\nPRAGMA user_version={SCHEMA_VERSION};\nCOMMIT;"
        )

    def _migrate_postgres(self, db: PostgresConnection) -> None:
        """Create or upgrade the tables; instances starting together take turns (a lock for
        the length of the transaction)."""
        namespace = db.namespace()
        with self.transaction():
            db.execute("SELECT pg_advisory_xact_lock(?)", (lock_key(namespace, "schema"),))
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = db.execute("SELECT MAX(version) FROM schema_version").fetchone()
            version = 0 if row is None or row[0] is None else int(row[0])
            if version > SCHEMA_VERSION:
                raise self._too_new(version)
            if version == SCHEMA_VERSION:
                return
            if version < FIRST_POSTGRES_VERSION:
                db.script(POSTGRES_V6)
                version = FIRST_POSTGRES_VERSION
            for step in range(version + 1, SCHEMA_VERSION + 1):
                db.script(MIGRATIONS[step]["postgresql"])
            db.execute("DELETE FROM schema_version")
            db.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))

    @property
    def connection(self) -> Connection:
        """The open database, for sibling modules that own their own tables (the outbox)."""
        return self._db

    @property
    def postgres(self) -> PostgresConnection | None:
        """The PostgreSQL connection (``None`` on SQLite): it holds the leader's lock."""
        return self._db if isinstance(self._db, PostgresConnection) else None

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """All or nothing. Inside another transaction it joins that one (a failure anywhere
        rolls the whole back)."""
        if self._db.in_transaction:
            self._refuse_failed()
            yield self._db
            return
        # SQLite: take the write lock at once, so a transaction never fails half-way on it.
        self._db.execute("BEGIN" if self.engine == "postgresql" else "BEGIN IMMEDIATE")
        try:
            yield self._db
            self._refuse_failed()
        except BaseException:
            if not getattr(self._db, "closed", False):
                self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _refuse_failed(self) -> None:
        """On PostgreSQL a failed statement spoils its whole transaction, where SQLite undoes
        only that statement: a COMMIT would silently roll everything back. Say so instead."""
        if getattr(self._db, "failed", False):
            raise StoreError(
                f"{self.path}: a statement failed inside a transaction; nothing of it was written"
            )

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        self._db.close()  # the last connection to close checkpoints what is left

    def save_reading(self, reading: Reading, taken_at: datetime) -> None:
        self._db.execute(
            "INSERT INTO readings (scope, region, taken_at, data_time, label, severity, body) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                self.scope,
                reading.region,
                _ts(taken_at),
                _ts(reading.as_of),
                reading.label.value,
                str(reading.severity),
                json.dumps(reading.as_dict()),
            ),
        )

    def readings_between(
        self, region: str, start: datetime, end: datetime
    ) -> list[dict[str, object]]:
        """The stored readings of ``region`` whose prices date from ``start`` to ``end``
        (inclusive), oldest first, as stored (JSON dicts)."""
        rows = self._db.execute(
            "SELECT body FROM readings WHERE scope = ? AND region = ? AND data_time >= ? "
            "AND data_time <= ? ORDER BY data_time, id",
            (self.scope, region, _ts(start), _ts(end)),
        ).fetchall()
        return [json.loads(body) for (body,) in rows]

    def save_image(self, key: str, png: bytes, now: datetime) -> int:
        """Keep an image once under ``key`` (a chart of an alert in one language); returns
        its id, the first one's if the key was stored before."""
        self._db.execute(
            "INSERT INTO images (key, png, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (key, png, _ts(now)),
        )
        (image_id,) = self._db.execute("SELECT id FROM images WHERE key = ?", (key,)).fetchone()
        return int(image_id)

    def image_by_key(self, key: str) -> bytes | None:
        row = self._db.execute("SELECT png FROM images WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def image(self, image_id: int) -> bytes:
        row = self._db.execute("SELECT png FROM images WHERE id = ?", (image_id,)).fetchone()
        if row is None:
            raise KeyError(f"image {image_id} is gone")
        return bytes(row[0])

    def latest_readings(self) -> dict[str, dict[str, object]]:
        """The newest reading of each region, as stored (JSON dicts)."""
        rows = self._db.execute(
            "SELECT region, body FROM readings WHERE id IN "
            "(SELECT MAX(id) FROM readings WHERE scope = ? GROUP BY region)",
            (self.scope,),
        ).fetchall()
        return {region: json.loads(body) for region, body in rows}

    def save_episodes(self, episodes: Iterable[Episode]) -> None:
        with self.transaction() as db:
            for e in episodes:
                db.execute(
                    _UPSERT_EPISODE,
                    (
                        e.id,
                        e.group,
                        e.session.isoformat(),
                        e.direction,
                        e.label.value,
                        str(e.severity),
                        _ts(e.opened_at),
                        _ts(e.updated_at),
                        json.dumps(list(e.regions)),
                        e.quiet_readings,
                        _ts(e.quiet_since),
                        _ts(e.closed_at),
                        self.scope,
                    ),
                )

    def recent_episodes(self, today: date) -> list[Episode]:
        """What an episode book takes up: the open episodes, and the closed ones of today and
        yesterday (they keep a session's shock from opening twice)."""
        return self.episodes(open_only=False, since=today - timedelta(days=1))

    def episodes(self, *, open_only: bool = True, since: date | None = None) -> list[Episode]:
        """Open episodes; with ``open_only=False`` closed ones too, of sessions from ``since``
        on when given (open ones whatever their session)."""
        query = (
            "SELECT id, grp, session, direction, label, severity, opened_at, updated_at, "
            "regions, quiet_readings, quiet_since, closed_at FROM episodes WHERE scope = ?"
        )
        args: list[object] = [self.scope]
        if open_only:
            query += " AND closed_at IS NULL"
        elif since is not None:
            query += " AND (closed_at IS NULL OR session >= ?)"
            args.append(since.isoformat())
        out = []
        for row in self._db.execute(query + " ORDER BY opened_at", args).fetchall():
            out.append(
                Episode(
                    id=row[0],
                    group=row[1],
                    session=date.fromisoformat(row[2]),
                    direction=row[3],
                    label=Label(row[4]),
                    severity=Severity.parse(row[5]),
                    opened_at=datetime.fromisoformat(row[6]),
                    updated_at=datetime.fromisoformat(row[7]),
                    regions=tuple(json.loads(row[8])),
                    quiet_readings=row[9],
                    quiet_since=_dt(row[10]),
                    closed_at=_dt(row[11]),
                )
            )
        return out

    def record_alert(self, alert: Alert) -> bool:
        """Remember an alert; ``False`` when its key was recorded before (never send it twice)."""
        cursor = self._db.execute(
            "INSERT INTO alerts (key, episode_id, kind, fired_at, body, scope) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (
                alert.key,
                alert.episode_id,
                alert.kind.value,
                _ts(alert.fired_at),
                json.dumps(alert.as_dict()),
                self.scope,
            ),
        )
        return cursor.rowcount == 1

    def recent_alerts(self, limit: int = 10) -> list[dict[str, object]]:
        """The newest recorded alerts (``Alert.as_dict``), newest first."""
        rows = self._db.execute(
            "SELECT body FROM alerts WHERE scope = ? ORDER BY fired_at DESC, seq DESC LIMIT ?",
            (self.scope, limit),
        ).fetchall()
        return [json.loads(body) for (body,) in rows]

    def fanout_plan(self, alert_key: str, platform: str) -> tuple[str, str] | None:
        """An alert's fan-out on a platform: its audience (JSON) and status (``staging`` while
        chats are still being added, then ``staged``)."""
        row = self._db.execute(
            "SELECT audience, status FROM fanouts WHERE alert_key = ? AND platform = ?",
            (alert_key, platform),
        ).fetchone()
        return None if row is None else (str(row[0]), str(row[1]))

    def alerts(self, since: datetime | None = None) -> list[dict[str, object]]:
        rows = self._db.execute(
            "SELECT body FROM alerts WHERE scope = ? AND fired_at >= ? ORDER BY fired_at, seq",
            (self.scope, _ts(since) or ""),
        ).fetchall()
        return [json.loads(body) for (body,) in rows]

    def chat(self, platform: str, chat_id: str) -> ChatSettings:
        """The chat's settings (defaults for a chat never seen)."""
        row = self._db.execute(
            "SELECT language, subscribed, min_severity, segments, quiet, disabled_reason, "
            "mention_role, muted_until, thread_id, updated_at FROM chats "
            "WHERE platform = ? AND chat_id = ?",
            (platform, chat_id),
        ).fetchone()
        if row is None:
            return ChatSettings(platform, chat_id)
        chat = replace(chat_from_row(platform, chat_id, row[:-2]), thread_id=row[-2])
        if chat.disabled_reason is not None:
            chat = replace(chat, disabled_at=_dt(row[-1]))
        return chat

    def thread_of(self, platform: str, chat_id: str) -> str | None:
        """The forum topic a chat's alerts go to (``None``: the chat itself)."""
        row = self._db.execute(
            "SELECT thread_id FROM chats WHERE platform = ? AND chat_id = ?",
            (platform, chat_id),
        ).fetchone()
        return None if row is None else row[0]

    def chat_language(self, platform: str, chat_id: str) -> Language | None:
        return self.chat(platform, chat_id).language

    def save_chat(self, chat: ChatSettings, now: datetime) -> None:
        quiet = None
        if chat.quiet is not None:
            quiet = json.dumps(
                {
                    "start": chat.quiet.start.strftime("%H:%M"),
                    "end": chat.quiet.end.strftime("%H:%M"),
                    "timezone": chat.quiet.timezone,
                    "critical": chat.quiet.critical_breaks_through,
                }
            )
        self._db.execute(
            _UPSERT_CHAT,
            (
                chat.platform,
                chat.chat_id,
                chat.language,
                int(chat.subscribed),
                str(chat.min_severity),
                json.dumps(list(chat.segments)),
                quiet,
                chat.disabled_reason,
                chat.mention_role,
                _ts(chat.muted_until),
                chat.thread_id,
                _ts(now),
            ),
        )

    def subscribed_chats(self, platform: str) -> list[ChatSettings]:
        """Active subscriptions of a platform (disabled ones left out)."""
        rows = self._db.execute(
            "SELECT chat_id, language, subscribed, min_severity, segments, quiet, "
            "disabled_reason, mention_role, muted_until FROM chats WHERE platform = ? "
            "AND subscribed = 1 "
            "AND disabled_reason IS NULL ORDER BY chat_id",
            (platform,),
        ).fetchall()
        return [chat_from_row(platform, row[0], row[1:]) for row in rows]

    def subscription_rows_after(
        self, platform: str, after: str, limit: int
    ) -> list[tuple[str, SettingsRow]]:
        """Up to ``limit`` active subscriptions with ids after ``after``, in id order (one page
        of a fan-out), as stored: chats with the same settings have equal rows, so a fan-out
        parses and judges each distinct row once (:func:`chat_from_row`)."""
        rows = self._db.execute(
            "SELECT chat_id, language, subscribed, min_severity, segments, quiet, "
            "disabled_reason, mention_role, muted_until FROM chats WHERE platform = ? "
            "AND chat_id > ? AND subscribed = 1 AND disabled_reason IS NULL "
            "ORDER BY chat_id LIMIT ?",
            (platform, after, limit),
        ).fetchall()
        return [(row[0], row[1:]) for row in rows]

    def disable_chat(self, platform: str, chat_id: str, reason: str, now: datetime) -> None:
        """Stop delivering to a chat that can no longer be reached (blocked, kicked, gone)."""
        self._db.execute(
            "UPDATE chats SET disabled_reason = ?, updated_at = ? "
            "WHERE platform = ? AND chat_id = ?",
            (reason, _ts(now), platform, chat_id),
        )

    def migrate_chat(self, platform: str, old_id: str, new_id: str, now: datetime) -> None:
        """Move a chat's settings (saved portfolio, digest) to its new id (a Telegram group
        became a supergroup). What was already set under the new id stays: the old id's
        settings are then dropped, never written over it."""
        with self.transaction() as db:
            db.execute(
                "UPDATE chats SET chat_id = ?, updated_at = ? WHERE platform = ? AND chat_id = ? "
                "AND NOT EXISTS (SELECT 1 FROM chats c WHERE c.platform = ? AND c.chat_id = ?)",
                (new_id, _ts(now), platform, old_id, platform, new_id),
            )
            db.execute("DELETE FROM chats WHERE platform = ? AND chat_id = ?", (platform, old_id))
            for table in ("portfolios", "digests"):
                db.execute(
                    f"UPDATE {table} SET chat_id = ? "  # noqa: S608 - a fixed name
                    "WHERE platform = ? AND chat_id = ? AND NOT EXISTS "
                    f"(SELECT 1 FROM {table} t WHERE t.platform = ? AND t.chat_id = ?)",
                    (new_id, platform, old_id, platform, new_id),
                )
                db.execute(
                    f"DELETE FROM {table} WHERE platform = ? AND chat_id = ?",  # noqa: S608
                    (platform, old_id),
                )

    def set_digest(
        self, platform: str, chat_id: str, at: time | None, timezone: str, now: datetime
    ) -> None:
        """A daily digest for the chat: at ``at`` in ``timezone``, or (``None``) after the US
        close. A digest already sent today stays sent."""
        self._db.execute(
            "INSERT INTO digests (platform, chat_id, at, timezone, updated_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (platform, chat_id) DO UPDATE SET "
            "at = excluded.at, timezone = excluded.timezone, updated_at = excluded.updated_at",
            (platform, chat_id, at.strftime("%H:%M") if at else None, timezone, _ts(now)),
        )

    def clear_digest(self, platform: str, chat_id: str) -> bool:
        cursor = self._db.execute(
            "DELETE FROM digests WHERE platform = ? AND chat_id = ?", (platform, chat_id)
        )
        return cursor.rowcount > 0

    def digest(self, platform: str, chat_id: str) -> DigestSetting | None:
        found = self.digests(platform, chat_id)
        return found[0] if found else None

    def digests(
        self, platform: str | None = None, chat_id: str | None = None
    ) -> list[DigestSetting]:
        """Every chat's digest setting (chats that are disabled are left out), or one chat's."""
        rows = self._db.execute(
            "SELECT d.platform, d.chat_id, d.at, d.timezone, d.last_day FROM digests d "
            "LEFT JOIN chats c ON c.platform = d.platform AND c.chat_id = d.chat_id "
            "WHERE c.disabled_reason IS NULL "
            "AND (CAST(? AS TEXT) IS NULL OR (d.platform = ? AND d.chat_id = ?)) "
            "ORDER BY d.platform, d.chat_id",
            (platform, platform, chat_id),
        ).fetchall()
        return [
            DigestSetting(
                platform,
                chat_id,
                time.fromisoformat(at) if at else None,
                timezone,
                date.fromisoformat(last) if last else None,
            )
            for platform, chat_id, at, timezone, last in rows
        ]

    def mark_digest_sent(self, platform: str, chat_id: str, day: date) -> None:
        self._db.execute(
            "UPDATE digests SET last_day = ? WHERE platform = ? AND chat_id = ?",
            (day.isoformat(), platform, chat_id),
        )

    def save_portfolio(
        self, platform: str, chat_id: str, positions: Sequence[tuple[str, float]], now: datetime
    ) -> None:
        """Keep a chat's portfolio (symbols and weights that sum to 1), replacing the last."""
        self._db.execute(
            "INSERT INTO portfolios (platform, chat_id, positions, updated_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (platform, chat_id) DO UPDATE SET "
            "positions = excluded.positions, updated_at = excluded.updated_at",
            (platform, chat_id, json.dumps([[s, w] for s, w in positions]), _ts(now)),
        )

    def portfolio(self, platform: str, chat_id: str) -> list[tuple[str, float]] | None:
        row = self._db.execute(
            "SELECT positions FROM portfolios WHERE platform = ? AND chat_id = ?",
            (platform, chat_id),
        ).fetchone()
        return None if row is None else _positions(row[0])

    def clear_portfolio(self, platform: str, chat_id: str) -> bool:
        cursor = self._db.execute(
            "DELETE FROM portfolios WHERE platform = ? AND chat_id = ?", (platform, chat_id)
        )
        return cursor.rowcount > 0

    def subscribed_portfolios(self) -> list[tuple[str, str, Language, list[tuple[str, float]]]]:
        """(platform, chat, language, positions) of every active subscription with a saved
        portfolio."""
        rows = self._db.execute(
            "SELECT p.platform, p.chat_id, c.language, p.positions FROM portfolios p "
            "JOIN chats c ON c.platform = p.platform AND c.chat_id = p.chat_id "
            "WHERE c.subscribed = 1 AND c.disabled_reason IS NULL ORDER BY p.platform, p.chat_id"
        ).fetchall()
        return [
            (platform, chat_id, "de" if language == "de" else "en", _positions(positions))
            for platform, chat_id, language, positions in rows
        ]

    def save_headlines(self, headlines: Iterable[Headline], seen_at: datetime) -> None:
        """Store matched headlines (only items naming an instrument or a theme are kept)."""
        with self.transaction() as db:
            for h in headlines:
                db.execute(
                    "INSERT INTO headlines (feed, title, link, published, seen_at, symbols, "
                    "themes) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        h.feed,
                        h.title,
                        h.link,
                        _ts(h.published),
                        _ts(seen_at),
                        json.dumps(list(h.symbols)),
                        json.dumps(list(h.themes)),
                    ),
                )

    def recent_headlines(
        self, *, since: datetime | None = None, until: datetime | None = None, limit: int = 200
    ) -> list[Headline]:
        """Headlines seen in a time range, newest first."""
        rows = self._db.execute(
            "SELECT feed, title, link, published, symbols, themes FROM headlines "
            "WHERE seen_at >= ? AND seen_at <= ? ORDER BY COALESCE(published, seen_at) DESC, "
            "id DESC LIMIT ?",
            (_ts(since) or "", _ts(until) or "9999", limit),
        ).fetchall()
        return [
            Headline(
                title,
                feed,
                link,
                _dt(published),
                tuple(json.loads(symbols)),
                tuple(json.loads(themes)),
            )
            for feed, title, link, published, symbols, themes in rows
        ]

    def news_keys(self) -> list[str]:
        """Every dedupe key seen so far (a restart reloads them)."""
        return [key for (key,) in self._db.execute("SELECT key FROM news_keys").fetchall()]

    def add_news_keys(self, keys: Iterable[str], seen_at: datetime) -> None:
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO news_keys (key, seen_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                [(key, _ts(seen_at)) for key in keys],
            )

    def feed_state(self, name: str) -> dict[str, object] | None:
        row = self._db.execute("SELECT state FROM feeds WHERE name = ?", (name,)).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def save_feed_state(self, name: str, state: dict[str, object]) -> None:
        self._db.execute(
            "INSERT INTO feeds (name, state) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET state = excluded.state",
            (name, json.dumps(state)),
        )

    def feed_states(self) -> dict[str, dict[str, object]]:
        rows = self._db.execute("SELECT name, state FROM feeds ORDER BY name").fetchall()
        return {name: dict(json.loads(state)) for name, state in rows}

    def prune(self, before: datetime) -> dict[str, int]:
        """Delete what is only history: finished outbox rows, readings, headlines and news
        keys older than ``before``. Chats, episodes and raised alerts stay (alerts are the
        memory that keeps an alert from going out twice)."""
        cutoff = _ts(before)
        deleted: dict[str, int] = {}
        with self.transaction() as db:
            deleted["outbox"] = db.execute(
                "DELETE FROM outbox WHERE created_at < ? AND status IN ('sent', 'failed', "
                "'dropped')",
                (cutoff,),
            ).rowcount
            deleted["fanouts"] = db.execute(
                "DELETE FROM fanouts WHERE created_at < ? AND status = 'staged'", (cutoff,)
            ).rowcount
            deleted["outbox_bodies"] = db.execute(
                "DELETE FROM outbox_bodies WHERE created_at < ? AND NOT EXISTS "
                "(SELECT 1 FROM outbox WHERE outbox.platform = outbox_bodies.platform "
                "AND outbox.status IN ('pending', 'sending') "
                "AND outbox.body_id = outbox_bodies.id) AND NOT EXISTS "
                "(SELECT 1 FROM fanouts WHERE fanouts.alert_key = outbox_bodies.alert_key "
                "AND fanouts.platform = outbox_bodies.platform AND fanouts.status = 'staging')",
                (cutoff,),
            ).rowcount
            deleted["images"] = db.execute(
                "DELETE FROM images WHERE created_at < ? AND NOT EXISTS "
                "(SELECT 1 FROM outbox_bodies WHERE outbox_bodies.image_id = images.id)",
                (cutoff,),
            ).rowcount
            deleted["readings"] = db.execute(
                "DELETE FROM readings WHERE taken_at < ?", (cutoff,)
            ).rowcount
            deleted["headlines"] = db.execute(
                "DELETE FROM headlines WHERE seen_at < ?", (cutoff,)
            ).rowcount
            deleted["news_keys"] = db.execute(
                "DELETE FROM news_keys WHERE seen_at < ?", (cutoff,)
            ).rowcount
        return deleted

    def take_lease(self, name: str, owner: str, now: datetime, ttl: timedelta) -> str | None:
        """Take or renew the lease ``name`` until ``now + ttl``; returns ``None`` when held,
        else the other holder (its lease has not expired yet)."""
        with self.transaction() as db:
            # One statement takes a free or expired lease, or renews our own; two processes
            # racing for it cannot both win.
            taken = db.execute(
                "INSERT INTO leases (name, owner, expires) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, "
                "expires = excluded.expires WHERE leases.owner = excluded.owner "
                "OR leases.expires <= ?",
                (name, owner, _ts(now + ttl), _ts(now)),
            ).rowcount
            if taken:
                return None
            row = db.execute("SELECT owner FROM leases WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def release_lease(self, name: str, owner: str) -> None:
        self._db.execute("DELETE FROM leases WHERE name = ? AND owner = ?", (name, owner))

    def record_scan(self, region: str, source: str, at: datetime, error: str | None = None) -> None:
        """Note a scan attempt; a success clears the last error."""
        self._db.execute(
            "INSERT INTO scans (scope, region, source, last_attempt, last_success, last_error) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (scope, region, source) DO UPDATE SET "
            "last_attempt = excluded.last_attempt, "
            "last_success = COALESCE(excluded.last_success, scans.last_success), "
            "last_error = excluded.last_error",
            (self.scope, region, source, _ts(at), None if error is not None else _ts(at), error),
        )

    def scan_status(self) -> list[ScanStatus]:
        rows = self._db.execute(
            "SELECT region, source, last_attempt, last_success, last_error FROM scans "
            "WHERE scope = ? ORDER BY region, source",
            (self.scope,),
        ).fetchall()
        out = []
        for region, source, attempt, success, error in rows:
            out.append(
                ScanStatus(region, source, datetime.fromisoformat(attempt), _dt(success), error)
            )
        return out

    def database_now(self) -> datetime:
        """The time by the database server's clock (PostgreSQL), or this machine's (SQLite):
        instances on several machines compare their heartbeats on one clock."""
        if self.engine != "postgresql":
            return datetime.now(UTC)
        (now,) = self._db.execute("SELECT clock_timestamp()").fetchone()
        return now.astimezone(UTC)  # type: ignore[no-any-return]

    def note_instance(self, instance: Instance) -> None:
        """Write this process's row of the instances sharing the database."""
        self._db.execute(
            "INSERT INTO instances (owner, role, started_at, heartbeat, backend_pid, drill, "
            "drill_epoch) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (owner) DO UPDATE SET "
            "role = excluded.role, heartbeat = excluded.heartbeat, "
            "backend_pid = excluded.backend_pid, drill = excluded.drill, "
            "drill_epoch = excluded.drill_epoch",
            (
                instance.owner,
                instance.role,
                _ts(instance.started_at),
                _ts(instance.heartbeat),
                instance.backend_pid,
                instance.drill,
                _ts(instance.drill_epoch),
            ),
        )

    def instances(self, seen_since: datetime | None = None) -> list[Instance]:
        """The instances that wrote their row since ``seen_since``, leader first."""
        rows = self._db.execute(
            f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE heartbeat >= ? "  # noqa: S608
            "ORDER BY CASE role WHEN 'leader' THEN 0 ELSE 1 END, heartbeat DESC, owner",
            (_ts(seen_since) or "",),
        ).fetchall()
        return [_instance(row) for row in rows]

    def take_over(self, me: Instance, forget_before: datetime) -> Instance | None:
        """``me`` becomes the leader: the last leader's row says it is gone, its sender leases
        go (it is dead or cut off from the database), and rows unseen since ``forget_before``
        are deleted. Returns the last leader's row, which may be ``me`` leading again after a
        lost connection (a drill may continue on its clock)."""
        with self.transaction() as db:
            row = db.execute(
                f"SELECT {_INSTANCE_COLUMNS} FROM instances "  # noqa: S608
                "WHERE role IN ('leader', 'stopped') ORDER BY heartbeat DESC LIMIT 1"
            ).fetchone()
            db.execute(
                "UPDATE instances SET role = 'gone' WHERE role = 'leader' AND owner <> ?",
                (me.owner,),
            )
            db.execute("DELETE FROM leases WHERE owner <> ?", (me.owner,))
            db.execute("DELETE FROM instances WHERE heartbeat < ?", (_ts(forget_before),))
            self.note_instance(me)
        return None if row is None else _instance(row)
