"""The outbox at 50,000 chats: an alert and its recovery into the outbox, the longest the event
loop is held meanwhile, and the sender's CPU a message.

Staging writes the alert's texts and fan-out plan in its transaction; the plan is then expanded
a chunk of chats at a time, as the sender does between sends, with a 1 ms timer watching the
event loop. The sender drains every message through a transport that answers at
once and limits that never hold it back: what remains is the sender's own bookkeeping (heaps,
outbox rows), measured as process CPU time. Run alone with ``python -m benchmarks.outbox_scale``.
"""

from __future__ import annotations

import asyncio
import gc
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from benchmarks.fanout import _alert
from bot.adapters.telegram import is_group_chat, render_alert
from bot.alerts import Alert, AlertKind
from bot.delivery.outbox import Outbox
from bot.delivery.outbox_sink import OutboxSink
from bot.delivery.ratelimit import Limits
from bot.delivery.sender import OutboxSender, SenderSettings, utc_now
from bot.storage.store import Store
from bot.storage.subscriptions import ChatSettings
from bot.universe import load_universe

ENQUEUE_TARGET_SECONDS = 1.0
SENDER_TARGET_MS = 1.0
LOOP_BLOCK_TARGET_MS = 50.0


class InstantTransport:
    platform = "telegram"

    async def send(self, chat_id: str, text: str) -> None:
        return None


class LoopWatch:
    """The longest the event loop went without running this watcher's 1 ms timer."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _watch(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            self.longest = max(self.longest, now - last - 0.001)
            last = now

    def __enter__(self) -> LoopWatch:
        self._task = asyncio.get_running_loop().create_task(self._watch())
        return self

    def __exit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def _fan_out(sink: OutboxSink, store: Store, alert: Alert) -> tuple[float, float, int]:
    """Stage the alert (in its transaction) and expand its plan as the sender does; returns
    (seconds until every row is in the outbox, longest event-loop block, rows)."""
    before = sink.outbox.counts("telegram")
    with LoopWatch() as watch:
        started = time.perf_counter()
        with store.transaction():
            sink.stage(alert)
        while sink.fanout.has_work:  # what OutboxSender.step does between sends
            sink.fanout.expand_chunk(utc_now())
            await asyncio.sleep(0)
        seconds = time.perf_counter() - started
        await asyncio.sleep(0.002)  # the watcher sees the last stretch
    after = sink.outbox.counts("telegram")
    rows = sum(after.values()) - sum(before.values())
    return seconds, watch.longest, rows


async def _run(chats: int, db: Path) -> dict[str, float]:
    store = Store(db)
    now = utc_now()
    with store.transaction():
        for n in range(chats):
            store.save_chat(ChatSettings("telegram", str(100_000_000 + n), subscribed=True), now)
    outbox = Outbox(store)
    unlimited = Limits(
        per_chat_interval=timedelta(0),
        group_per_minute=1_000_000,
        overall_per_second=1_000_000,
        overall_margin=timedelta(0),
    )
    sender = OutboxSender(outbox, InstantTransport(), SenderSettings(limits=unlimited))
    sink = OutboxSink(
        "telegram", outbox, store, load_universe(), render_alert, is_group_chat, utc_now, sender
    )
    gc.freeze()  # as App.run does once started
    episode = f"{now:%Y-%m-%d}:us:down@{now:%H%M%S}"  # keys as EpisodeBook makes them
    alert = replace(_alert(now), key=f"{episode}:open:critical")
    open_seconds, open_block, opened = await _fan_out(sink, store, alert)

    cpu = time.process_time()
    with LoopWatch() as watch:
        await sender.drain()
    sender_cpu = time.process_time() - cpu

    recovery = replace(alert, key=f"{episode}:recover", kind=AlertKind.RECOVER)
    recover_seconds, recover_block, recovered = await _fan_out(sink, store, recovery)
    store.close()
    return {
        "chats": float(chats),
        "open_messages": float(opened),
        "open_seconds": open_seconds,
        "open_block_ms": 1000 * open_block,
        "recovery_messages": float(recovered),
        "recovery_seconds": recover_seconds,
        "recovery_block_ms": 1000 * recover_block,
        "sender_ms_per_message": 1000 * sender_cpu / max(opened, 1),
        "sender_block_ms": 1000 * watch.longest,
    }


def outbox_scale(chats: int = 50_000) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="outbox-scale-") as tmp:
        return asyncio.run(_run(chats, Path(tmp) / "bot.db"))


def summary(result: dict[str, float]) -> str:
    block = max(result["open_block_ms"], result["recovery_block_ms"], result["sender_block_ms"])
    meets = (
        result["open_seconds"] <= ENQUEUE_TARGET_SECONDS
        and result["recovery_seconds"] <= ENQUEUE_TARGET_SECONDS
        and block <= LOOP_BLOCK_TARGET_MS
        and result["sender_ms_per_message"] <= SENDER_TARGET_MS
    )
    return (
        f"| outbox at {result['chats']:.0f} chats | an alert in the outbox "
        f"{result['open_seconds']:.2f} s ({result['open_messages']:.0f} rows), its recovery "
        f"{result['recovery_seconds']:.2f} s ({result['recovery_messages']:.0f} rows); longest "
        f"event-loop block {block:.0f} ms (fan-out {result['open_block_ms']:.0f} / "
        f"{result['recovery_block_ms']:.0f} ms, sending {result['sender_block_ms']:.0f} ms); "
        f"sender {result['sender_ms_per_message']:.2f} ms CPU per message "
        f"({'meets' if meets else 'MISSES'} <= {ENQUEUE_TARGET_SECONDS:.0f} s, "
        f"<= {LOOP_BLOCK_TARGET_MS:.0f} ms and <= {SENDER_TARGET_MS:.0f} ms) |"
    )


if __name__ == "__main__":
    from benchmarks import machine

    print(f"machine: {machine.describe()}")
    print(summary(outbox_scale()))
