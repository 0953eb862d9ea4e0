"""The outbox at 50,000 chats: staging an alert and its recovery, and the sender's CPU a message.

Staging runs on the event loop (it writes in the alert's transaction), so its time is also how
long the loop is held. The sender drains every message through a transport that answers at
once and limits that never hold it back: what remains is the sender's own bookkeeping (heaps,
outbox rows), measured as process CPU time. Run alone with ``python -m benchmarks.outbox_scale``.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from benchmarks.fanout import _alert
from bot.adapters.telegram import is_group_chat, render_alert
from bot.alerts import AlertKind
from bot.delivery.outbox import Outbox
from bot.delivery.outbox_sink import OutboxSink
from bot.delivery.ratelimit import Limits
from bot.delivery.sender import OutboxSender, SenderSettings, utc_now
from bot.storage.store import Store
from bot.storage.subscriptions import ChatSettings
from bot.universe import load_universe

ENQUEUE_TARGET_SECONDS = 1.0
SENDER_TARGET_MS = 1.0


class InstantTransport:
    platform = "telegram"

    async def send(self, chat_id: str, text: str) -> None:
        return None


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
    sender = OutboxSender(
        outbox, InstantTransport(), SenderSettings(limits=unlimited, max_in_flight=64)
    )
    sink = OutboxSink(
        "telegram", outbox, store, load_universe(), render_alert, is_group_chat, utc_now, sender
    )
    episode = f"{now:%Y-%m-%d}:us:down@{now:%H%M%S}"  # keys as EpisodeBook makes them
    alert = replace(_alert(now), key=f"{episode}:open:critical")

    started = time.perf_counter()
    with store.transaction():
        opened = sink.stage(alert)
    open_seconds = time.perf_counter() - started

    cpu = time.process_time()
    await sender.drain()
    sender_cpu = time.process_time() - cpu

    recovery = replace(alert, key=f"{episode}:recover", kind=AlertKind.RECOVER)
    started = time.perf_counter()
    with store.transaction():
        recovered = sink.stage(recovery)
    recover_seconds = time.perf_counter() - started
    store.close()
    return {
        "chats": float(chats),
        "open_messages": float(opened),
        "open_seconds": open_seconds,
        "recovery_messages": float(recovered),
        "recovery_seconds": recover_seconds,
        "sender_ms_per_message": 1000 * sender_cpu / max(opened, 1),
    }


def outbox_scale(chats: int = 50_000) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="outbox-scale-") as tmp:
        return asyncio.run(_run(chats, Path(tmp) / "bot.db"))


def summary(result: dict[str, float]) -> str:
    meets = (
        result["open_seconds"] <= ENQUEUE_TARGET_SECONDS
        and result["recovery_seconds"] <= ENQUEUE_TARGET_SECONDS
        and result["sender_ms_per_message"] <= SENDER_TARGET_MS
    )
    return (
        f"| outbox at {result['chats']:.0f} chats | staging an alert "
        f"{result['open_seconds']:.2f} s ({result['open_messages']:.0f} rows), its recovery "
        f"{result['recovery_seconds']:.2f} s ({result['recovery_messages']:.0f} rows), on the "
        f"event loop; sender {result['sender_ms_per_message']:.2f} ms CPU per message "
        f"({'meets' if meets else 'MISSES'} <= {ENQUEUE_TARGET_SECONDS:.0f} s and "
        f"<= {SENDER_TARGET_MS:.0f} ms) |"
    )


if __name__ == "__main__":
    from benchmarks import machine

    print(f"machine: {machine.describe()}")
    print(summary(outbox_scale()))
