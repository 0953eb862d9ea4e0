"""Drains the outbox of one platform within its rate limits, retrying what may succeed later.

Per chat, messages go strictly in the order they were enqueued (an escalation never overtakes
its original); across chats, the chat whose next message is the most severe goes first. A 429's
``retry_after`` pauses only that chat. Transient failures back off exponentially with jitter;
permanent ones skip the message; an unreachable chat is dropped and reported; a migrated chat
moves. One message is in flight at a time, so a crash can duplicate at most one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from bot.delivery.outbox import Outbox, QueuedMessage
from bot.delivery.ratelimit import Limits, RateLimiter

log = logging.getLogger(__name__)


class TransportError(Exception):
    """A failed send, classified by the platform adapter.

    Attributes:
        retry_after: seconds the platform asked us to wait (a 429).
        migrate_to: the chat's new id (a Telegram group that became a supergroup).
        unreachable: the chat cannot be reached again (blocked, kicked, not found).
        permanent: this message will never go through (bad request after rendering).
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        migrate_to: str | None = None,
        unreachable: bool = False,
        permanent: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
        self.migrate_to = migrate_to
        self.unreachable = unreachable
        self.permanent = permanent


class Transport(Protocol):
    """Sends one rendered message to one chat of a platform."""

    platform: str

    async def send(self, chat_id: str, text: str) -> None: ...


@dataclass(frozen=True)
class SenderSettings:
    """Retries: a message is given up only after ``max_attempts`` failures AND when it is older
    than ``give_up_after`` (an outage of the platform delays alerts; it does not drop them)."""

    limits: Limits = field(default_factory=Limits)
    max_attempts: int = 8
    backoff_base_seconds: float = 1.0
    backoff_cap_seconds: float = 300.0
    give_up_after: timedelta = timedelta(hours=6)


def utc_now() -> datetime:
    return datetime.now(UTC)


class OutboxSender:
    """The send loop of one platform."""

    def __init__(
        self,
        outbox: Outbox,
        transport: Transport,
        settings: SenderSettings | None = None,
        *,
        on_unreachable: Callable[[str, str], None] | None = None,
        on_migrate: Callable[[str, str], None] | None = None,
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.outbox = outbox
        self.transport = transport
        self.platform = transport.platform
        self.settings = settings or SenderSettings()
        self.limiter = RateLimiter(self.settings.limits)
        self.on_unreachable = on_unreachable
        self.on_migrate = on_migrate
        self.clock = clock
        self.rng = rng or random.Random()  # noqa: S311 (jitter)
        self._queues: dict[str, deque[QueuedMessage]] = {}
        self._last_id = 0
        self._wake = asyncio.Event()
        self._sleep = sleep

    def wake(self) -> None:
        """New messages were enqueued."""
        self._wake.set()

    def _load(self) -> None:
        for message in self.outbox.open_messages(self.platform, self._last_id):
            self._queues.setdefault(message.chat_id, deque()).append(message)
            self._last_id = max(self._last_id, message.id)

    def pending(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def _next(self, now: datetime) -> tuple[QueuedMessage | None, datetime | None]:
        """The message to send now, or when the next one becomes ready."""
        best: QueuedMessage | None = None
        soonest: datetime | None = None
        for chat_id, queue in self._queues.items():
            head = queue[0]
            ready = max(head.not_before, self.limiter.ready_at(chat_id, head.is_group, now))
            if ready <= now:
                if best is None or (-head.severity, head.id) < (-best.severity, best.id):
                    best = head
            elif soonest is None or ready < soonest:
                soonest = ready
        return best, soonest

    async def _wait(self, seconds: float) -> None:
        if self._sleep is not None:
            await self._sleep(seconds)
            return
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=max(seconds, 0.0))

    async def run(self, stop: asyncio.Event) -> None:
        """Send until ``stop`` is set. A failure of the loop itself (the database, a bug) is
        logged and retried with backoff: queued alerts must not wait for a restart."""
        failures = 0
        while not stop.is_set():
            try:
                await self.step(idle_wait=1.0)
                failures = 0
            except Exception:
                failures += 1
                delay = min(60.0, 2.0**failures)
                log.exception(
                    "%s: sender loop failed (%d in a row); again in %.0f s",
                    self.platform,
                    failures,
                    delay,
                )
                await self._wait(delay)

    async def drain(self) -> None:
        """Send until nothing is left to send (tests, replays, benchmarks)."""
        self._load()
        while self.pending():
            await self.step(idle_wait=0.5)

    async def step(self, idle_wait: float) -> None:
        """Send one message if one is ready, else wait until one may be."""
        self._load()
        now = self.clock()
        message, soonest = self._next(now)
        if message is None:
            wait = idle_wait if soonest is None else (soonest - now).total_seconds()
            await self._wait(min(wait, idle_wait))
            return
        overall = self.limiter.overall_ready_at(now)
        if overall > now:
            await self._wait((overall - now).total_seconds())
            return
        await self._send(message)

    def _pop(self, message: QueuedMessage) -> None:
        queue = self._queues[message.chat_id]
        queue.popleft()
        if not queue:
            del self._queues[message.chat_id]

    async def _send(self, message: QueuedMessage) -> None:
        self.outbox.mark_sending(message.id)
        started = self.clock()
        try:
            await self.transport.send(message.chat_id, message.text)
        except TransportError as exc:
            self.limiter.sent(message.chat_id, message.is_group, started)
            self._failed(message, exc)
            return
        except Exception as exc:  # a transport bug must not stop delivery to everyone
            log.exception("%s: send to %s crashed", self.platform, message.chat_id)
            self.limiter.sent(message.chat_id, message.is_group, started)
            self._failed(message, TransportError(f"{type(exc).__name__}: {exc}"))
            return
        now = self.clock()
        self.limiter.sent(message.chat_id, message.is_group, started)
        self.outbox.mark_sent(message.id, now)
        self._pop(message)

    def _retry_later(self, message: QueuedMessage, until: datetime, attempts: int) -> None:
        self._queues[message.chat_id][0] = replace(
            message, not_before=until, attempts=attempts, status="pending"
        )

    def _failed(self, message: QueuedMessage, exc: TransportError) -> None:
        now = self.clock()
        chat = message.chat_id
        if exc.migrate_to:
            log.info("%s: chat %s moved to %s", self.platform, chat, exc.migrate_to)
            self.outbox.move_chat(self.platform, chat, exc.migrate_to)
            queue = self._queues.pop(chat)
            moved = deque(replace(m, chat_id=exc.migrate_to) for m in queue)
            self._queues.setdefault(exc.migrate_to, deque()).extendleft(reversed(moved))
            self.limiter.forget(chat)
            if self.on_migrate:
                self.on_migrate(chat, exc.migrate_to)
            return
        if exc.unreachable:
            dropped = self.outbox.drop_chat(self.platform, chat, exc.message)
            self._queues.pop(chat, None)
            self.limiter.forget(chat)
            log.warning(
                "%s: chat %s unreachable (%s); %d queued messages dropped, subscription disabled",
                self.platform,
                chat,
                exc.message,
                dropped,
            )
            if self.on_unreachable:
                self.on_unreachable(chat, exc.message)
            return
        if exc.permanent:
            log.error(
                "%s: message %s to %s rejected for good: %s",
                self.platform,
                message.key,
                chat,
                exc.message,
            )
            self.outbox.fail(message.id, exc.message)
            self._pop(message)
            return
        if exc.retry_after is not None:
            until = now + timedelta(seconds=max(exc.retry_after, 1.0))
            self.limiter.pause(chat, until)
            log.warning(
                "%s: flood limit for chat %s; it waits %.0f s, the others go on",
                self.platform,
                chat,
                exc.retry_after,
            )
            self.outbox.reschedule(message.id, until, message.attempts, exc.message)
            self._retry_later(message, until, message.attempts)
            return
        attempts = message.attempts + 1
        too_old = now - message.created_at >= self.settings.give_up_after
        if attempts >= self.settings.max_attempts and too_old:
            log.error(
                "%s: giving up on %s to %s after %d attempts: %s",
                self.platform,
                message.key,
                chat,
                attempts,
                exc.message,
            )
            self.outbox.fail(message.id, exc.message)
            self._pop(message)
            return
        delay = min(
            self.settings.backoff_cap_seconds,
            self.settings.backoff_base_seconds * 2 ** (attempts - 1),
        ) * (1 + self.rng.random())
        until = now + timedelta(seconds=delay)
        log.warning(
            "%s: send to %s failed (%s); retry %d in %.1f s",
            self.platform,
            chat,
            exc.message,
            attempts,
            delay,
        )
        self.outbox.reschedule(message.id, until, attempts, exc.message)
        self._retry_later(message, until, attempts)
