"""What the core hands alerts to (console, chat platforms, JSON), and the fan-out that keeps
one failing sink from the rest."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from bot.alerts import Alert

log = logging.getLogger(__name__)


class AlertSink(Protocol):
    """Anything that takes alerts: the console, a chat platform, a JSON stream."""

    name: str

    async def send_alert(self, alert: Alert) -> None: ...


@runtime_checkable
class DurableSink(Protocol):
    """A sink that stores what it will send (the chat platforms' outboxes).

    ``stage`` writes the alert's messages inside the caller's database transaction, the one
    that records the alert: either both are stored or neither is. ``wake`` runs after commit.
    """

    name: str

    def stage(self, alert: Alert) -> int: ...

    def wake(self) -> None: ...


class Dispatcher:
    """Hands every alert to every sink; a failing sink never keeps it from the others."""

    def __init__(self, sinks: Sequence[AlertSink | DurableSink]) -> None:
        self.sinks = list(sinks)

    def stage(self, alert: Alert) -> int:
        """Store the alert's messages of every durable sink (inside the caller's
        transaction; a failure propagates, so the alert is not recorded either)."""
        return sum(sink.stage(alert) for sink in self.sinks if isinstance(sink, DurableSink))

    async def deliver(self, alert: Alert) -> int:
        """After commit: wake the durable sinks, hand the alert to the others; returns how
        many sinks took it."""
        delivered = 0
        for sink in self.sinks:
            try:
                if isinstance(sink, DurableSink):
                    sink.wake()
                else:
                    await sink.send_alert(alert)
            except Exception:
                log.exception("alert %s: sink %s failed", alert.key, sink.name)
            else:
                delivered += 1
        return delivered
