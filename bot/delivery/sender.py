"""Drains the outbox of one platform within its rate limits, retrying what may succeed later.

Per chat, messages go strictly in the order they were enqueued (an escalation never overtakes
its original); across chats, the chat whose next message is the most severe goes first. A 429's
``retry_after`` pauses only that chat. Transient failures back off exponentially with jitter;
permanent ones skip the message; an unreachable chat is dropped and reported; a migrated chat
moves. Up to ``max_in_flight`` messages (to different chats) are in flight at once, so a crash
duplicates at most that many. Between sends the sender expands alerts' fan-out plans into
outbox rows, a chunk at a time (bot/delivery/fanout.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import random
from asyncio import FIRST_COMPLETED
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from bot.alerts import episode_prefix
from bot.delivery.fanout import FanOut
from bot.delivery.outbox import Body, Outbox, QueuedMessage
from bot.delivery.ratelimit import Limits, RateLimiter
from bot.metrics import MESSAGES, RATE_LIMITED
from bot.storage.store import database_fault

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

    async def send(self, chat_id: str, text: str) -> str | None:
        """A text message; returns the platform's id of it, if known. A transport that shows
        buttons and replies also takes ``buttons=`` (the keyboard's JSON,
        :mod:`bot.render.buttons`) and ``reply_to=`` (a message id); the sender passes them
        only then."""

    async def send_photo(self, chat_id: str, png: bytes, caption: str) -> str | None:
        """An image with its caption (rendered for the platform, like ``send``'s text)."""


@dataclass(frozen=True)
class SenderSettings:
    """Retries: a message is given up only after ``max_attempts`` failures AND when it is older
    than ``give_up_after`` (an outage of the platform delays alerts; it does not drop them)."""

    limits: Limits = field(default_factory=Limits)
    max_in_flight: int = 8
    """Sends at once, each to another chat: enough to keep the rate up over a slow network
    (30 msg/s at 150 ms round trips needs 5) and past the odd answer that takes seconds."""
    outage_after_failures: int = 3
    """Sends in a row failing for no reason of their own that make the platform count as out:
    then one probe goes every ``probe_seconds`` and the first answer releases everything."""
    probe_seconds: float = 2.0
    max_attempts: int = 8
    backoff_base_seconds: float = 1.0
    backoff_cap_seconds: float = 300.0
    give_up_after: timedelta = timedelta(hours=6)


LEASE_TTL = timedelta(seconds=30)
"""A sender's lease lasts this long unless renewed: a stopped or killed process is taken over
after at most this."""
LEASE_RENEW = timedelta(seconds=10)
STOP_GRACE_SECONDS = 10.0
"""At a stop, how long sends in flight may still take."""
RELOAD_EVERY = timedelta(seconds=1)
LOAD_PAGE = 500
"""Outbox rows read per step."""
EXPAND_RETRY = timedelta(seconds=30)
TEXT_CACHE = 64
"""Message texts kept in memory (a few per alert and language)."""
IMAGE_CACHE = 4
"""Chart images kept in memory (one per alert and language, ~100 KB each)."""


def _part(message: QueuedMessage) -> int:
    """Which part of its alert a message is (the key ends in ``|part``)."""
    tail = message.key.rsplit("|", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _continues_episode(alert_key: str) -> bool:
    return ":escalate:" in alert_key or alert_key.endswith(":recover")


def utc_now() -> datetime:
    return datetime.now(UTC)


VIRTUAL_WAIT_SECONDS = 0.25
"""On a virtual clock (tests, benchmarks), how long a wait first gives a send in flight to end,
in real time, before it moves time on: a loaded machine's fake server can take longer than
50 ms to answer, and time moved on too early sends a burst the fake counts as a flood."""


class OutboxSender:
    """The send loop of one platform.

    Chats wait in two heaps: by the time they may send next (rate limits, retries), and, once
    that time has come, by the severity of their next message. Picking the next message costs
    O(log chats), not a scan. Up to ``max_in_flight`` messages go at once, to different chats.
    """

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
        owner: str | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        """``owner`` (host and process) makes :meth:`run` hold the platform's sender lease:
        one sender per database and platform; without it, ``run`` sends unconditionally.
        ``limiter``: the platform's send budget, when something else (command replies) sends
        through it too."""
        self.owner = owner
        self.outbox = outbox
        self.transport = transport
        self.platform = transport.platform
        self.settings = settings or SenderSettings()
        self.limiter = limiter or RateLimiter(self.settings.limits)
        self.on_unreachable = on_unreachable
        self.on_migrate = on_migrate
        self.clock = clock
        self.rng = rng or random.Random()  # noqa: S311 (jitter)
        self._queues: dict[str, deque[QueuedMessage]] = {}
        self._queued = 0
        self._waiting: list[tuple[datetime, int, str]] = []
        self._ready: list[tuple[int, int, int, str]] = []
        self._entry: dict[str, int] = {}
        self._tokens = itertools.count()
        self._in_flight: dict[str, asyncio.Task[None]] = {}
        self._last_id = 0
        self._wake = asyncio.Event()
        self._sleep = sleep
        self._failing = 0
        self._probe_at: datetime | None = None
        self._fatal: BaseException | None = None
        self._leased = False
        self._refused = False
        self._stale = True
        self._next_load: datetime | None = None
        self._fanouts: list[FanOut] = []
        self._expand_after: datetime | None = None
        self._texts: OrderedDict[int, Body] = OrderedDict()
        self._images: OrderedDict[int, bytes] = OrderedDict()

    def expand(self, fanout: FanOut) -> None:
        """Expand this fan-out's plans into outbox rows, a chunk per step: the sender holds
        the platform's lease, so one process expands them."""
        self._fanouts.append(fanout)

    def _body(self, body_id: int) -> Body:
        """A message's text (and image); an alert's few texts are shared by thousands of
        messages."""
        body = self._texts.get(body_id)
        if body is None:
            body = self._texts[body_id] = self.outbox.body(body_id)
            if len(self._texts) > TEXT_CACHE:
                self._texts.popitem(last=False)
        return body

    def _image(self, image_id: int) -> bytes:
        png = self._images.get(image_id)
        if png is None:
            png = self._images[image_id] = self.outbox.store.image(image_id)
            if len(self._images) > IMAGE_CACHE:
                self._images.popitem(last=False)
        return png

    async def _deliver(self, message: QueuedMessage, body: Body) -> str | None:
        """Send one message (or make one edit); returns the platform's id of what was sent
        when the transport tells it."""
        chat_id = message.chat_id
        if body.edit_of is not None:
            await self._edit(chat_id, body)
            return None
        options: dict[str, str] = {}
        if body.buttons:
            options["buttons"] = body.buttons
        if _part(message) == 0 and _continues_episode(message.alert_key):
            first = self.outbox.first_message(
                self.platform, chat_id, episode_prefix(message.alert_key)
            )
            if first is not None:
                options["reply_to"] = first[0]
        if body.image_id is not None:
            sent = await self.transport.send_photo(chat_id, self._image(body.image_id), body.text)
        else:
            # Only transports that show buttons or threads take these keywords (the Protocol
            # keeps the plain form every transport has).
            sent = await self.transport.send(chat_id, body.text, **options)
        return sent if isinstance(sent, str) else None

    async def _edit(self, chat_id: str, body: Body) -> None:
        """An escalation's or recovery's status line added to the episode's first message in
        this chat; nothing when the chat never got that message."""
        edit = getattr(self.transport, "edit", None)
        first = self.outbox.first_message(self.platform, chat_id, body.edit_of or "")
        if edit is None or first is None:
            return
        message_id, body_id = first
        original = self._body(body_id)
        await edit(chat_id, message_id, original.text, body.text, original.buttons)

    def wake(self) -> None:
        """New messages were enqueued."""
        self._stale = True
        self._wake.set()

    @property
    def platform_down(self) -> bool:
        """Several sends in a row failed for no reason of their own: the platform is out."""
        return self._probe_at is not None

    def _load_if_due(self, now: datetime) -> None:
        """New rows: at once when woken, else once a second (another writer, a restart)."""
        if self._stale or self._next_load is None or now >= self._next_load:
            for fanout in self._fanouts:
                fanout.refresh()
            self._stale = False
            self._load()
            self._next_load = now + RELOAD_EVERY

    def _load(self) -> None:
        """The next page of new rows; a full page leaves the rest for the next step, so a
        backlog of 50,000 never holds the event loop in one go."""
        page = self.outbox.open_messages(self.platform, self._last_id, limit=LOAD_PAGE)
        now = self.clock()
        for message in page:
            queue = self._queues.setdefault(message.chat_id, deque())
            queue.append(message)
            self._queued += 1
            self._last_id = max(self._last_id, message.id)
            if len(queue) == 1:
                self._schedule(message.chat_id, now)
        if len(page) == LOAD_PAGE:
            self._stale = True

    def pending(self) -> int:
        """Messages queued or in flight."""
        return self._queued

    def _ready_time(self, chat_id: str, now: datetime) -> datetime:
        head = self._queues[chat_id][0]
        return max(head.not_before, self.limiter.ready_at(chat_id, head.is_group, now))

    def _schedule(self, chat_id: str, now: datetime) -> None:
        """(Re)place a chat in the waiting heap; an older entry of it becomes stale."""
        if chat_id in self._in_flight or not self._queues.get(chat_id):
            self._entry.pop(chat_id, None)
            return
        token = next(self._tokens)
        self._entry[chat_id] = token
        heapq.heappush(self._waiting, (self._ready_time(chat_id, now), token, chat_id))

    def _promote(self, now: datetime) -> None:
        """Chats whose time has come move to the ready heap, most severe message first."""
        while self._waiting and self._waiting[0][0] <= now:
            _, token, chat_id = heapq.heappop(self._waiting)
            if self._entry.get(chat_id) != token:
                continue
            ready = self._ready_time(chat_id, now)
            if ready > now:  # a limit moved on since it was queued
                heapq.heappush(self._waiting, (ready, token, chat_id))
                continue
            head = self._queues[chat_id][0]
            heapq.heappush(self._ready, (-head.severity, head.id, token, chat_id))

    def _take_ready(self) -> str | None:
        while self._ready:
            _, _, token, chat_id = heapq.heappop(self._ready)
            if self._entry.get(chat_id) == token:
                del self._entry[chat_id]
                return chat_id
        return None

    def _take_probe(self, now: datetime) -> str | None:
        """While the platform is out: the chat whose message waits the least, if no limit of
        its own holds it (a message's own backoff does not count: the probe tests the
        platform)."""
        self._promote(now)
        chat_id = self._take_ready()
        if chat_id is not None:
            return chat_id
        while self._waiting:
            _, token, candidate = heapq.heappop(self._waiting)
            if self._entry.get(candidate) != token:
                continue
            head = self._queues[candidate][0]
            if self.limiter.ready_at(candidate, head.is_group, now) > now:
                heapq.heappush(self._waiting, (self._ready_time(candidate, now), token, candidate))
                return None
            del self._entry[candidate]
            return candidate
        return None

    async def _wait(self, seconds: float) -> None:
        if self._sleep is not None:
            if self._in_flight:  # virtual time: a send in flight may end first
                done, _ = await asyncio.wait(
                    set(self._in_flight.values()),
                    timeout=VIRTUAL_WAIT_SECONDS,
                    return_when=FIRST_COMPLETED,
                )
                if done:
                    return
            await self._sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=max(seconds, 0.0))

    async def run(self, stop: asyncio.Event) -> None:
        """Send until ``stop`` is set. A failure of the loop itself (the database, a bug) is
        logged and retried with backoff: queued alerts must not wait for a restart. Sends in
        flight at the stop may finish (for a while)."""
        failures = 0
        renew_at: datetime | None = None
        while not stop.is_set():
            try:
                if self.owner is not None and (renew_at is None or self.clock() >= renew_at):
                    if not self._hold_lease(self.owner):
                        await self._wait_or_stop(stop, LEASE_RENEW.total_seconds())
                        continue
                    renew_at = self.clock() + LEASE_RENEW
                await self.step(idle_wait=1.0)
                failures = 0
            except Exception as exc:
                failures += 1
                delay = min(60.0, 2.0**failures)
                fault = database_fault(exc, self.outbox.store.path)
                log.error(
                    "%s: sender loop failed (%d in a row); again in %.0f s%s",
                    self.platform,
                    failures,
                    delay,
                    f": {fault}" if fault else "",
                    exc_info=None if fault else exc,
                )
                await self._wait(delay)
        if self._in_flight:
            await asyncio.wait(set(self._in_flight.values()), timeout=STOP_GRACE_SECONDS)
        await self.abort()
        if self.owner is not None and self._leased:
            self.outbox.store.release_lease(self._lease_name, self.owner)

    @property
    def _lease_name(self) -> str:
        return f"sender:{self.platform}"

    def _hold_lease(self, owner: str) -> bool:
        """Take or renew the lease; while another process holds it, say so once."""
        holder = self.outbox.store.take_lease(self._lease_name, owner, self.clock(), LEASE_TTL)
        if holder is None:
            if not self._leased:
                log.info("%s: this process sends (lease %s)", self.platform, owner)
            self._leased = True
            return True
        if self._leased or not self._refused:
            log.error(
                "%s: another bot process (%s) sends from this database; this one does not "
                "send and takes over if that one stops for %.0f s",
                self.platform,
                holder,
                LEASE_TTL.total_seconds(),
            )
        self._leased, self._refused = False, True
        return False

    async def _wait_or_stop(self, stop: asyncio.Event, seconds: float) -> None:
        if self._sleep is not None:
            await self._sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=seconds)

    async def abort(self) -> None:
        """Cancel the sends in flight: their rows stay ``sending`` and go again at the next
        start (the duplicates a crash may cause)."""
        tasks = list(self._in_flight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def drain(self) -> None:
        """Send until nothing is left to send (tests, replays, benchmarks)."""
        self._load()
        while self.pending() or self._expanding() or self._stale:
            await self.step(idle_wait=0.5)

    def _expanding(self) -> bool:
        if self._expand_after is not None and self.clock() < self._expand_after:
            return False
        return any(fanout.has_work for fanout in self._fanouts)

    def backlog(self) -> int:
        """Messages not sent yet, in the outbox or in fan-outs not expanded yet (as plans)."""
        counts = self.outbox.counts(self.platform)
        rows = counts.get("pending", 0) + counts.get("sending", 0)
        return rows + sum(fanout.open_plans() for fanout in self._fanouts)

    async def _expand_chunk(self, now: datetime) -> None:
        """One chunk of a fan-out, then the event loop's other work may run. A failing
        expansion (the database) holds back new fan-outs for a while, never the sending of
        what is queued."""
        for fanout in self._fanouts:
            if fanout.has_work:
                try:
                    if fanout.expand_chunk(now):
                        self._stale = True
                except Exception as exc:
                    self._expand_after = now + EXPAND_RETRY
                    fault = database_fault(exc, self.outbox.store.path)
                    log.error(
                        "%s: expanding an alert's fan-out failed; again in %.0f s%s",
                        self.platform,
                        EXPAND_RETRY.total_seconds(),
                        f": {fault}" if fault else "",
                        exc_info=None if fault else exc,
                    )
                await asyncio.sleep(0)
                return

    async def step(self, idle_wait: float) -> None:
        """Start one send if one may go now, else wait until one may (or a send ends)."""
        if self._fatal is not None:
            raise self._fatal
        self._wake.clear()
        now = self.clock()
        if self._expanding():
            await self._expand_chunk(now)
            now = self.clock()
        self._load_if_due(now)
        limit = 1 if self.platform_down else self.settings.max_in_flight
        overall = self.limiter.overall_ready_at(now)
        if len(self._in_flight) < limit and overall <= now:
            chat_id = self._next_chat(now)
            if chat_id is not None:
                self._start(chat_id, now)
                await asyncio.sleep(0)  # one send started per turn of the event loop
                return
        await self._wait(self._seconds_to_wait(now, overall, idle_wait))

    def _next_chat(self, now: datetime) -> str | None:
        if self._probe_at is None:
            self._promote(now)
            return self._take_ready()
        if self._in_flight or now < self._probe_at:
            return None
        return self._take_probe(now)

    def _seconds_to_wait(self, now: datetime, overall: datetime, idle_wait: float) -> float:
        if self._expanding() or self._stale:
            return 0.0  # the rest of the fan-out, or of the backlog, first
        if len(self._in_flight) >= self.settings.max_in_flight:
            return idle_wait  # a finishing send wakes the loop
        if self._probe_at is not None:
            soonest = self._probe_at
        elif self._ready:
            soonest = overall
        elif self._waiting:
            soonest = max(self._waiting[0][0], overall)
        else:
            return idle_wait
        return min(max((soonest - now).total_seconds(), 0.0), idle_wait)

    def _start(self, chat_id: str, now: datetime) -> None:
        message = self._queues[chat_id][0]
        self.limiter.sent(chat_id, message.is_group, now)
        self.outbox.mark_sending(message.id)
        send = self._send(message, now)
        task = asyncio.create_task(send, name=f"{self.platform}-send-{chat_id}")
        self._in_flight[chat_id] = task

    def _pop(self, message: QueuedMessage) -> None:
        queue = self._queues[message.chat_id]
        queue.popleft()
        self._queued -= 1
        if not queue:
            del self._queues[message.chat_id]

    async def _send(self, message: QueuedMessage, started: datetime) -> None:
        chat_id = message.chat_id
        try:
            try:
                sent_id = await self._deliver(message, self._body(message.body_id))
            except TransportError as exc:
                if exc.retry_after is None:  # the platform delivered nothing
                    self.limiter.refund(started)
                self._failed(message, exc)
                return
            except Exception as exc:  # a transport bug must not stop delivery to everyone
                log.exception("%s: send to %s crashed", self.platform, chat_id)
                self._failed(message, TransportError(f"{type(exc).__name__}: {exc}"))
                return
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # the process is going down: the loop re-raises it
                self._fatal = exc
                return
            self.outbox.mark_sent(message.id, self.clock(), sent_id)
            MESSAGES.labels(self.platform, "sent").inc()
            self._pop(message)
            self._platform_answered()
        except Exception as exc:  # the outbox itself failed: the row stays open and goes again
            fault = database_fault(exc, self.outbox.store.path)
            log.error(
                "%s: the outbox could not record the send to %s; it is tried again%s",
                self.platform,
                chat_id,
                f": {fault}" if fault else "",
                exc_info=None if fault else exc,
            )
        finally:
            del self._in_flight[chat_id]
            self._schedule(chat_id, self.clock())
            self._wake.set()

    def _platform_answered(self) -> None:
        """A send went through: after an outage, everything waiting for a retry goes now."""
        self._failing = 0
        if self._probe_at is None:
            return
        self._probe_at = None
        now = self.clock()
        released = 0
        for chat_id, queue in self._queues.items():
            head = queue[0]
            if head.not_before > now:
                queue[0] = replace(head, not_before=now)
                released += 1
                if chat_id not in self._in_flight:
                    self._schedule(chat_id, now)
        log.warning(
            "%s: the platform answers again; %d chats waiting for a retry go now",
            self.platform,
            released,
        )

    def _platform_failed(self, now: datetime) -> None:
        """A send failed for no reason of its own (5xx, timeout, network)."""
        self._failing += 1
        if self._failing < self.settings.outage_after_failures:
            return
        if self._probe_at is None:
            log.warning(
                "%s: %d sends in a row failed; the platform looks out, probing every %.0f s",
                self.platform,
                self._failing,
                self.settings.probe_seconds,
            )
        self._probe_at = now + timedelta(seconds=self.settings.probe_seconds)

    def _retry_later(self, message: QueuedMessage, until: datetime, attempts: int) -> None:
        self._queues[message.chat_id][0] = replace(
            message, not_before=until, attempts=attempts, status="pending"
        )

    def _failed(self, message: QueuedMessage, exc: TransportError) -> None:
        now = self.clock()
        chat = message.chat_id
        if exc.retry_after is None and not (exc.migrate_to or exc.unreachable or exc.permanent):
            self._platform_failed(now)
        else:
            self._platform_answered()
        if exc.migrate_to:
            log.info("%s: chat %s moved to %s", self.platform, chat, exc.migrate_to)
            copies = self.outbox.move_chat(self.platform, chat, exc.migrate_to)
            queue = self._queues.pop(chat)
            moved = deque(replace(m, chat_id=exc.migrate_to) for m in queue if m.id not in copies)
            self._queued -= len(queue) - len(moved)
            if moved:
                self._queues.setdefault(exc.migrate_to, deque()).extendleft(reversed(moved))
            self.limiter.forget(chat)
            self._schedule(exc.migrate_to, now)
            if self.on_migrate:
                self.on_migrate(chat, exc.migrate_to)
            return
        if exc.unreachable:
            MESSAGES.labels(self.platform, "failed").inc()
            dropped = self.outbox.drop_chat(self.platform, chat, exc.message)
            self._queued -= len(self._queues.pop(chat, ()))
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
            MESSAGES.labels(self.platform, "failed").inc()
            self._pop(message)
            return
        if exc.retry_after is not None:
            RATE_LIMITED.labels(self.platform).inc()
            MESSAGES.labels(self.platform, "retried").inc()
            until = now + timedelta(seconds=max(exc.retry_after, 1.0))
            self.limiter.pause(chat, until)
            log.warning(
                "%s: flood limit for chat %s; it waits %.0f s, the others go on",
                self.platform,
                chat,
                exc.retry_after,
                extra={"platform": self.platform, "alert_key": message.alert_key},
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
            MESSAGES.labels(self.platform, "failed").inc()
            self._pop(message)
            return
        MESSAGES.labels(self.platform, "retried").inc()
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
            extra={"platform": self.platform, "alert_key": message.alert_key},
        )
        self.outbox.reschedule(message.id, until, attempts, exc.message)
        self._retry_later(message, until, attempts)
