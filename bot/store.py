"""SQLite storage: readings, episodes, raised alerts and scan status.

One file (``[storage] path``), WAL mode, schema versioned with ``PRAGMA user_version``. Writes are
small and fast, so they run on the event loop's thread.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from bot.alerts import Alert
from bot.detect import Label, Reading, Severity
from bot.episodes import Episode

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    id INTEGER PRIMARY KEY,
    region TEXT NOT NULL,
    taken_at TEXT NOT NULL,
    data_time TEXT NOT NULL,
    label TEXT NOT NULL,
    severity TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS readings_region_time ON readings (region, taken_at);
CREATE TABLE IF NOT EXISTS episodes (
    id TEXT PRIMARY KEY,
    grp TEXT NOT NULL,
    session TEXT NOT NULL,
    direction TEXT NOT NULL,
    label TEXT NOT NULL,
    severity TEXT NOT NULL,
    opened_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    regions TEXT NOT NULL,
    quiet_readings INTEGER NOT NULL,
    quiet_since TEXT,
    closed_at TEXT
);
CREATE TABLE IF NOT EXISTS alerts (
    key TEXT PRIMARY KEY,
    episode_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    fired_at TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS scans (
    region TEXT NOT NULL,
    source TEXT NOT NULL,
    last_attempt TEXT NOT NULL,
    last_success TEXT,
    last_error TEXT,
    PRIMARY KEY (region, source)
);
"""


class StoreError(RuntimeError):
    """The database cannot be opened or has a schema this version does not know."""


@dataclass(frozen=True)
class ScanStatus:
    region: str
    source: str
    last_attempt: datetime
    last_success: datetime | None
    last_error: str | None


def _ts(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


class Store:
    """The bot's SQLite database."""

    def __init__(self, path: Path | str) -> None:
        self.path = path
        if isinstance(path, Path):
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create {path.parent}: {exc.strerror}") from None
        try:
            self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open database {path}: {exc}") from None

    def _migrate(self) -> None:
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema {version}, newer than this bot ({SCHEMA_VERSION})"
            )
        self._db.executescript(f"BEGIN;\n{_SCHEMA}\nPRAGMA user_version={SCHEMA_VERSION};\nCOMMIT;")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()

    def save_reading(self, reading: Reading, taken_at: datetime) -> None:
        self._db.execute(
            "INSERT INTO readings (region, taken_at, data_time, label, severity, body) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                reading.region,
                _ts(taken_at),
                _ts(reading.as_of),
                reading.label.value,
                str(reading.severity),
                json.dumps(reading.as_dict()),
            ),
        )

    def latest_readings(self) -> dict[str, dict[str, object]]:
        """The newest reading of each region, as stored (JSON dicts)."""
        rows = self._db.execute(
            "SELECT region, body FROM readings WHERE id IN "
            "(SELECT MAX(id) FROM readings GROUP BY region)"
        ).fetchall()
        return {region: json.loads(body) for region, body in rows}

    def save_episodes(self, episodes: Iterable[Episode]) -> None:
        with self.transaction() as db:
            for e in episodes:
                db.execute(
                    "INSERT OR REPLACE INTO episodes VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
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
                    ),
                )

    def episodes(self, *, open_only: bool = True) -> list[Episode]:
        query = "SELECT * FROM episodes"
        if open_only:
            query += " WHERE closed_at IS NULL"
        out = []
        for row in self._db.execute(query + " ORDER BY opened_at").fetchall():
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
            "INSERT OR IGNORE INTO alerts (key, episode_id, kind, fired_at, body) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                alert.key,
                alert.episode_id,
                alert.kind.value,
                _ts(alert.fired_at),
                json.dumps(alert.as_dict()),
            ),
        )
        return cursor.rowcount == 1

    def alerts(self, since: datetime | None = None) -> list[dict[str, object]]:
        rows = self._db.execute(
            "SELECT body FROM alerts WHERE fired_at >= ? ORDER BY fired_at, rowid",
            (_ts(since) or "",),
        ).fetchall()
        return [json.loads(body) for (body,) in rows]

    def record_scan(self, region: str, source: str, at: datetime, error: str | None = None) -> None:
        """Note a scan attempt; a success clears the last error."""
        self._db.execute(
            "INSERT INTO scans (region, source, last_attempt, last_success, last_error) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (region, source) DO UPDATE SET "
            "last_attempt = excluded.last_attempt, "
            "last_success = COALESCE(excluded.last_success, scans.last_success), "
            "last_error = excluded.last_error",
            (region, source, _ts(at), None if error else _ts(at), error),
        )

    def scan_status(self) -> list[ScanStatus]:
        rows = self._db.execute(
            "SELECT region, source, last_attempt, last_success, last_error FROM scans "
            "ORDER BY region, source"
        ).fetchall()
        out = []
        for region, source, attempt, success, error in rows:
            out.append(
                ScanStatus(region, source, datetime.fromisoformat(attempt), _dt(success), error)
            )
        return out
