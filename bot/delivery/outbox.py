"""The delivery queue: one stored row per message to one chat, written before it is sent.

Each row carries an idempotency key (alert, platform, chat, part), so an alert enqueued twice
(a restart, a second sink) yields one row. A row points to its text in ``outbox_bodies``: an
alert's text is stored once per language and part, not once per chat. Rows move
``pending -> sending -> sent``; a crash between the send and the ``sent`` mark leaves the row
``sending`` and it is sent again on restart: at most one duplicate per message in flight at
the crash (docs/delivery.md).
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

from bot.storage.store import Store

OPEN_STATUSES = ("pending", "sending")
ALL_ROWS = 2**62


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
    part: int = 0


class Body(NamedTuple):
    """What one message says: a text, or an image with the text as its caption; ``buttons``:
    a keyboard under it (JSON, :mod:`bot.render.buttons`); ``edit_of``: not a message but a
    status line added to the first message of that episode (its alert-key prefix)."""

    text: str
    image_id: int | None = None
    buttons: str | None = None
    edit_of: str | None = None


class QueuedRow(NamedTuple):
    """A message row as the fan-out writes it: its text is already stored (``body_id``).
    A named tuple: a fan-out makes 50,000 of them, at a third of a frozen dataclass's cost."""

    key: str
    chat_id: str
    is_group: bool
    alert_key: str
    part: int
    severity: int
    body_id: int


@dataclass(frozen=True)
class QueuedMessage:
    id: int
    key: str
    platform: str
    chat_id: str
    is_group: bool
    alert_key: str
    severity: int
    body_id: int
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
        with self.store.transaction():
            bodies: dict[tuple[str, str, str], int] = {}
            rows: dict[str, list[QueuedRow]] = {}
            for m in messages:
                body = (m.platform, m.alert_key, m.text)
                if body not in bodies:
                    label = "text " + hashlib.sha256(m.text.encode()).hexdigest()[:20]
                    bodies[body] = self.add_body(m.alert_key, m.platform, label, 0, m.text, now)
                row = QueuedRow(
                    m.key, m.chat_id, m.is_group, m.alert_key, m.part, m.severity, bodies[body]
                )
                rows.setdefault(m.platform, []).append(row)
            return sum(self.add_rows(platform, batch, now) for platform, batch in rows.items())

    def add_body(
        self,
        alert_key: str,
        platform: str,
        language: str,
        part: int,
        text: str,
        now: datetime,
        image_id: int | None = None,
        buttons: str | None = None,
        edit_of: str | None = None,
    ) -> int:
        """Store one text of an alert (once: the same alert, language and part keep their
        first text); ``image_id``: the part is that image with ``text`` as its caption;
        ``buttons``: a keyboard under it; ``edit_of``: the part edits that episode's first
        message instead (see :class:`Body`). Returns its id."""
        self.db.execute(
            "INSERT INTO outbox_bodies (alert_key, platform, language, part, text, "
            "created_at, image_id, buttons, edit_of) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            (alert_key, platform, language, part, text, _ts(now), image_id, buttons, edit_of),
        )
        (body_id,) = self.db.execute(
            "SELECT id FROM outbox_bodies WHERE alert_key = ? AND platform = ? AND language = ? "
            "AND part = ?",
            (alert_key, platform, language, part),
        ).fetchone()
        return int(body_id)

    def bodies(self, alert_key: str, platform: str) -> dict[str, list[int]]:
        """The body ids of an alert's texts by language, in part order."""
        rows = self.db.execute(
            "SELECT language, id FROM outbox_bodies WHERE alert_key = ? AND platform = ? "
            "ORDER BY language, part",
            (alert_key, platform),
        ).fetchall()
        out: dict[str, list[int]] = {}
        for language, body_id in rows:
            out.setdefault(language, []).append(int(body_id))
        return out

    def text(self, body_id: int) -> str:
        return self.body(body_id).text

    def body(self, body_id: int) -> Body:
        """A message's text and, for a photo part, its image's id."""
        row = self.db.execute(
            "SELECT text, image_id, buttons, edit_of FROM outbox_bodies WHERE id = ?", (body_id,)
        ).fetchone()
        if row is None:
            raise KeyError(f"outbox text {body_id} is gone")
        return Body(str(row[0]), None if row[1] is None else int(row[1]), row[2], row[3])

    def add_rows(self, platform: str, rows: Sequence[QueuedRow], now: datetime) -> int:
        """Store message rows whose texts are stored; a message stored before (the same
        platform, chat, alert and part) is left as it is. Returns how many were new."""
        at = _ts(now)
        values = (
            (
                *(r.key, platform, r.chat_id, int(r.is_group), r.alert_key, r.part),
                *(r.severity, r.body_id, at, at),
            )
            for r in rows
        )
        with self.store.transaction() as db:
            return db.executemany(
                "INSERT INTO outbox (key, platform, chat_id, is_group, alert_key, part, "
                "severity, body_id, created_at, not_before) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                values,
            ).rowcount

    def open_messages(
        self, platform: str, after_id: int = 0, limit: int = -1
    ) -> list[QueuedMessage]:
        """Messages still to send (``sending`` ones were interrupted by a crash), oldest first;
        at most ``limit`` (-1: all)."""
        # Both engines take a limit this large as none (SQLite's -1 is an error elsewhere).
        limit = limit if limit >= 0 else ALL_ROWS
        # One ordered walk of the (platform, status, id) index per status, merged: a single
        # query over both statuses sorts every open row for each page.
        per_status = [
            self.db.execute(
                "SELECT id, key, platform, chat_id, is_group, alert_key, severity, body_id, "
                "created_at, not_before, attempts, status FROM outbox WHERE platform = ? "
                "AND status = ? AND id > ? ORDER BY id LIMIT ?",
                (platform, status, after_id, limit),
            ).fetchall()
            for status in OPEN_STATUSES
        ]
        rows = list(heapq.merge(*per_status))
        if limit >= 0:
            rows = rows[:limit]
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

    def mark_sent(self, message_id: int, at: datetime, platform_id: str | None = None) -> None:
        """``platform_id``: the platform's id of the message (for replies and edits)."""
        self.db.execute(
            "UPDATE outbox SET status = 'sent', sent_at = ?, last_error = NULL, "
            "message_id = COALESCE(?, message_id) WHERE id = ?",
            (_ts(at), platform_id, message_id),
        )

    def first_message(
        self, platform: str, chat_id: str, episode_prefix: str
    ) -> tuple[str, int] | None:
        """The platform id and body of the first message an episode's opening alert put in a
        chat (``None``: the chat did not get it, or it was not sent yet)."""
        opening = f"{episode_prefix}:open:"
        row = self.db.execute(
            "SELECT message_id, body_id FROM outbox WHERE platform = ? AND chat_id = ? "
            "AND alert_key >= ? AND alert_key < ? AND part = 0 AND message_id IS NOT NULL "
            "ORDER BY id LIMIT 1",
            (platform, chat_id, opening, opening + "\U0010ffff"),
        ).fetchone()
        return None if row is None else (str(row[0]), int(row[1]))

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

    def move_chat(self, platform: str, old_id: str, new_id: str) -> set[int]:
        """A migrated chat's messages follow it to its new id: open ones to be sent there, sent
        ones so that a recovery still finds the chat that heard the shock. A message the new id
        already has (the group was subscribed again under it) stays there once: the old copy is
        dropped. Returns the ids of the dropped copies."""
        with self.store.transaction() as db:
            db.execute(
                "UPDATE outbox SET status = 'pending' WHERE platform = ? AND chat_id = ? "
                "AND status = 'sending'",
                (platform, old_id),
            )
            db.execute(
                "UPDATE outbox SET chat_id = ? WHERE platform = ? AND chat_id = ? "
                "AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.platform = outbox.platform "
                "AND o.chat_id = ? AND o.alert_key = outbox.alert_key AND o.part = outbox.part)",
                (new_id, platform, old_id, new_id),
            )
            left = [
                int(row_id)
                for (row_id,) in db.execute(
                    "SELECT id FROM outbox WHERE platform = ? AND chat_id = ? "
                    "AND status IN ('pending', 'sending')",
                    (platform, old_id),
                )
            ]
            db.executemany(
                "UPDATE outbox SET status = 'dropped', last_error = ? WHERE id = ?",
                [(f"the chat moved to {new_id}, which has this message already", i) for i in left],
            )
        return set(left)

    def chats_heard(self, platform: str, key_prefix: str, first: str, last: str) -> set[str]:
        """Chats with ids from ``first`` to ``last`` given (or due) a message of an alert whose
        key starts with ``key_prefix``: a range of the (platform, chat, alert) index."""
        rows = self.db.execute(
            "SELECT DISTINCT chat_id FROM outbox WHERE platform = ? AND chat_id >= ? "
            "AND chat_id <= ? AND alert_key >= ? AND alert_key < ? "
            "AND status IN ('pending', 'sending', 'sent')",
            (platform, first, last, key_prefix, key_prefix + "\U0010ffff"),
        ).fetchall()
        return {chat_id for (chat_id,) in rows}

    def waiting(self, now: datetime) -> dict[str, tuple[int, float]]:
        """Per platform: messages not sent yet, and how long the oldest one that is due (not
        held back for a retry) has waited, in seconds."""
        rows = self.db.execute(
            "SELECT platform, COUNT(*), MIN(CASE WHEN not_before <= ? THEN created_at END) "
            "FROM outbox WHERE status IN ('pending', 'sending') GROUP BY platform",
            (_ts(now),),
        ).fetchall()
        return {
            platform: (
                int(count),
                (now - datetime.fromisoformat(oldest)).total_seconds() if oldest else 0.0,
            )
            for platform, count, oldest in rows
        }

    def chat_outcomes(
        self, platform: str, chat_id: str, alert_keys: Sequence[str]
    ) -> dict[str, tuple[str, datetime | None, str | None]]:
        """What became of each alert's messages to one chat: the worst status of its parts
        (failed, dropped, pending, sending, sent), the last send time and the last error."""
        order = {"failed": 0, "dropped": 1, "pending": 2, "sending": 3, "sent": 4}
        out: dict[str, tuple[str, datetime | None, str | None]] = {}
        for key in alert_keys:
            rows = self.db.execute(
                "SELECT status, sent_at, last_error FROM outbox WHERE platform = ? "
                "AND chat_id = ? AND alert_key = ?",
                (platform, chat_id, key),
            ).fetchall()
            if not rows:
                continue
            status, _, error = min(rows, key=lambda r: order.get(r[0], 0))
            sent = [datetime.fromisoformat(r[1]) for r in rows if r[1]]
            out[key] = (str(status), max(sent) if sent else None, error)
        return out

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
