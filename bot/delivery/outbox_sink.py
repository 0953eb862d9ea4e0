"""Alerts into the outbox: texts per language and a fan-out plan, stored with the alert."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from bot.alerts import Alert, AlertKind
from bot.delivery.fanout import FanOut
from bot.delivery.outbox import Outbox
from bot.delivery.sender import OutboxSender
from bot.render.i18n import LANGUAGES, Language
from bot.storage.store import Store
from bot.storage.subscriptions import Audience
from bot.universe import Universe

Renderer = Callable[[Alert, Language], list[str]]


class OutboxSink:
    """An alert sink for one chat platform: stores the alert's texts and fan-out plan with the
    alert; the sender expands the plan into one message row per chat (bot/delivery/fanout.py)."""

    def __init__(
        self,
        platform: str,
        outbox: Outbox,
        store: Store,
        universe: Universe,
        render: Renderer,
        is_group: Callable[[str], bool],
        clock: Callable[[], datetime],
        sender: OutboxSender | None = None,
    ) -> None:
        """Args:
        sender: drains the outbox and expands this sink's plans.
        """
        self.name = platform
        self.platform = platform
        self.outbox = outbox
        self.store = store
        self.universe = universe
        self.render = render
        self.clock = clock
        self.fanout = FanOut(platform, outbox, store, is_group)
        self.sender = sender
        if sender is not None:
            sender.expand(self.fanout)

    async def send_alert(self, alert: Alert) -> None:
        """Stage, fan out and wake in one go (for callers outside the alert pipeline)."""
        with self.store.transaction():
            self.stage(alert)
        while self.fanout.has_work:
            self.fanout.expand_chunk(self.clock())
            await asyncio.sleep(0)
        self.wake()

    def wake(self) -> None:
        if self.sender is not None:
            self.sender.wake()

    def stage(self, alert: Alert) -> int:
        """Store the alert's texts in every language and its fan-out plan (inside the caller's
        transaction); returns 1 if it was planned now, 0 if before."""
        now = self.clock()
        heard = None
        if alert.kind is AlertKind.RECOVER:
            # Only chats that heard of the shock hear that it is over.
            heard = alert.key.removesuffix(f":{AlertKind.RECOVER.value}") + ":"
        texts: dict[str, list[str]] = {lang: self.render(alert, lang) for lang in LANGUAGES}
        audience = Audience.of(alert, self.universe, now)
        return int(self.fanout.plan(alert.key, audience, texts, heard, now))
