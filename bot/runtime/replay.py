"""Replays: the same triggers, jobs and episodes over recorded bars on a simulated clock."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from bot.alerts import Alert
from bot.config import Settings
from bot.delivery.sinks import AlertSink, Dispatcher
from bot.detection.regions import next_fire_time, scan_regions, window_at
from bot.episodes import EpisodeBook
from bot.news.explain import Explainer
from bot.news.items import NewsItem
from bot.news.match import Matcher, load_themes
from bot.pipeline import AlertPipeline
from bot.sources.prices import PriceSeries
from bot.sources.recorded import RecordedPriceSource
from bot.storage.store import Store
from bot.universe import Universe
from jobs.news_poll import NewsWatch, burst_detector
from jobs.price_scan import PriceScan, ScanSettings

log = logging.getLogger(__name__)

ReplayInterval = Literal["1d", "1h"]


class CollectingSink:
    """Keeps what was delivered, for the caller of a replay."""

    name = "collector"

    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    async def send_alert(self, alert: Alert) -> None:
        self.alerts.append(alert)


class SimulatedClock:
    """The replay's now; jobs and the recorded source read it."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def set(self, at: datetime) -> None:
        self._now = at


@dataclass(frozen=True)
class ScheduledScan:
    at: datetime
    order: int
    scan: PriceScan


def schedule(
    scans: Sequence[PriceScan],
    start: datetime,
    end: datetime,
    interval: timedelta,
    settle_delay: timedelta,
    settled_only: bool,
) -> list[ScheduledScan]:
    """Every scan time of every region between ``start`` and ``end``, in time order."""
    planned: list[ScheduledScan] = []
    for order, scan in enumerate(scans):
        cursor: datetime | None = start
        while cursor is not None:
            at = next_fire_time(scan.region, interval, settle_delay, cursor)
            if at is None or at > end:
                break
            win = window_at(scan.region, at, settle_delay)
            if win is not None and (not settled_only or (win.settles and at >= win.end)):
                planned.append(ScheduledScan(at, order, scan))
            cursor = at + timedelta(microseconds=1)
    return sorted(planned, key=lambda s: (s.at, s.order))


class NewsReplay:
    """Recorded feed items, each taken in once the simulated clock passes its publication."""

    def __init__(self, watch: NewsWatch, items: Sequence[NewsItem]) -> None:
        self.watch = watch
        self.undated = [i for i in items if i.published is None]
        self.pending = sorted(
            (i for i in items if i.published is not None),
            key=lambda i: i.published.timestamp() if i.published else 0.0,
        )

    async def start(self, at: datetime) -> None:
        """Items without a publication time are known from the start (as seeded backlog)."""
        await self.watch.ingest(self.undated, at, seed=True)

    async def until(self, now: datetime) -> None:
        due = [i for i in self.pending if i.published is not None and i.published <= now]
        if not due:
            return
        self.pending = self.pending[len(due) :]
        for item in due:
            at = item.published or now
            result = await self.watch.ingest([item], at, seed=False)
            await self.watch.raise_bursts(result.bursts, at)


async def run_replay(
    series: Mapping[str, PriceSeries],
    universe: Universe,
    settings: Settings,
    store: Store,
    sinks: Sequence[AlertSink],
    *,
    start: date,
    end: date,
    interval: ReplayInterval = "1h",
    news: Sequence[NewsItem] = (),
) -> list[Alert]:
    """Replay ``start`` to ``end`` (inclusive, UTC days); returns the alerts delivered.

    ``news`` items (from recorded feeds) are taken in as the clock passes their publication
    time: they can burst, and they explain the price alerts that follow them.
    """
    begin = datetime.combine(start, time(0), UTC)
    finish = datetime.combine(end, time(23, 59, 59), UTC)
    clock = SimulatedClock(begin)
    source = RecordedPriceSource(series, clock.now, universe.calendars_by_symbol())
    collected = CollectingSink()
    explain = Explainer(
        store, universe, settings.news.headline_hours, settings.news.headlines_per_alert
    )
    pipeline = AlertPipeline(
        EpisodeBook(settings.episodes, store.episodes()),
        store,
        Dispatcher([*sinks, collected]),
        explain if news else None,
    )
    matcher = Matcher(universe, load_themes())
    feed = NewsReplay(
        NewsWatch(store, matcher, burst_detector(settings), pipeline, clock.now), news
    )
    await feed.start(begin)
    sched = settings.scheduler
    step = timedelta(hours=1)
    scan_settings = ScanSettings(
        interval=step,
        settle_delay=timedelta(minutes=sched.settle_delay_minutes),
        max_age=step,
        history_sessions=settings.prices.history_sessions,
        attempts=1,
    )
    keys = [k for k in sched.regions if interval == "1h" or k != "us_pre"]
    scans = [
        PriceScan(region, source, universe, settings.detector, scan_settings, pipeline, store)
        for region in scan_regions(universe, keys)
    ]
    planned = schedule(
        scans, begin, finish, step, scan_settings.settle_delay, settled_only=interval == "1d"
    )
    log.info("replay %s .. %s: %d scans", start, end, len(planned))
    for item in planned:
        clock.set(item.at)
        await feed.until(item.at)
        await item.scan(item.at)
    await feed.until(finish)
    return collected.alerts
