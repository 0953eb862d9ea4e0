"""From a reading to delivered alerts: store, episodes, idempotency, fan-out."""

from __future__ import annotations

import logging
from datetime import date, datetime

from bot.adapters.base import Dispatcher
from bot.alerts import Alert
from bot.detect import Reading
from bot.episodes import EpisodeBook
from bot.regions import ScanRegion
from bot.store import Store

log = logging.getLogger(__name__)


class AlertPipeline:
    """Stores each reading, moves the episodes and delivers each new alert once."""

    def __init__(self, book: EpisodeBook, store: Store, dispatcher: Dispatcher) -> None:
        self.book = book
        self.store = store
        self.dispatcher = dispatcher

    async def handle(
        self, reading: Reading, region: ScanRegion, session: date, now: datetime
    ) -> list[Alert]:
        self.store.save_reading(reading, now)
        outcome = self.book.observe(
            reading, region=region.key, group=region.group, session=session, now=now
        )
        if outcome.changed:
            self.store.save_episodes(outcome.changed)
        delivered = []
        for alert in outcome.alerts:
            if not self.store.record_alert(alert):
                log.info("alert %s was raised before; not sent again", alert.key)
                continue
            log.info(
                "alert %s: %s %s %s in %s",
                alert.key,
                alert.kind,
                alert.label,
                alert.severity,
                alert.region,
            )
            await self.dispatcher.deliver(alert)
            delivered.append(alert)
        return delivered
