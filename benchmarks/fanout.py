"""Fan-out: one alert to 1,000 Telegram chats through the outbox, against a fake Bot API that
enforces Telegram's limits (429 with ``retry_after`` when exceeded) and answers some 502s.

The real path end to end: ``OutboxSink`` renders the alert per chat language and stores one row
per chat; the real ``OutboxSender`` with the real ``TelegramTransport`` and python-telegram-bot
drains it on the real clock. The fake runs in the same process and event loop (on 127.0.0.1), so
its own cost is part of every send. Run alone with ``python -m benchmarks.fanout``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("PTB_TIMEDELTA", "true")  # retry_after as a timedelta, no warning

from telegram import Bot

from bot.adapters.telegram import TelegramTransport, is_group_chat, render_alert
from bot.alerts import Alert, AlertKind
from bot.delivery.outbox import Outbox
from bot.delivery.outbox_sink import OutboxSink
from bot.delivery.sender import OutboxSender, TransportError, utc_now
from bot.detection.detect import Label, Severity
from bot.render.i18n import Language
from bot.storage.store import Store
from bot.storage.subscriptions import ChatSettings
from bot.universe import load_universe
from tests.factories import sample_stats
from tests.fakes.telegram_api import FakeBotApi

TOKEN = "123:ABC"  # noqa: S105 - the fake's token
PRIVATE_TARGET_PER_SECOND = 28.5
FIRST_PRIVATE = 100_000_001
FIRST_GROUP = -4_000_001
FIRST_SUPERGROUP = -1_002_000_000_001


class CountingTransport:
    """The real transport, counting what came back: 429s, transient and permanent errors.

    ``latency`` (seconds) is added to every answer, as a round trip to the real Bot API would;
    chats in ``slow`` get their answer only after ``slow_seconds`` (the message arrived).
    """

    def __init__(
        self,
        inner: TelegramTransport,
        latency: float = 0.0,
        slow: frozenset[str] = frozenset(),
        slow_seconds: float = 5.0,
    ) -> None:
        self.inner = inner
        self.platform = inner.platform
        self.latency = latency
        self.slow = slow
        self.slow_seconds = slow_seconds
        self.errors: Counter[str] = Counter()

    async def send(self, chat_id: str, text: str) -> None:
        try:
            await self.inner.send(chat_id, text)
            delay = self.slow_seconds if chat_id in self.slow else self.latency
            if delay:
                await asyncio.sleep(delay)
        except TransportError as exc:
            if exc.retry_after is not None:
                self.errors["429"] += 1
            elif exc.permanent or exc.unreachable or exc.migrate_to:
                self.errors["permanent"] += 1
            else:
                self.errors["transient"] += 1
            raise


def _alert(now: datetime) -> Alert:
    stats = sample_stats()
    return Alert(
        key=f"{now:%Y-%m-%d}:us:down:open",
        episode_id=f"{now:%Y-%m-%d}:us:down",
        kind=AlertKind.OPEN,
        label=Label.DIVERGENCE_DOWN,
        severity=Severity.CRITICAL,
        region="us",
        direction="down",
        fired_at=now,
        data_time=now - timedelta(minutes=5),
        stats=stats,
        agreeing_regions=("jp",),
        reasons=("AI infrastructure -17.34% vs market -1.23%",),
    )


def _chat_ids(privates: int, groups: int) -> tuple[list[int], list[int]]:
    private_ids = [FIRST_PRIVATE + n for n in range(privates)]
    group_ids = [
        FIRST_GROUP - n // 2 if n % 2 == 0 else FIRST_SUPERGROUP - n // 2 for n in range(groups)
    ]
    return private_ids, group_ids


def _rate(times: list[float], start: float, end: float) -> float:
    """Sends per second from ``start`` to ``end`` (both sends), counting every send between."""
    if end <= start:
        return 0.0
    inside = sum(1 for t in times if start <= t <= end)
    return (inside - 1) / (end - start)


def _sustained(times: list[float], tail: float = 0.05) -> float:
    """The rate of the bulk: from the send at the ``tail`` quantile to the one at ``1 - tail``
    (the first second's ramp and the last retries after a back-off are left out)."""
    if len(times) < 20:
        return 0.0
    low, high = int(len(times) * tail), int(len(times) * (1 - tail))
    return (high - low) / (times[high] - times[low])


class _CountingHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.levels: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.levels[record.levelname] += 1


def _every(ids: list[int], share: float, offset: int) -> list[int]:
    """A spread-out ``share`` of ``ids`` (deterministic)."""
    if share <= 0:
        return []
    step = max(1, round(1 / share))
    return ids[offset::step]


async def _fanout(
    privates: int, groups: int, faults: Faults, latency: float, db: Path
) -> dict[str, float]:
    private_ids, group_ids = _chat_ids(privates, groups)
    every = private_ids + group_ids
    failing = _every(every, faults.server_errors, 3)
    slow = frozenset(str(c) for c in _every(every, faults.slow_answers, 7))
    blocked = _every(private_ids, faults.blocked, 11)
    async with FakeBotApi(token=TOKEN, enforce_limits=True, log_requests=False) as api:
        for chat in private_ids:
            api.add_chat(chat, "private")
        for chat in group_ids:
            api.add_chat(chat, "group" if chat > -1_000_000_000_000 else "supergroup")
        for chat in failing:
            api.fail_next("sendMessage", 502, chat_id=chat)
        for chat in blocked:
            api.block(chat)
        store = Store(db)
        now = utc_now()
        for n, chat in enumerate(private_ids + group_ids):
            language: Language = "de" if n % 3 == 0 else "en"
            store.save_chat(ChatSettings("telegram", str(chat), language, subscribed=True), now)
        outbox = Outbox(store)
        async with Bot(TOKEN, base_url=api.base_url, base_file_url=api.base_file_url) as bot:
            transport = CountingTransport(TelegramTransport(bot), latency, slow)
            sender = OutboxSender(
                outbox,
                transport,
                on_unreachable=lambda chat, why: store.disable_chat("telegram", chat, why, now),
            )
            sink = OutboxSink(
                "telegram",
                outbox,
                store,
                load_universe(),
                render_alert,
                is_group_chat,
                utc_now,
                sender,
            )
            alert = _alert(now)
            await sink.send_alert(alert)
            gone = {str(c) for c in blocked}
            expected = {
                (int(m.chat_id), outbox.text(m.body_id))
                for m in outbox.open_messages("telegram")
                if m.chat_id not in gone
            }
            started = time.perf_counter()
            await sender.drain()
            seconds = time.perf_counter() - started
        counts = outbox.counts("telegram")
        latencies = outbox.latencies("telegram")
        store.close()
        sent = api.sent()
        limited = api.rate_limited

    received = Counter((m.chat_id, m.text) for m in sent)
    times = sorted(m.time for m in sent)
    # Rows go out oldest first: the groups (their ids sort first), then the private chats.
    # Each phase runs from its first send to the next phase's (or the last) send; a retried
    # message is counted where it finally went.
    first_private = min((m.time for m in sent if m.chat_id > 0), default=times[-1])
    percentiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {
        "chats": float(privates + groups),
        "messages": float(len(expected)),
        "seconds": seconds,
        "msgs_per_s": len(sent) / seconds,
        "private_msgs_per_s": _rate(times, first_private, times[-1]),
        "sustained_msgs_per_s": _sustained(times),
        "group_msgs_per_s": _rate(times, times[0], first_private),
        "rate_limited_429": float(transport.errors["429"]),
        "rate_limited_by_fake": float(limited),
        "injected_5xx": float(transport.errors["transient"]),
        "permanent_errors": float(transport.errors["permanent"]),
        "blocked": float(len(blocked)),
        "disabled": float(sum(1 for c in blocked if not store_chat_subscribed(db, c))),
        "lost": float(sum(1 for key in expected if key not in received)),
        "duplicated": float(sum(n - 1 for n in received.values())),
        "unexpected": float(sum(1 for key in received if key not in expected)),
        "not_sent_rows": float(sum(v for k, v in counts.items() if k != "sent")),
        "latency_p50_s": percentiles[49],
        "latency_p99_s": percentiles[98],
    }


@dataclass(frozen=True)
class Faults:
    """Shares of chats whose first send fails with a 502, whose answer comes after 5 s, and
    which blocked the bot."""

    server_errors: float = 0.02
    slow_answers: float = 0.01
    blocked: float = 0.01


def store_chat_subscribed(db: Path, chat: int) -> bool:
    store = Store(db)
    try:
        return store.chat("telegram", str(chat)).disabled_reason is None
    finally:
        store.close()


def fanout(
    privates: int = 1000,
    groups: int = 50,
    faults: Faults | None = None,
    added_latency_ms: float = 100.0,
) -> dict[str, float]:
    """One alert to ``privates + groups`` chats; see the module docstring for the set-up.

    ``added_latency_ms`` delays every answer of the fake, like the round trip to the real Bot
    API (real Telegram answers in 50-150 ms from most places).
    """
    sender_log = logging.getLogger("bot.delivery.sender")
    counting = _CountingHandler()
    sender_log.addHandler(counting)
    propagate, sender_log.propagate = sender_log.propagate, False  # one warning per retry
    try:
        with tempfile.TemporaryDirectory(prefix="fanout-") as tmp:
            db = Path(tmp) / "bot.db"
            latency = added_latency_ms / 1000
            result = asyncio.run(_fanout(privates, groups, faults or Faults(), latency, db))
    finally:
        sender_log.removeHandler(counting)
        sender_log.propagate = propagate
    result["sender_warnings"] = float(counting.levels["WARNING"])
    result["sender_errors"] = float(counting.levels["ERROR"])
    return result


def summary(result: dict[str, Any]) -> str:
    """One Markdown table row, as ``python -m benchmarks`` prints them."""
    meets = (
        result["sustained_msgs_per_s"] >= PRIVATE_TARGET_PER_SECOND
        and result["lost"] == 0
        and result["duplicated"] == 0
        and result["rate_limited_by_fake"] == 0
        and result["disabled"] == result["blocked"]
    )
    verdict = "meets" if meets else "MISSES"
    return (
        f"| fan-out, {result['chats']:.0f} Telegram chats ({result['messages']:.0f} messages), "
        f"fake Bot API enforcing limits, 100 ms round trip, {result['injected_5xx']:.0f} 5xx, "
        f"1 % answers after 5 s, {result['blocked']:.0f} blocked | "
        f"{result['seconds']:.1f} s, {result['msgs_per_s']:.1f} msg/s overall, "
        f"{result['sustained_msgs_per_s']:.2f} msg/s sustained (5-95 % of sends), "
        f"{result['private_msgs_per_s']:.2f} msg/s private chats to the last retry, "
        f"{result['group_msgs_per_s']:.2f} msg/s groups; "
        f"{result['rate_limited_429']:.0f} 429s; {result['disabled']:.0f} blocked chats "
        f"disabled; lost {result['lost']:.0f}, "
        f"duplicated {result['duplicated']:.0f}; latency p50 {result['latency_p50_s']:.1f} s, "
        f"p99 {result['latency_p99_s']:.1f} s ({verdict} the "
        f"{PRIVATE_TARGET_PER_SECOND} msg/s, zero lost, duplicated and 429 target) |"
    )


if __name__ == "__main__":
    from benchmarks import machine

    print(f"machine: {machine.describe()}")
    print(summary(fanout()))
