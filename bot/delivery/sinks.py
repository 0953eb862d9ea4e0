"""What the core hands alerts to (console, chat platforms, JSON), and the fan-out that keeps
one failing sink from the rest."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from bot.alerts import Alert
from bot.render.charts import ChartImage

if TYPE_CHECKING:
    from bot.render.alert_charts import PersonalAlert

AlertCharts = Mapping[str, ChartImage]
"""An alert's chart per language (``en``, ``de``)."""

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

    @property
    def wants_charts(self) -> bool:
        """Whether ``stage`` does anything with charts (drawing them costs ~0.2 s each)."""

    def stage(
        self,
        alert: Alert,
        charts: AlertCharts | None = None,
        personal: Sequence[PersonalAlert] = (),
    ) -> int: ...

    def wake(self) -> None: ...


class Dispatcher:
    """Hands every alert to every sink; a failing sink never keeps it from the others."""

    def __init__(self, sinks: Sequence[AlertSink | DurableSink]) -> None:
        self.sinks = list(sinks)

    @property
    def wants_charts(self) -> bool:
        return any(isinstance(s, DurableSink) and s.wants_charts for s in self.sinks)

    def stage(
        self,
        alert: Alert,
        charts: AlertCharts | None = None,
        personal: Sequence[PersonalAlert] | None = None,
    ) -> int:
        """Store the alert's messages (its chart, and the chats' own copies with their
        portfolios, if any) of every durable sink (inside the caller's transaction; a failure
        propagates, so the alert is not recorded either)."""
        return sum(
            sink.stage(alert, charts, personal or ())
            for sink in self.sinks
            if isinstance(sink, DurableSink)
        )

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
