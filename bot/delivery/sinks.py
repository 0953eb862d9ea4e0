"""What the core hands alerts to (console, chat platforms, JSON), and the fan-out that keeps
one failing sink from the rest."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from bot.alerts import Alert

log = logging.getLogger(__name__)


class AlertSink(Protocol):
    """Anything that takes alerts: the console, a chat platform, a JSON stream."""

    name: str

    async def send_alert(self, alert: Alert) -> None: ...


class Dispatcher:
    """Hands every alert to every sink, each in its own try/except."""

    def __init__(self, sinks: Sequence[AlertSink]) -> None:
        self.sinks = list(sinks)

    async def deliver(self, alert: Alert) -> int:
        """Deliver to all sinks; returns how many took it."""
        delivered = 0
        for sink in self.sinks:
            try:
                await sink.send_alert(alert)
            except Exception:
                log.exception("alert %s: sink %s failed", alert.key, sink.name)
            else:
                delivered += 1
        return delivered
