"""The delivery queue: one stored row per message to one chat, written before it is sent.

Each row carries an idempotency key (alert, platform, chat, part), so an alert enqueued twice
(a restart, a second sink) yields one row. Rows move ``pending -> sending -> sent``; a crash
between the send and the ``sent`` mark leaves the row ``sending`` and it is sent again on
restart: at most one duplicate per message in flight at the crash (the sender keeps one in
flight per platform by default).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.storage.store import Store

OPEN_STATUSES = ("pending", "sending")


@dataclass(frozen=True)
class NewMessage:
    """A message to enqueue."""

    key: str
    platform: str
    chat_id: str
    is_group: bool
    alert_key: str
    severity: int
    text: str


@dataclass(frozen=True)
class QueuedMessage:
    id: int
    key: str
    platform: str
    chat_id: str
    is_group: bool
    alert_key: str
    severity: int
    text: str
    created_at: datetime
    not_before: datetime
    attempts: int
    status: str


def _ts(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


class Outbox:
    """The ``outbox`` table of the bot's database."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.connection  # the table is part of the store's versioned schema

    def enqueue(self, messages: Sequence[NewMessage], now: datetime) -> int:
        """Store messages not stored before (by key); returns how many were new."""
        at = _ts(now)
        rows = (
            (m.key, m.platform, m.chat_id, int(m.is_group), m.alert_key, m.severity, m.text, at, at)
            for m in messages
        )
        with self.store.transaction() as db:
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO outbox (key, platform, chat_id, is_group, alert_key, "
                "severity, text, created_at, not_before) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            return db.total_changes - before

    def open_messages(self, platform: str, after_id: int = 0) -> list[QueuedMessage]:
        """Messages still to send (``sending`` ones were interrupted by a crash), oldest first."""
        rows = self.db.execute(
            "SELECT id, key, platform, chat_id, is_group, alert_key, severity, text, created_at, "
            "not_before, attempts, status FROM outbox WHERE platform = ? AND id > ? "
            "AND status IN ('pending', 'sending') ORDER BY id",
            (platform, after_id),
        ).fetchall()
        return [
            QueuedMessage(
                r[0],
                r[1],
                r[2],
                r[3],
                bool(r[4]),
                r[5],
                r[6],
                r[7],
                datetime.fromisoformat(r[8]),
                datetime.fromisoformat(r[9]),
                r[10],
                r[11],
            )
            for r in rows
        ]

    def mark_sending(self, message_id: int) -> None:
        self.db.execute("UPDATE outbox SET status = 'sending' WHERE id = ?", (message_id,))

    def mark_sent(self, message_id: int, at: datetime) -> None:
        self.db.execute(
            "UPDATE outbox SET status = 'sent', sent_at = ?, last_error = NULL WHERE id = ?",
            (_ts(at), message_id),
        )

    def reschedule(self, message_id: int, not_before: datetime, attempts: int, error: str) -> None:
        self.db.execute(
            "UPDATE outbox SET status = 'pending', not_before = ?, attempts = ?, last_error = ? "
            "WHERE id = ?",
            (_ts(not_before), attempts, error[:500], message_id),
        )

    def fail(self, message_id: int, error: str) -> None:
        """Give up on one message (permanent error, or too many attempts)."""
        self.db.execute(
            "UPDATE outbox SET status = 'failed', last_error = ? WHERE id = ?",
            (error[:500], message_id),
        )

    def drop_chat(self, platform: str, chat_id: str, reason: str) -> int:
        """Drop every open message of a chat that can no longer be reached."""
        cursor = self.db.execute(
            "UPDATE outbox SET status = 'dropped', last_error = ? WHERE platform = ? "
            "AND chat_id = ? AND status IN ('pending', 'sending')",
            (reason[:500], platform, chat_id),
        )
        return cursor.rowcount

    def move_chat(self, platform: str, old_id: str, new_id: str) -> None:
        """Open messages of a migrated chat follow it to its new id."""
        self.db.execute(
            "UPDATE outbox SET chat_id = ?, status = 'pending' WHERE platform = ? "
            "AND chat_id = ? AND status IN ('pending', 'sending')",
            (new_id, platform, old_id),
        )

    def chats_with_alert(self, platform: str, key_prefix: str) -> set[str]:
        """Chats given (or due) a message of an alert whose key starts with ``key_prefix``:
        one range scan of the (platform, alert_key) index, whatever the number of chats."""
        rows = self.db.execute(
            "SELECT DISTINCT chat_id FROM outbox WHERE platform = ? AND alert_key >= ? "
            "AND alert_key < ? AND status IN ('pending', 'sending', 'sent')",
            (platform, key_prefix, key_prefix + "\U0010ffff"),
        ).fetchall()
        return {chat_id for (chat_id,) in rows}

    def counts(self, platform: str) -> dict[str, int]:
        rows = self.db.execute(
            "SELECT status, COUNT(*) FROM outbox WHERE platform = ? GROUP BY status", (platform,)
        ).fetchall()
        return dict(rows)

    def latencies(self, platform: str) -> list[float]:
        """Seconds from enqueue to send of every sent message."""
        rows = self.db.execute(
            "SELECT created_at, sent_at FROM outbox WHERE platform = ? AND status = 'sent'",
            (platform,),
        ).fetchall()
        return [
            (datetime.fromisoformat(s) - datetime.fromisoformat(c)).total_seconds() for c, s in rows
        ]
