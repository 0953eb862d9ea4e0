"""Send-rate limits of a chat platform, as pure bookkeeping over a clock the caller passes.

Telegram: about one message per second per chat, 20 per minute per group or channel and 30 per
second overall. Pauses from a 429's ``retry_after`` apply to the one chat that got it.
"""

from __future__ import annotations

import contextlib
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

_SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class Limits:
    """Per-chat spacing, per-group window and an overall rate (messages per second)."""

    per_chat_interval: timedelta = timedelta(seconds=1)
    group_per_minute: int = 20
    overall_per_second: int = 30
    """Sends in any one-second window, as Telegram allows."""
    overall_margin: timedelta = timedelta(milliseconds=15)
    """The window is this much longer than a second: requests reach the server with some
    jitter, and a second there must still hold no more than ``overall_per_second``."""


@dataclass
class RateLimiter:
    """When may the next message go to a chat? Each decision is recorded with :meth:`sent`."""

    limits: Limits = field(default_factory=Limits)
    _last_to_chat: dict[str, datetime] = field(default_factory=dict)
    _group_window: dict[str, deque[datetime]] = field(default_factory=dict)
    _paused_until: dict[str, datetime] = field(default_factory=dict)
    _overall: deque[datetime] = field(default_factory=deque)
    _next_slot: datetime | None = None

    def ready_at(self, chat_id: str, is_group: bool, now: datetime) -> datetime:
        """The earliest time a message to ``chat_id`` may go (``now`` if it may go now)."""
        at = now
        paused = self._paused_until.get(chat_id)
        if paused is not None:
            at = max(at, paused)
        last = self._last_to_chat.get(chat_id)
        if last is not None:
            at = max(at, last + self.limits.per_chat_interval)
        if is_group:
            window = self._group_window.get(chat_id)
            if window is not None:
                while window and now - window[0] >= timedelta(minutes=1):
                    window.popleft()
                if len(window) >= self.limits.group_per_minute:
                    at = max(at, window[0] + timedelta(minutes=1))
        return at

    def overall_ready_at(self, now: datetime) -> datetime:
        """Evenly spaced slots (a burst arrives at the server with jitter and may crowd one
        second), under a sliding window: never more than ``overall_per_second`` sends in any
        second."""
        span = _SECOND + self.limits.overall_margin
        window = self._overall
        while window and now - window[0] >= span:
            window.popleft()
        at = now if self._next_slot is None else max(now, self._next_slot)
        if len(window) >= self.limits.overall_per_second:
            at = max(at, window[0] + span)
        return at

    def sent(self, chat_id: str, is_group: bool, at: datetime) -> None:
        self._last_to_chat[chat_id] = at
        if is_group:
            self._group_window.setdefault(chat_id, deque()).append(at)
        self._overall.append(at)
        step = (_SECOND + self.limits.overall_margin) / self.limits.overall_per_second
        # Slots follow the schedule, not the send times: a timer that wakes late earns up to
        # half a step of credit, so late wake-ups do not add up; the window caps any second.
        slot = at if self._next_slot is None else max(at - step / 2, self._next_slot)
        self._next_slot = slot + step

    def book_next(self, chat_id: str, is_group: bool, now: datetime) -> datetime | None:
        """Book the next overall slot for a message that goes ahead of everything queued (a
        command's reply): the sender's next message waits one slot longer. ``None`` while the
        chat's own limits hold it (:meth:`ready_at` says until when)."""
        if self.ready_at(chat_id, is_group, now) > now:
            return None
        at = self.overall_ready_at(now)
        self.sent(chat_id, is_group, at)
        return at

    def refund(self, at: datetime) -> None:
        """A send started at ``at`` reached no chat (a server error, a blocked chat): it does
        not count towards the overall rate."""
        with contextlib.suppress(ValueError):
            self._overall.remove(at)

    def pause(self, chat_id: str, until: datetime) -> None:
        """Hold one chat back (a 429 for it); the others are not affected."""
        self._paused_until[chat_id] = max(until, self._paused_until.get(chat_id, until))

    def forget(self, chat_id: str) -> None:
        for book in (self._last_to_chat, self._group_window, self._paused_until):
            book.pop(chat_id, None)
