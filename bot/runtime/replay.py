"""Replays: the same wiring, triggers and jobs as the live bot, over recorded bars on a stepped
clock."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from bot.alerts import Alert
from bot.clock import SteppedClock
from bot.config import LoadedConfig
from bot.delivery.sinks import AlertSink
from bot.detection.regions import ScanRegion, next_fire_time, window_at
from bot.news.items import NewsItem
from bot.runtime.wiring import build_runtime
from bot.sources.prices import PriceSeries
from bot.sources.recorded import RecordedPriceSource
from bot.storage.store import Store
from jobs.news_poll import NewsReplay

log = logging.getLogger(__name__)

ReplayInterval = Literal["1d", "1h"]


class CollectingSink:
    """Keeps what was delivered, for the caller of a replay."""

    name = "collector"

    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    async def send_alert(self, alert: Alert) -> None:
        self.alerts.append(alert)


@dataclass(frozen=True)
class ScheduledScan:
    at: datetime
    order: int
    region: ScanRegion


def schedule(
    regions: Sequence[ScanRegion],
    start: datetime,
    end: datetime,
    interval: timedelta,
    settle_delay: timedelta,
    settled_only: bool,
) -> list[ScheduledScan]:
    """Every scan time of every region between ``start`` and ``end``, in time order."""
    planned: list[ScheduledScan] = []
    for order, region in enumerate(regions):
        cursor: datetime | None = start
        while cursor is not None:
            at = next_fire_time(region, interval, settle_delay, cursor)
            if at is None or at > end:
                break
            win = window_at(region, at, settle_delay)
            if win is not None and (not settled_only or (win.settles and at >= win.end)):
                planned.append(ScheduledScan(at, order, region))
            cursor = at + timedelta(microseconds=1)
    return sorted(planned, key=lambda s: (s.at, s.order))


async def run_replay(
    loaded: LoadedConfig,
    series: Mapping[str, PriceSeries],
    store: Store,
    sinks: Sequence[AlertSink],
    *,
    start: date,
    end: date,
    interval: ReplayInterval = "1h",
    news: Sequence[NewsItem] = (),
    intraday: Mapping[str, PriceSeries] | None = None,
    drill: bool = False,
) -> list[Alert]:
    """Replay ``start`` to ``end`` (inclusive, UTC days); returns the alerts delivered.

    The bot is built by the same wiring as the live process; the clock steps from one scan
    time to the next instead of waiting. ``news`` items (from recorded feeds) are taken in as
    the clock passes their publication time: they can burst, and they explain the price alerts
    that follow them. ``series`` are the daily (or hourly) bars, ``intraday`` hourly bars of
    symbols whose daily bars are in ``series``; ``drill`` marks every alert as a drill's.
    """
    begin = datetime.combine(start, time(0), UTC)
    finish = datetime.combine(end, time(23, 59, 59), UTC)
    clock = SteppedClock(begin, drill=drill)
    source = RecordedPriceSource(
        series, clock.now, loaded.universe.calendars_by_symbol(), intraday=intraday
    )
    collected = CollectingSink()
    keys = [k for k in loaded.settings.scheduler.regions if interval == "1h" or k != "us_pre"]
    runtime = build_runtime(
        loaded,
        clock,
        store,
        source,
        sinks=[*sinks, collected],
        regions=keys,
        interval=timedelta(hours=1),
        news=True,
        explain=bool(news),
        recorded=True,
    )
    feed = NewsReplay(runtime.news, news) if runtime.news is not None else None
    if feed is not None:
        await feed.start(begin)
    jobs = runtime.scan_jobs()
    planned = schedule(
        [region for region, _ in jobs],
        begin,
        finish,
        runtime.scan_settings.interval,
        runtime.scan_settings.settle_delay,
        settled_only=interval == "1d",
    )
    log.info("replay %s .. %s: %d scans", start, end, len(planned))
    for item in planned:
        clock.set(item.at)
        if feed is not None:
            await feed.until(item.at)
        await jobs[item.order][1]()
    if feed is not None:
        await feed.until(finish)
    return collected.alerts
