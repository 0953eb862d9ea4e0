"""An alert's fan-out to every chat that wants it, in chunks that never hold the event loop.

Staging an alert writes, in the transaction that records the alert, its texts (once per
language and part) and a *plan*: who the alert is for (:class:`Audience`) and, for a recovery,
whose chats heard the shock. The sender expands plans into outbox rows a chunk of chats at a
time, each chunk its own short transaction that also moves the plan's cursor. A plan is never
lost (it is written with the alert), a restart resumes it at its cursor, and a chunk written
twice adds nothing (rows are keyed by alert, platform, chat and part).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.delivery.outbox import Outbox, QueuedRow
from bot.metrics import SUPPRESSED
from bot.storage.store import SettingsRow, Store, chat_from_row
from bot.storage.subscriptions import Audience

log = logging.getLogger(__name__)

PERSONAL_PREFIX = "chat:"


def personal_key(chat_id: str) -> str:
    """Where a chat's own copy of an alert is kept among the alert's texts (instead of a
    language): a chat with a saved portfolio gets that copy."""
    return PERSONAL_PREFIX + chat_id


CHUNK_CHATS = 500
"""Chats per chunk: about 10 ms of work (docs/benchmarks.md, outbox at 50,000 chats)."""


@dataclass(frozen=True)
class Plan:
    alert_key: str
    audience: Audience
    heard_prefix: str | None
    after_chat: str
    added: int


def _ts(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


class FanOut:
    """The fan-out plans of one platform."""

    def __init__(
        self,
        platform: str,
        outbox: Outbox,
        store: Store,
        is_group: Callable[[str], bool],
        chunk: int = CHUNK_CHATS,
    ) -> None:
        self.platform = platform
        self.outbox = outbox
        self.store = store
        self.is_group = is_group
        self.chunk = chunk
        self._open: bool | None = None  # None: not known, look in the database

    def plan(
        self,
        alert_key: str,
        audience: Audience,
        texts: Mapping[str, Sequence[str]],
        heard_prefix: str | None,
        now: datetime,
        photos: Mapping[str, tuple[int, str]] | None = None,
        buttons: Mapping[str, str] | None = None,
        story: tuple[str, Mapping[str, str]] | None = None,
    ) -> bool:
        """Store an alert's texts (by language) and its plan, inside the caller's transaction;
        ``False`` if the alert was planned before. ``photos``: per language, a stored image
        and its caption, sent after the texts; ``buttons``: per language, the keyboard under
        the last text; ``story``: an episode's prefix and, per language, the status line this
        alert adds to the episode's first message in each chat (an edit, after the rest)."""
        with self.store.transaction() as db:
            cursor = db.execute(
                "INSERT INTO fanouts (alert_key, platform, audience, heard_prefix, "
                "created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (alert_key, self.platform, audience.to_json(), heard_prefix, _ts(now)),
            )
            if cursor.rowcount != 1:
                return False
            for language, parts in texts.items():
                keyboard = (buttons or {}).get(language)
                for part, text in enumerate(parts):
                    under = keyboard if part == len(parts) - 1 else None
                    self.outbox.add_body(
                        alert_key, self.platform, language, part, text, now, buttons=under
                    )
                photo = (photos or {}).get(language)
                if photo is not None:
                    image_id, caption = photo
                    self.outbox.add_body(
                        alert_key, self.platform, language, len(parts), caption, now, image_id
                    )
                if story is not None and language in story[1]:
                    self.outbox.add_body(
                        alert_key,
                        self.platform,
                        language,
                        len(parts) + (photo is not None),
                        story[1][language],
                        now,
                        edit_of=story[0],
                    )
        self._open = True
        return True

    def refresh(self) -> None:
        """Look in the database again (another process may have planned an alert)."""
        self._open = None

    @property
    def has_work(self) -> bool:
        if self._open is None:
            self._open = self._next_plan() is not None
        return self._open

    def _next_plan(self) -> Plan | None:
        row = self.store.connection.execute(
            "SELECT alert_key, audience, heard_prefix, after_chat, added FROM fanouts "
            "WHERE platform = ? AND status = 'staging' ORDER BY seq LIMIT 1",
            (self.platform,),
        ).fetchone()
        if row is None:
            return None
        return Plan(row[0], Audience.from_json(row[1]), row[2], row[3], row[4])

    def expand_chunk(self, now: datetime) -> int:
        """Expand the next chunk of chats of the oldest open plan (plans go in the order they
        were made, so a recovery sees the rows of its shock); returns the rows added."""
        plan = self._next_plan()
        if plan is None:
            self._open = False
            return 0
        bodies = self.outbox.bodies(plan.alert_key, self.platform)
        chats = self.store.subscription_rows_after(self.platform, plan.after_chat, self.chunk)
        heard: set[str] | None = None
        if plan.heard_prefix is not None and chats:
            heard = self.outbox.chats_heard(
                self.platform, plan.heard_prefix, chats[0][0], chats[-1][0]
            )
        texts: dict[SettingsRow, tuple[list[int], str | None]] = {}  # per distinct settings
        rows: list[QueuedRow] = []
        severity = int(plan.audience.severity)
        for chat_id, settings in chats:
            if heard is not None and chat_id not in heard:
                continue
            decided = texts.get(settings)
            if decided is None:
                decided = texts[settings] = self._texts_for(chat_id, settings, plan, bodies)
            body_ids, refusal = decided
            if refusal is not None:
                SUPPRESSED.labels(refusal).inc()
            elif body_ids:
                body_ids = bodies.get(personal_key(chat_id), body_ids)
            is_group = self.is_group(chat_id)
            for part, body_id in enumerate(body_ids):
                key = f"{plan.alert_key}|{self.platform}|{chat_id}|{part}"
                rows.append(
                    QueuedRow(key, chat_id, is_group, plan.alert_key, part, severity, body_id)
                )
        with self.store.transaction() as db:
            added = self.outbox.add_rows(self.platform, rows, now)
            total = plan.added + added
            if len(chats) < self.chunk:
                db.execute(
                    "UPDATE fanouts SET status = 'staged', added = ?, done_at = ? "
                    "WHERE alert_key = ? AND platform = ?",
                    (total, _ts(now), plan.alert_key, self.platform),
                )
                log.info(
                    "%s: alert %s queued for %d messages", self.platform, plan.alert_key, total
                )
            else:
                db.execute(
                    "UPDATE fanouts SET after_chat = ?, added = ? "
                    "WHERE alert_key = ? AND platform = ?",
                    (chats[-1][0], total, plan.alert_key, self.platform),
                )
        return added

    def _texts_for(
        self, chat_id: str, settings: SettingsRow, plan: Plan, bodies: Mapping[str, list[int]]
    ) -> tuple[list[int], str | None]:
        """The texts a chat of these settings gets, and why it gets none: it does not want the
        alert (the reason), or its stored settings cannot be read (said in the log; the other
        chats still get it)."""
        try:
            chat = chat_from_row(self.platform, chat_id, settings)
            refusal = chat.refusal(plan.audience)
        except Exception as exc:  # settings edited outside the bot, or from an old version
            log.warning(
                "%s: alert %s skips chat %s: its stored settings cannot be read (%s)",
                self.platform,
                plan.alert_key,
                chat_id,
                exc,
            )
            return [], None
        if refusal is not None:
            return [], refusal
        return bodies.get(chat.language or "en") or bodies.get("en") or [], None

    def open_plans(self) -> int:
        (count,) = self.store.connection.execute(
            "SELECT COUNT(*) FROM fanouts WHERE platform = ? AND status = 'staging'",
            (self.platform,),
        ).fetchone()
        return int(count)
