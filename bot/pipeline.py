"""From a reading to delivered alerts: store, episodes, idempotency, fan-out."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date, datetime

from bot.alerts import Alert, AlertKind, Headline
from bot.delivery.sinks import AlertCharts, Dispatcher
from bot.detection.detect import Label, Reading
from bot.detection.regions import ScanRegion
from bot.episodes import Episode, EpisodeBook
from bot.metrics import ALERTS, SUPPRESSED
from bot.render.alert_charts import AlertCharter, PersonalAlert
from bot.storage.store import Store

log = logging.getLogger(__name__)

DRILL_PREFIX = "drill:"
"""Starts the ids of drill episodes and the keys of drill alerts."""


class AlertPipeline:
    """Stores each reading, moves the episodes and delivers each new alert once."""

    def __init__(
        self,
        book: EpisodeBook,
        store: Store,
        dispatcher: Dispatcher,
        explain: Callable[[Alert, datetime], tuple[Headline, ...]] | None = None,
        *,
        drill: bool = False,
        charter: AlertCharter | None = None,
    ) -> None:
        """Args:
        book: the episodes.
        store: where readings, episodes and raised alerts are kept.
        dispatcher: the sinks.
        explain: finds the headlines that explain an alert.
        drill: every alert is a drill's: marked as such, and keyed apart from real ones.
        charter: draws the charts of divergence and broad alerts (``None``: text only).
        """
        self.charter = charter
        self.drill = drill
        self.book = book
        self.store = store
        self.dispatcher = dispatcher
        self.explain = explain

    async def handle(
        self, reading: Reading, region: ScanRegion, session: date, now: datetime
    ) -> list[Alert]:
        self.store.save_reading(reading, now)
        outcome = self.book.observe(
            reading, region=region.key, group=region.group, session=session, now=now
        )
        return await self._commit(outcome.changed, outcome.alerts, now, (region, session))

    async def deliver(self, alerts: list[Alert], now: datetime) -> list[Alert]:
        """Record each alert once (by key), explain it with headlines, hand it to the sinks."""
        return await self._commit([], alerts, now)

    def _prepare(self, alert: Alert, now: datetime) -> Alert:
        if self.drill:
            key = alert.key if alert.key.startswith(DRILL_PREFIX) else DRILL_PREFIX + alert.key
            alert = replace(alert, drill=True, key=key)
        if (
            self.explain is not None
            and alert.kind is not AlertKind.RECOVER
            and alert.label is not Label.NEWS_BURST
        ):
            alert = replace(alert, headlines=self.explain(alert, now))
        return alert

    async def _commit(
        self,
        changed: Sequence[Episode],
        alerts: Sequence[Alert],
        now: datetime,
        where: tuple[ScanRegion, date] | None = None,
    ) -> list[Alert]:
        """Episodes, alert records and every chat's outbox rows in one transaction: an alert
        is either stored with all its messages or not at all (and raised again). ``where``:
        the scan region and session of the reading that raised them (for their charts)."""
        prepared = [self._prepare(alert, now) for alert in alerts]
        charts: dict[str, AlertCharts] = {}
        personal: dict[str, list[PersonalAlert]] = {}
        if self.charter is not None and where is not None and self.dispatcher.wants_charts:
            for alert in prepared:
                drawn = await self.charter.charts(alert, *where)
                if drawn:
                    charts[alert.key] = drawn
                personal[alert.key] = await self.charter.personal(alert, *where)
        fresh: list[Alert] = []
        try:
            with self.store.transaction():
                if changed:
                    self.store.save_episodes(changed)
                for alert in prepared:
                    if not self.store.record_alert(alert):
                        SUPPRESSED.labels("duplicate").inc()
                        log.info("alert %s was raised before; not sent again", alert.key)
                        continue
                    self.dispatcher.stage(alert, charts.get(alert.key), personal.get(alert.key))
                    fresh.append(alert)
        except Exception:
            log.exception(
                "alerts %s could not be stored; nothing of them was kept, the next reading "
                "raises them again",
                ", ".join(a.key for a in prepared) or "-",
            )
            self.book.reload(self.store.recent_episodes(now.date()))
            return []
        for alert in fresh:
            log.info(
                "alert %s: %s %s %s in %s",
                alert.key,
                alert.kind,
                alert.label,
                alert.severity,
                alert.region,
                extra={"alert_key": alert.key, "region": alert.region},
            )
            ALERTS.labels(alert.kind.value, str(alert.severity)).inc()
            await self.dispatcher.deliver(alert)
        return fresh
