"""Alerts into the outbox: one message row per (alert, chat, part), per chat language."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from bot.alerts import Alert, AlertKind
from bot.delivery.outbox import NewMessage, Outbox
from bot.delivery.sender import OutboxSender
from bot.render.i18n import Language
from bot.storage.store import Store
from bot.universe import Universe

log = logging.getLogger(__name__)

Renderer = Callable[[Alert, Language], list[str]]


class OutboxSink:
    """An alert sink for one chat platform: renders per chat, enqueues, wakes the sender."""

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
        self.name = platform
        self.platform = platform
        self.outbox = outbox
        self.store = store
        self.universe = universe
        self.render = render
        self.is_group = is_group
        self.clock = clock
        self.sender = sender

    async def send_alert(self, alert: Alert) -> None:
        """Stage and wake in one go (for callers outside the alert pipeline)."""
        with self.store.transaction():
            self.stage(alert)
        self.wake()

    def wake(self) -> None:
        if self.sender is not None:
            self.sender.wake()

    def stage(self, alert: Alert) -> int:
        """Render the alert for every chat that wants it and store the messages (inside the
        caller's transaction); returns how many were new."""
        now = self.clock()
        messages: list[NewMessage] = []
        rendered: dict[Language, list[str]] = {}
        heard: set[str] | None = None
        if alert.kind is AlertKind.RECOVER:
            # Only chats that heard of the shock hear that it is over.
            episode = alert.key.removesuffix(f":{AlertKind.RECOVER.value}") + ":"
            heard = self.outbox.chats_with_alert(self.platform, episode)
        for chat in self.store.subscribed_chats(self.platform):
            if not chat.wants(alert, self.universe, now):
                continue
            if heard is not None and chat.chat_id not in heard:
                continue
            language = chat.language or "en"
            if language not in rendered:
                rendered[language] = self.render(alert, language)
            for part, text in enumerate(rendered[language]):
                messages.append(
                    NewMessage(
                        key=f"{alert.key}|{self.platform}|{chat.chat_id}|{part}",
                        platform=self.platform,
                        chat_id=chat.chat_id,
                        is_group=self.is_group(chat.chat_id),
                        alert_key=alert.key,
                        severity=int(alert.severity),
                        text=text,
                    )
                )
        added = self.outbox.enqueue(messages, now)
        log.info("%s: alert %s queued for %d messages", self.platform, alert.key, added)
        return added
