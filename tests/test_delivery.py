"""Delivery end to end: the real OutboxSender and TelegramTransport against the fake Bot API.

Every test drives one virtual clock: the sender's ``clock``/``sleep`` and the fake's rate-limit
clock read it, and the injected ``sleep`` moves it forward, so waits of seconds or hours cost
nothing and every timing is deterministic. The fake enforces Telegram's limits, so a 429 the
tests did not inject means the sender broke a limit (``api.rate_limited`` counts those).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
from collections import Counter, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from telegram import Bot
from telegram.request import HTTPXRequest

from bot.adapters.telegram import TelegramTransport, is_group_chat, render_alert
from bot.alerts import Alert, AlertKind, Headline
from bot.delivery.outbox import NewMessage, Outbox
from bot.delivery.outbox_sink import OutboxSink
from bot.delivery.sender import OutboxSender, SenderSettings, TransportError
from bot.detection.detect import Label, Severity
from bot.render.i18n import Language
from bot.storage.store import Store
from bot.storage.subscriptions import ChatSettings
from bot.universe import load_universe
from tests.factories import sample_stats
from tests.fakes.telegram_api import FakeBotApi, SentMessage

TOKEN = "123:ABC"
EPOCH = datetime(2025, 1, 27, 14, 30, tzinfo=UTC)
PLATFORM = "telegram"
SUPERGROUP = -1009999999999


class VirtualClock:
    """Time that moves only when the sender sleeps (in whole microseconds)."""

    def __init__(self, late_by_micros: int = 1) -> None:
        self.micros = 0
        self.sleeps = 0
        self.late_by_micros = late_by_micros

    def now(self) -> datetime:
        return EPOCH + timedelta(microseconds=self.micros)

    def monotonic(self) -> float:
        """The fake Bot API's clock: seconds since EPOCH."""
        return self.micros / 1_000_000

    def seconds(self, at: datetime) -> float:
        return (at - EPOCH).total_seconds()

    async def sleep(self, seconds: float) -> None:
        # Like a real sleep, never wake early: one microsecond late keeps the fake's float
        # arithmetic on the allowed side of a boundary the sender computed exactly.
        self.micros += max(0, round(seconds * 1_000_000)) + self.late_by_micros
        self.sleeps += 1
        await asyncio.sleep(0)


class NetworkFaults(httpx.AsyncBaseTransport):
    """httpx transport under PTB's HTTPXRequest that can time out the next sendMessage.

    An armed timeout raises httpx's ``ReadTimeout`` before the request leaves, exactly as a
    silent network would after PTB's read timeout; PTB turns it into ``TimedOut``.
    """

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.armed = 0
        self.timeouts = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.armed and request.url.path.endswith("/sendMessage"):
            self.armed -= 1
            self.timeouts += 1
            raise httpx.ReadTimeout("injected read timeout", request=request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass(frozen=True)
class Attempt:
    chat_id: str
    text: str
    at: float  # virtual seconds
    error: TransportError | None


class RecordingTransport:
    """The real TelegramTransport, with every attempt and its outcome written down.

    ``faults[chat_id]`` scripts that chat's next attempts: ``"timeout"`` (a read timeout in
    httpx), an HTTP status (the fake answers it, via ``fail_next``) or ``"pass"``.
    """

    def __init__(
        self, inner: TelegramTransport, clock: VirtualClock, api: FakeBotApi, net: NetworkFaults
    ) -> None:
        self.inner = inner
        self.platform = inner.platform
        self.clock = clock
        self.api = api
        self.net = net
        self.faults: dict[str, deque[str]] = {}
        self.attempts: list[Attempt] = []

    async def send(self, chat_id: str, text: str) -> None:
        script = self.faults.get(chat_id)
        fault = script.popleft() if script else "pass"
        if fault == "timeout":
            self.net.armed += 1
        elif fault != "pass":
            self.api.fail_next("sendMessage", int(fault), chat_id=int(chat_id))
        at = self.clock.monotonic()
        try:
            await self.inner.send(chat_id, text)
        except TransportError as exc:
            self.attempts.append(Attempt(chat_id, text, at, exc))
            raise
        self.attempts.append(Attempt(chat_id, text, at, None))

    def times(self, chat_id: str) -> list[float]:
        return [a.at for a in self.attempts if a.chat_id == chat_id]


@dataclass
class Harness:
    api: FakeBotApi
    bot: Bot
    net: NetworkFaults
    path: str
    clock: VirtualClock
    store: Store
    outbox: Outbox
    transport: RecordingTransport
    unreachable: list[tuple[str, str]] = field(default_factory=list)
    migrated: list[tuple[str, str]] = field(default_factory=list)

    def sender(self, settings: SenderSettings | None = None, seed: int = 1) -> OutboxSender:
        """A sender wired like the app: unreachable chats disabled, migrations followed."""

        def unreachable(chat: str, why: str) -> None:
            self.unreachable.append((chat, why))
            self.store.disable_chat(PLATFORM, chat, why, self.clock.now())

        def migrate(old: str, new: str) -> None:
            self.migrated.append((old, new))
            self.store.migrate_chat(PLATFORM, old, new, self.clock.now())

        return OutboxSender(
            self.outbox,
            self.transport,
            settings,
            on_unreachable=unreachable,
            on_migrate=migrate,
            clock=self.clock.now,
            sleep=self.clock.sleep,
            rng=random.Random(seed),
        )

    def enqueue(self, *messages: NewMessage) -> int:
        return self.outbox.enqueue(messages, self.clock.now())

    def reopen(self) -> None:
        """A restart: the database file is closed and opened again."""
        self.store.close()
        self.store = Store(self.path)
        self.outbox = Outbox(self.store)

    def subscribe(
        self,
        chat_id: int | str,
        language: Language | None = None,
        *,
        subscribed: bool = True,
        min_severity: Severity = Severity.ALERT,
        disabled_reason: str | None = None,
    ) -> None:
        chat = ChatSettings(
            PLATFORM,
            str(chat_id),
            language,
            subscribed,
            min_severity,
            disabled_reason=disabled_reason,
        )
        self.store.save_chat(chat, self.clock.now())

    def status(self) -> dict[str, str]:
        rows = self.store.connection.execute("SELECT key, status FROM outbox").fetchall()
        return dict(rows)

    def texts(self, chat_id: int) -> list[str]:
        return [m.text for m in self.api.sent(chat_id)]


def msg(chat: int, text: str, severity: int = 2, alert: str | None = None) -> NewMessage:
    alert_key = alert or f"alert-{text}"
    return NewMessage(
        key=f"{alert_key}|{PLATFORM}|{chat}|0",
        platform=PLATFORM,
        chat_id=str(chat),
        is_group=chat < 0,
        alert_key=alert_key,
        severity=severity,
        text=text,
    )


@pytest.fixture
async def h(database: str) -> AsyncIterator[Harness]:
    """A sender on the fake Bot API, its outbox on SQLite, then on PostgreSQL."""
    clock = VirtualClock()
    net = NetworkFaults()
    async with FakeBotApi(token=TOKEN, enforce_limits=True, clock=clock.monotonic) as api:
        request = HTTPXRequest(httpx_kwargs={"transport": net})
        bot = Bot(TOKEN, base_url=api.base_url, base_file_url=api.base_file_url, request=request)
        await bot.initialize()
        path = database
        store = Store(path)
        harness = Harness(
            api,
            bot,
            net,
            path,
            clock,
            store,
            Outbox(store),
            RecordingTransport(TelegramTransport(bot), clock, api, net),
        )
        try:
            yield harness
        finally:
            await bot.shutdown()
            harness.store.close()
        assert api.errors == []  # the fake never failed by itself


def sent_times(messages: list[SentMessage]) -> list[float]:
    return sorted(m.time for m in messages)


def most_in_window(times: list[float], window: float) -> int:
    """The largest number of sends inside any half-open window of ``window`` seconds."""
    best = 0
    start = 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


# ---------------------------------------------------------------------- idempotency, restarts


async def test_enqueue_is_idempotent_and_a_restart_does_not_resend(h: Harness) -> None:
    h.api.add_chat(1)
    h.api.add_chat(2)
    first = (msg(1, "one"), msg(2, "two"))
    assert h.enqueue(*first) == 2
    assert h.enqueue(*first) == 0
    assert h.enqueue(replace(first[0], text="one, rendered again")) == 0  # the key decides
    assert h.status() == {"alert-one|telegram|1|0": "pending", "alert-two|telegram|2|0": "pending"}

    await h.sender().drain()
    assert h.texts(1) == ["one"]
    assert h.texts(2) == ["two"]

    h.reopen()
    assert h.enqueue(*first) == 0  # the same alert again after a restart: still one row
    restarted = h.sender()
    await restarted.drain()
    assert restarted.pending() == 0
    assert h.api.sent_count() == 2
    assert set(h.status().values()) == {"sent"}


class Crash(BaseException):
    """The process dies here (BaseException: the sender's ``except Exception`` lets it by)."""


class CrashingTransport:
    """Delivers ``before_crash`` messages, then dies before or after the next real send."""

    def __init__(self, inner: RecordingTransport, before_crash: int, after_send: bool) -> None:
        self.inner = inner
        self.platform = inner.platform
        self.left = before_crash
        self.after_send = after_send

    async def send(self, chat_id: str, text: str) -> None:
        if self.left == 0 and not self.after_send:
            raise Crash
        await self.inner.send(chat_id, text)
        if self.left == 0:
            raise Crash
        self.left -= 1


@pytest.mark.parametrize("after_send", [False, True])
async def test_a_crash_mid_send_duplicates_at_most_the_messages_in_flight(
    h: Harness, after_send: bool
) -> None:
    chats = range(1, 11)
    for chat in chats:
        h.api.add_chat(chat)
    h.enqueue(*(msg(chat, f"to {chat}") for chat in chats))
    crashing = h.sender()
    crashing.transport = CrashingTransport(h.transport, before_crash=4, after_send=after_send)
    with pytest.raises(Crash):
        await crashing.drain()
    await crashing.abort()  # the process is gone: nothing in flight completes
    statuses = Counter(h.status().values())
    in_flight = statuses["sending"]
    assert 1 <= in_flight <= SenderSettings().max_in_flight
    assert statuses["sent"] >= 4
    assert sum(statuses.values()) == len(chats)
    delivered_before = h.api.sent_count()

    h.reopen()
    await h.sender().drain()
    received = Counter(m.chat_id for m in h.api.sent())
    assert set(received) == set(chats)  # nothing lost
    duplicates = sum(received.values()) - len(chats)
    assert duplicates <= in_flight  # only messages in flight at the crash come twice
    assert duplicates == delivered_before - statuses["sent"]
    assert set(h.status().values()) == {"sent"}


# ---------------------------------------------------------------------- order and priority


async def test_per_chat_order_and_the_most_severe_head_first(h: Harness) -> None:
    for chat in range(1, 51):
        h.api.add_chat(chat)
    # A long queue: chat 1 opens at ALERT, later escalates to CRITICAL; 39 more chats wait
    # at ALERT, and 10 chats get a CRITICAL alert enqueued last.
    h.enqueue(msg(1, "open", Severity.ALERT, alert="ep1:open"))
    h.enqueue(*(msg(chat, f"alert {chat}", Severity.ALERT) for chat in range(2, 41)))
    h.enqueue(msg(1, "escalate", Severity.CRITICAL, alert="ep1:escalate"))
    h.enqueue(*(msg(chat, f"critical {chat}", Severity.CRITICAL) for chat in range(41, 51)))
    # One in flight: the order of arrival is the order of the sender's choices.
    await h.sender(SenderSettings(max_in_flight=1)).drain()

    order = [(m.chat_id, m.text) for m in h.api.sent()]
    assert len(order) == 51
    # Critical heads go first, oldest first; then the oldest ALERT head (chat 1's open).
    assert order[:11] == [(c, f"critical {c}") for c in range(41, 51)] + [(1, "open")]
    assert h.texts(1) == ["open", "escalate"]  # never overtaken, though more severe
    escalate = order.index((1, "escalate"))
    # Once its chat may send again, the CRITICAL escalation jumps the ALERT queue.
    assert escalate < order.index((40, "alert 40"))
    (open_msg, escalate_msg) = h.api.sent(1)
    assert escalate_msg.time - open_msg.time == pytest.approx(1.0, abs=0.05)
    assert h.api.rate_limited == 0


# ---------------------------------------------------------------------- Telegram's limits


async def test_sends_stay_within_telegrams_limits(h: Harness) -> None:
    for chat in range(1, 61):
        h.api.add_chat(chat)
    for chat in range(101, 106):
        h.api.add_chat(chat)
    h.api.add_chat(-1, "group")
    h.api.add_chat(SUPERGROUP, "supergroup")
    h.enqueue(*(msg(-1, f"group {n}", alert=f"g{n}") for n in range(25)))
    h.enqueue(*(msg(SUPERGROUP, f"super {n}", alert=f"s{n}") for n in range(22)))
    h.enqueue(*(msg(c, f"p{c} {n}", alert=f"p{n}") for n in range(3) for c in range(101, 106)))
    h.enqueue(*(msg(chat, f"hello {chat}") for chat in range(1, 61)))
    await h.sender().drain()

    sent = h.api.sent()
    assert len(sent) == 25 + 22 + 15 + 60
    assert h.api.rate_limited == 0  # the fake never had to refuse a send
    assert h.texts(-1) == [f"group {n}" for n in range(25)]
    assert h.texts(101) == [f"p101 {n}" for n in range(3)]
    by_chat: dict[int, list[float]] = {}
    for m in sent:
        by_chat.setdefault(m.chat_id, []).append(m.time)
    for times in by_chat.values():
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert min(gaps, default=1.0) >= 1.0  # at most one message per second per chat
    for group in (-1, SUPERGROUP):
        assert most_in_window(by_chat[group], 60.0) == 20  # 20 per minute, fully used
    assert most_in_window(sent_times(sent), 1.0) <= 30  # 30 per second overall
    # ...and the limits are used, not just respected: the 21st group message goes as soon
    # as the first leaves the minute window, and the 60 one-off chats take about 2 s.
    group_times = by_chat[-1]
    assert group_times[20] - group_times[0] == pytest.approx(60.0, abs=0.1)
    assert max(max(by_chat[c]) for c in range(1, 61)) < 4.0


async def test_late_timers_do_not_lower_the_sustained_rate(h: Harness) -> None:
    """An event loop wakes a sender up a little late (about 1.5 ms on the CI machine: epoll
    rounds timeouts up to whole milliseconds). Pacing must absorb that, not add it to every
    message: 1.5 ms late on each 33.9 ms slot would cost 1.2 msg/s, below the 28.5 target."""
    h.clock.late_by_micros = 1500
    chats = range(1, 301)
    for chat in chats:
        h.api.add_chat(chat)
    h.enqueue(*(msg(chat, f"hello {chat}") for chat in chats))
    await h.sender().drain()

    times = sent_times(h.api.sent())
    assert len(times) == len(chats)
    assert h.api.rate_limited == 0
    assert most_in_window(times, 1.0) <= 30
    rate = (len(times) - 1) / (times[-1] - times[0])
    assert rate >= 28.5, f"{rate:.2f} msg/s sustained"


async def test_a_429_pauses_only_its_chat(h: Harness, caplog: pytest.LogCaptureFixture) -> None:
    for chat in (1, 2, 3):
        h.api.add_chat(chat)
    h.enqueue(msg(1, "a1"), msg(2, "b1"), msg(3, "c1"))
    h.enqueue(msg(1, "a2"), msg(2, "b2"), msg(3, "c2"))
    h.api.fail_next("sendMessage", 429, retry_after=5, chat_id=1)  # chat 1's first message
    with caplog.at_level(logging.WARNING, logger="bot.delivery.sender"):
        await h.sender().drain()

    assert h.texts(1) == ["a1", "a2"]
    assert h.transport.attempts[0].error is not None
    assert h.transport.attempts[0].error.retry_after == 5
    first_try, retry, second = h.transport.times("1")
    assert first_try == 0.0
    assert retry >= 5.0  # retry_after honoured to the letter...
    assert retry == pytest.approx(5.0, abs=0.1)  # ...and not much longer
    assert second - retry >= 1.0
    for chat in (2, 3):
        assert max(m.time for m in h.api.sent(chat)) < 2.5  # the others went on meanwhile
    assert h.api.rate_limited == 0
    assert "flood limit for chat 1" in caplog.text


async def test_a_three_hour_retry_after_blocks_no_other_chat(h: Harness) -> None:
    others = range(2, 32)
    for chat in (1, *others):
        h.api.add_chat(chat)
    h.enqueue(msg(1, "paused"))
    h.enqueue(*(msg(chat, f"first {chat}") for chat in others))
    h.enqueue(*(msg(chat, f"second {chat}", alert=f"b{chat}") for chat in others))
    h.api.fail_next("sendMessage", 429, retry_after=3 * 3600, chat_id=1)
    sender = h.sender()
    while h.api.sent_count() < 2 * len(others) or sender.pending() > 1:
        await sender.step(idle_wait=0.5)
    assert h.clock.monotonic() < 5.0  # every other chat got both messages within seconds
    assert h.api.sent_count(1) == 0
    rows = h.outbox.open_messages(PLATFORM)
    assert [(r.chat_id, r.status) for r in rows] == [("1", "pending")]
    (row,) = rows
    assert row.not_before == EPOCH + timedelta(hours=3)  # stored: survives a restart

    h.reopen()
    await h.sender().drain()
    (paused,) = h.api.sent(1)
    assert paused.time >= 3 * 3600
    assert paused.time == pytest.approx(3 * 3600, abs=1.0)
    assert h.api.sent_count() == 2 * len(others) + 1
    assert h.api.rate_limited == 0


# ---------------------------------------------------------------------- transient failures


async def test_5xx_and_timeouts_back_off_exponentially_with_jitter(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h.api.add_chat(1)
    h.api.add_chat(2)
    h.enqueue(msg(1, "finally"))
    h.enqueue(*(msg(2, f"meanwhile {n}", alert=f"m{n}") for n in range(5)))
    # Chat 1's message: 502, a read timeout, 500, a read timeout, then it goes through.
    h.transport.faults["1"] = deque(["502", "timeout", "500", "timeout"])
    settings = SenderSettings(backoff_base_seconds=1.0, backoff_cap_seconds=300.0)
    with caplog.at_level(logging.WARNING, logger="bot.delivery.sender"):
        await h.sender(settings).drain()

    assert h.texts(1) == ["finally"]  # delivered once, in the end
    assert h.net.timeouts == 2
    outcomes = [
        a.error.message if a.error else "ok" for a in h.transport.attempts if a.chat_id == "1"
    ]
    assert outcomes == ["Bad Gateway", "Timed out", "Internal Server Error", "Timed out", "ok"]
    times = h.transport.times("1")
    gaps = [b - a for a, b in itertools.pairwise(times)]
    factors = [gap / 2**n for n, gap in enumerate(gaps)]  # base * 2^(n) * (1 + jitter)
    assert all(1.0 <= f < 2.0 + 1e-3 for f in factors), factors
    assert len({round(f, 3) for f in factors}) == len(factors)  # jittered, not fixed
    assert gaps == sorted(gaps)
    # Chat 2 was not held up by chat 1's backoff: one message a second from the start.
    assert [round(t) for t in sent_times(h.api.sent(2))] == [0, 1, 2, 3, 4]
    assert caplog.text.count("send to 1 failed") == 4
    assert h.api.rate_limited == 0
    assert set(h.status().values()) == {"sent"}


async def test_gives_up_after_max_attempts_with_an_error_log(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h.api.add_chat(1)
    h.enqueue(msg(1, "doomed"), msg(1, "next"))
    h.api.fail_next("sendMessage", 503, times=3)
    with caplog.at_level(logging.WARNING, logger="bot.delivery.sender"):
        await h.sender(SenderSettings(max_attempts=3, give_up_after=timedelta(0))).drain()

    assert h.texts(1) == ["next"]
    assert len(h.transport.times("1")) == 4  # three tries for "doomed", then "next"
    assert h.status() == {"alert-doomed|telegram|1|0": "failed", "alert-next|telegram|1|0": "sent"}
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "giving up on alert-doomed|telegram|1|0 to 1 after 3 attempts" in errors[0].getMessage()


async def test_an_outage_delays_alerts_but_does_not_drop_them(h: Harness) -> None:
    h.api.add_chat(1)
    h.enqueue(msg(1, "during the outage"))
    h.api.fail_next("sendMessage", 503, times=12)  # far more failures than max_attempts
    await h.sender(SenderSettings(max_attempts=3)).drain()

    assert h.texts(1) == ["during the outage"]
    assert len(h.transport.times("1")) == 13
    assert h.status() == {"alert-during the outage|telegram|1|0": "sent"}


class HeldTransport:
    """Holds chat 1's sends until ``release`` is set: an answer that takes seconds."""

    def __init__(self, inner: RecordingTransport) -> None:
        self.inner = inner
        self.platform = inner.platform
        self.release = asyncio.Event()

    async def send(self, chat_id: str, text: str) -> None:
        if chat_id == "1":
            await self.release.wait()
        await self.inner.send(chat_id, text)


async def test_a_slow_answer_holds_up_no_other_chat(h: Harness) -> None:
    chats = range(1, 21)
    for chat in chats:
        h.api.add_chat(chat)
    h.enqueue(*(msg(chat, f"to {chat}") for chat in chats))
    sender = h.sender()
    held = HeldTransport(h.transport)
    sender.transport = held
    while h.api.sent_count() < len(chats) - 1:
        await sender.step(idle_wait=0.5)

    assert h.api.sent_count(1) == 0  # still waiting for its answer
    assert h.clock.monotonic() < 1.0  # the other 19 did not wait for it
    held.release.set()
    await sender.drain()
    assert h.texts(1) == ["to 1"]  # once: a slow answer is not a failure
    assert h.api.rate_limited == 0


class OutageTransport:
    """Every send fails with a 503 until ``until`` virtual seconds, as a Bot API outage."""

    def __init__(self, inner: RecordingTransport, clock: VirtualClock, until: float) -> None:
        self.inner = inner
        self.platform = inner.platform
        self.clock = clock
        self.until = until

    async def send(self, chat_id: str, text: str) -> None:
        if self.clock.monotonic() < self.until:
            self.inner.api.fail_next("sendMessage", 503, chat_id=int(chat_id))
        await self.inner.send(chat_id, text)


async def test_after_an_outage_full_rate_returns_within_seconds(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    chats = range(1, 101)
    for chat in chats:
        h.api.add_chat(chat)
    h.enqueue(*(msg(chat, f"to {chat}") for chat in chats))
    sender = h.sender()
    sender.transport = OutageTransport(h.transport, h.clock, until=30.0)
    with caplog.at_level(logging.WARNING, logger="bot.delivery.sender"):
        await sender.drain()

    times = sent_times(h.api.sent())
    assert len(times) == len(chats)  # nothing lost
    assert times[0] <= 30.0 + 2 * SenderSettings().probe_seconds  # the next probe gets through
    # ...and it releases every retry at once: the rest go at the platform's rate.
    assert times[-1] - times[0] <= len(chats) / 29 + 1.0
    failed = [a for a in h.transport.attempts if a.error is not None]
    # While the platform is out, one probe at a time, not one retry per message.
    assert len(failed) <= SenderSettings().max_in_flight + 30 / SenderSettings().probe_seconds + 2
    assert "the platform looks out" in caplog.text
    assert "the platform answers again" in caplog.text
    assert h.api.rate_limited == 0


# ---------------------------------------------------------------------- permanent failures


async def test_blocked_kicked_and_missing_chats_are_dropped_and_disabled(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    blocked, kicked, missing, healthy = 1, -2, 3, 4
    h.api.add_chat(blocked)
    h.api.add_chat(kicked, "group")
    h.api.add_chat(healthy)
    h.api.block(blocked)
    h.api.kick(kicked)  # chat 3 was never known to the fake: "chat not found"
    for chat in (blocked, kicked, missing, healthy):
        h.subscribe(chat)
        h.enqueue(msg(chat, f"one {chat}", alert="a1"), msg(chat, f"two {chat}", alert="a2"))
    with caplog.at_level(logging.WARNING, logger="bot.delivery.sender"):
        await h.sender().drain()

    assert h.texts(healthy) == ["one 4", "two 4"]
    assert h.api.sent_count() == 2
    for chat in (blocked, kicked, missing):
        assert len(h.transport.times(str(chat))) == 1  # one try, no loop
    reasons = dict(h.unreachable)
    assert set(reasons) == {"1", "-2", "3"}
    assert "blocked by the user" in reasons["1"]
    assert "kicked" in reasons["-2"]
    assert reasons["3"].lower() == "chat not found"
    assert [c.chat_id for c in h.store.subscribed_chats(PLATFORM)] == ["4"]
    assert h.store.chat(PLATFORM, "1").disabled_reason == reasons["1"]
    assert Counter(h.status().values()) == {"dropped": 6, "sent": 2}
    assert caplog.text.count("unreachable") == 3
    assert "2 queued messages dropped" in caplog.text


async def test_a_migrated_group_gets_its_messages_at_the_new_id(h: Harness) -> None:
    old = -100
    h.api.add_chat(old, "group")
    h.api.add_chat(7)
    h.api.migrate(old, SUPERGROUP)
    h.subscribe(old, "de")
    h.enqueue(*(msg(old, f"m{n}", alert=f"a{n}") for n in range(3)), msg(7, "other"))
    await h.sender().drain()

    assert h.texts(SUPERGROUP) == ["m0", "m1", "m2"]
    assert h.texts(old) == []
    assert h.texts(7) == ["other"]
    assert h.migrated == [(str(old), str(SUPERGROUP))]
    assert [(c.chat_id, c.language) for c in h.store.subscribed_chats(PLATFORM)] == [
        (str(SUPERGROUP), "de")
    ]
    rows = h.store.connection.execute("SELECT chat_id, status FROM outbox").fetchall()
    assert Counter(rows) == {(str(SUPERGROUP), "sent"): 3, ("7", "sent"): 1}
    assert len(h.transport.times(str(old))) == 1
    assert h.unreachable == []


async def test_a_group_subscribed_again_under_its_new_id_gets_each_message_once(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """The bot learns of the upgrade only when a send fails; meanwhile the admins subscribed
    the supergroup again, so both ids hold the same alert. The supergroup gets it once, the
    old copy is dropped, and the sender goes on (before: a UNIQUE error on every try)."""
    old = -100
    h.api.add_chat(old, "group")
    h.api.migrate(old, SUPERGROUP)
    h.subscribe(old)
    h.subscribe(SUPERGROUP)
    h.enqueue(msg(old, "shock", alert="a1"), msg(SUPERGROUP, "shock", alert="a1"))
    h.enqueue(msg(old, "more", alert="a2"))
    with caplog.at_level(logging.ERROR):
        await h.sender().drain()

    assert sorted(h.texts(SUPERGROUP)) == ["more", "shock"]
    rows = h.store.connection.execute("SELECT chat_id, alert_key, status FROM outbox").fetchall()
    assert Counter(rows) == {
        (str(SUPERGROUP), "a1", "sent"): 1,
        (str(SUPERGROUP), "a2", "sent"): 1,
        (str(old), "a1", "dropped"): 1,
    }
    assert [c.chat_id for c in h.store.subscribed_chats(PLATFORM)] == [str(SUPERGROUP)]
    assert caplog.records == []


async def test_a_chat_with_unreadable_settings_does_not_stop_a_fan_out(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    for chat in (1, 2, 3):
        h.subscribe(chat)
        h.api.add_chat(chat)
    h.store.connection.execute(  # edited by hand: a time zone that does not exist
        "UPDATE chats SET quiet = ? WHERE chat_id = '2'",
        ('{"start": "22:00", "end": "07:00", "timezone": "Mars/Olympus", "critical": true}',),
    )
    sender = h.sender()
    sink = OutboxSink(
        PLATFORM,
        h.outbox,
        h.store,
        load_universe(),
        lambda alert, language: [alert.key],
        is_group_chat,
        h.clock.now,
        sender,
    )
    with h.store.transaction():
        sink.stage(big_alert("k1"))
    assert sender.backlog() == 1  # a plan, not expanded yet
    with caplog.at_level(logging.WARNING, logger="bot.delivery.fanout"):
        await sender.drain()

    assert [h.texts(chat) for chat in (1, 2, 3)] == [["k1"], [], ["k1"]]
    assert "skips chat 2: its stored settings cannot be read" in caplog.text
    assert sender.backlog() == 0


async def test_a_message_too_long_after_rendering_is_skipped(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h.api.add_chat(1)
    h.enqueue(
        msg(1, "x" * 5000, alert="long"), msg(1, "<b>unclosed", alert="html"), msg(1, "after")
    )
    with caplog.at_level(logging.WARNING, logger="bot.delivery.sender"):
        await h.sender().drain()

    assert h.texts(1) == ["after"]  # the next message of the chat still goes
    assert len(h.transport.times("1")) == 3  # one try each: no retry, no loop
    assert Counter(h.status().values()) == {"failed": 2, "sent": 1}
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2
    assert (
        errors[0]
        == "telegram: message long|telegram|1|0 to 1 rejected for good: Message is too long"
    )
    assert errors[1].startswith("telegram: message html|telegram|1|0 to 1 rejected for good: ")
    assert "can't parse entities" in errors[1].lower()
    assert h.unreachable == []
    assert h.clock.monotonic() < 3.0


# ---------------------------------------------------------------------- alerts into the outbox


def big_alert(key: str, severity: Severity = Severity.ALERT) -> Alert:
    stats = sample_stats()
    headlines = tuple(
        Headline(
            f"Story {n}: <AI> & chips - export rules tighten again for accelerators, "
            "memory and the packaging lines behind them",
            "wire",
            f"https://news.example/{n}?a=1&b=2",
            EPOCH,
        )
        for n in range(40)
    )
    return Alert(
        key=key,
        episode_id="2025-01-27:us:down",
        kind=AlertKind.OPEN,
        label=Label.DIVERGENCE_DOWN,
        severity=severity,
        region="us",
        direction="down",
        fired_at=EPOCH,
        data_time=EPOCH - timedelta(minutes=5),
        stats=stats,
        reasons=("AI infrastructure -17.34% vs market -1.23%",),
        headlines=headlines,
    )


async def test_outbox_sink_renders_per_language_filters_and_splits(h: Harness) -> None:
    english, german, default, group = 1001, 1002, 1003, -500
    h.subscribe(english, "en")
    h.subscribe(german, "de")
    h.subscribe(default)  # no language chosen: English
    h.subscribe(group, "en")
    h.subscribe(1004, min_severity=Severity.CRITICAL)  # wants only critical alerts
    h.subscribe(1005, subscribed=False)
    h.subscribe(1006, disabled_reason="Forbidden: bot was blocked by the user")
    for chat in (english, german, default, 1004, 1005, 1006):
        h.api.add_chat(chat)
    h.api.add_chat(group, "group")

    sender = h.sender()
    sink = OutboxSink(
        PLATFORM,
        h.outbox,
        h.store,
        load_universe(),
        render_alert,
        is_group_chat,
        h.clock.now,
        sender,
    )
    alert = big_alert("2025-01-27:us:down:open")
    parts = {language: render_alert(alert, language) for language in ("en", "de")}
    assert len(parts["en"]) == 2  # too long for one message: split
    assert parts["en"] != parts["de"]
    await sink.send_alert(alert)
    await sink.send_alert(alert)  # again (a retry, a restart): no new rows

    rows = h.outbox.open_messages(PLATFORM)
    expected = {english: "en", german: "de", default: "en", group: "en"}
    assert len(rows) == sum(len(parts[language]) for language in expected.values())
    for row in rows:
        language = expected[int(row.chat_id)]
        part = int(row.key.rsplit("|", 1)[1])
        assert row.key == f"{alert.key}|telegram|{row.chat_id}|{part}"
        assert h.outbox.text(row.body_id) == parts[language][part]
        assert row.is_group is (row.chat_id == str(group))
        assert row.severity == Severity.ALERT
        assert row.alert_key == alert.key

    await sender.drain()
    for chat, language in expected.items():
        assert h.texts(chat) == parts[language]  # every part, in order
    assert "<AI> & chips" in h.api.sent(english)[-1].plain_text  # escaped, then parsed back
    for chat in (1004, 1005, 1006):
        assert h.api.sent_count(chat) == 0
    assert h.api.rate_limited == 0


async def test_outbox_sink_then_a_crash_safe_restart(h: Harness) -> None:
    """The sink's rows are in the file before anything is sent: a restart delivers them."""
    for chat in range(1, 6):
        h.subscribe(chat)
        h.api.add_chat(chat)
    sink = OutboxSink(
        PLATFORM,
        h.outbox,
        h.store,
        load_universe(),
        lambda alert, language: [f"{alert.key} ({language})"],
        is_group_chat,
        h.clock.now,
    )
    await sink.send_alert(big_alert("k1"))
    h.reopen()  # the process went down before the sender ran
    await h.sender().drain()
    assert [h.texts(chat) for chat in range(1, 6)] == [["k1 (en)"]] * 5


async def test_a_fan_out_cut_short_resumes_at_its_cursor_and_yields_between_chunks(
    h: Harness,
) -> None:
    """The plan is stored with the alert; chunks of chats become rows, each chunk its own
    transaction. A restart after the first chunk resumes at the cursor: every chat gets its
    message once. The sender lets the event loop run between chunks."""
    chats = list(range(1001, 1013))
    for chat in chats:
        h.subscribe(chat)
        h.api.add_chat(chat)

    def sink_for(sender: OutboxSender | None) -> OutboxSink:
        sink = OutboxSink(
            PLATFORM,
            h.outbox,
            h.store,
            load_universe(),
            lambda alert, language: [f"{alert.key} ({language})"],
            is_group_chat,
            h.clock.now,
            sender,
        )
        sink.fanout.chunk = 5
        return sink

    with h.store.transaction():
        assert sink_for(None).stage(big_alert("k1")) == 1
        assert sink_for(None).stage(big_alert("k1")) == 0  # planned once
    first = sink_for(None)
    assert first.fanout.expand_chunk(h.clock.now()) == 5
    assert h.outbox.counts(PLATFORM) == {"pending": 5}
    h.reopen()  # the process went down mid fan-out

    sender = h.sender()
    sink = sink_for(sender)
    assert sink.fanout.open_plans() == 1
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    ticking = asyncio.create_task(ticker())
    await sender.drain()
    ticking.cancel()

    assert [h.texts(chat) for chat in chats] == [["k1 (en)"]] * len(chats)
    assert h.outbox.counts(PLATFORM) == {"sent": len(chats)}
    assert sink.fanout.open_plans() == 0
    (added,) = h.store.connection.execute("SELECT added FROM fanouts").fetchone()
    assert added == len(chats)
    assert ticks >= 2  # the loop ran between the two remaining chunks


async def test_test_helpers() -> None:
    times = [0.0, 0.5, 0.99, 1.0, 1.5, 1.9]
    assert most_in_window(times, 1.0) == 4  # 0.99 .. 1.9 (0.0 left the window at 1.0)
    clock = VirtualClock()
    await clock.sleep(1.5)
    assert clock.seconds(clock.now()) == pytest.approx(1.5, abs=1e-5)


async def test_the_sender_loop_survives_a_failing_database(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h.api.add_chat(1)
    h.enqueue(msg(1, "queued"))
    stop = asyncio.Event()
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 3:
            stop.set()

    sender = OutboxSender(h.outbox, h.transport, SenderSettings(), sleep=sleep)
    h.store.close()  # every database call of the loop now fails
    with caplog.at_level(logging.ERROR, logger="bot.delivery.sender"):
        await sender.run(stop)  # returns when stopped: it did not die on the first error

    assert waits == [2.0, 4.0, 8.0]
    assert sum("sender loop failed" in r.getMessage() for r in caplog.records) == 3


# ---------------------------------------------------------------------- from reading to outbox


async def test_an_alert_is_stored_with_all_its_messages_or_not_at_all(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.delivery.sinks import Dispatcher
    from bot.detection.detect import Reading
    from bot.detection.regions import scan_regions
    from bot.episodes import EpisodeBook, EpisodeRules
    from bot.pipeline import AlertPipeline

    universe = load_universe()
    broken = [True]

    def render(alert: Alert, language: Language) -> list[str]:
        if broken[0]:
            raise RuntimeError("renderer bug")
        return render_alert(alert, language)

    for chat in (1, 2):
        h.api.add_chat(chat)
        h.subscribe(chat)
    sender = h.sender()
    sink = OutboxSink(
        PLATFORM, h.outbox, h.store, universe, render, is_group_chat, h.clock.now, sender
    )
    pipeline = AlertPipeline(EpisodeBook(EpisodeRules()), h.store, Dispatcher([sink]))
    (us,) = scan_regions(universe, ["us"])
    reading = Reading(
        "us", h.clock.now(), Label.DIVERGENCE_DOWN, Severity.CRITICAL, 1.0, sample_stats()
    )

    with caplog.at_level(logging.ERROR, logger="bot.pipeline"):
        assert await pipeline.handle(reading, us, EPOCH.date(), h.clock.now()) == []
    assert "could not be stored; nothing of them was kept" in caplog.text
    assert h.store.alerts() == []  # not recorded as raised...
    assert h.store.episodes() == []  # ...the episode did not move...
    assert h.status() == {}  # ...and no message half-written

    broken[0] = False
    (alert,) = await pipeline.handle(reading, us, EPOCH.date(), h.clock.now())
    await sender.drain()
    assert alert.kind is AlertKind.OPEN
    assert [len(h.texts(chat)) for chat in (1, 2)] == [1, 1]
    assert len(h.store.alerts()) == 1


async def test_one_sender_per_database_and_a_stale_lease_is_taken_over(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h.api.add_chat(1)
    h.enqueue(msg(1, "once"))
    other = "other-host pid 9"
    assert (
        h.store.take_lease("sender:telegram", other, h.clock.now(), timedelta(seconds=30)) is None
    )
    sender = h.sender()
    sender.owner = "this-host pid 1"
    stop = asyncio.Event()

    async def stop_when_sent() -> None:
        await h.api.wait_for_sent(1, 1, timeout=30)
        stop.set()

    with caplog.at_level(logging.INFO, logger="bot.delivery.sender"):
        await asyncio.gather(sender.run(stop), stop_when_sent())

    (sent,) = h.api.sent(1)
    assert sent.time >= 30.0  # only once the other process's lease had run out
    refusals = [r for r in caplog.records if "another bot process" in r.getMessage()]
    assert len(refusals) == 1  # said once, not every ten seconds
    assert other in refusals[0].getMessage()
    assert "this process sends" in caplog.text
    # A clean stop hands the lease back at once.
    assert (
        h.store.take_lease("sender:telegram", other, h.clock.now(), timedelta(seconds=30)) is None
    )
