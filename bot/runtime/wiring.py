"""The one wiring: price scans, news watch, episodes, pipeline and command services.

``run``, ``run --drill``, ``replay`` and ``demo`` all build their bot here. What differs between
them is only the clock, the price source (live or recorded) and how time advances: the live
process and drills hand :meth:`Runtime.scan_jobs` to APScheduler, replays await the same jobs
while they step a clock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bot.clock import Clock
from bot.config import LoadedConfig, Settings
from bot.delivery.sinks import AlertSink, Dispatcher
from bot.detection.regions import ScanRegion, scan_regions
from bot.episodes import EpisodeBook
from bot.news.explain import Explainer
from bot.news.match import Matcher, load_themes
from bot.pipeline import DRILL_PREFIX, AlertPipeline
from bot.render.alert_charts import AlertCharter
from bot.sources.marketdata import MarketData
from bot.sources.prices import PriceSource
from bot.sources.recorded import BAR_LENGTH
from bot.storage.store import Store
from handlers.commands import build_registry
from handlers.registry import Dispatcher as CommandDispatcher
from handlers.registry import RateLimit
from handlers.services import Services
from jobs.news_poll import NewsWatch, burst_detector
from jobs.price_scan import PriceScan, ScanSettings
from jobs.scheduler import JobHealth

log = logging.getLogger(__name__)

Job = Callable[[], Coroutine[Any, Any, None]]


def scan_settings(
    settings: Settings, interval: timedelta | None = None, recorded: bool = False
) -> ScanSettings:
    """How every region is scanned.

    Args:
        settings: the configuration.
        interval: overrides the configured scan interval (replays step by the hourly bar).
        recorded: prices are recorded bars, known only once closed: the newest one is up to a
            bar length plus a scan interval old, and still the freshest there is.
    """
    sched = settings.scheduler
    step = interval or timedelta(minutes=sched.scan_interval_minutes)
    max_age = timedelta(minutes=sched.max_age_minutes)
    if recorded:
        max_age = max(max_age, BAR_LENGTH["1h"] + step)
    return ScanSettings(
        interval=step,
        settle_delay=timedelta(minutes=sched.settle_delay_minutes),
        max_age=max_age,
        history_sessions=settings.prices.history_sessions,
        attempts=sched.fetch_attempts,
        backoff_seconds=sched.backoff_seconds,
        lateness=timedelta(seconds=sched.misfire_grace_seconds),
    )


@dataclass
class Runtime:
    """One bot: what its jobs, commands and sinks share."""

    loaded: LoadedConfig
    clock: Clock
    store: Store
    source: PriceSource
    scan_settings: ScanSettings
    dispatcher: Dispatcher
    pipeline: AlertPipeline
    book: EpisodeBook
    scans: list[PriceScan]
    services: Services
    commands: CommandDispatcher
    matcher: Matcher | None
    news: NewsWatch | None
    health: JobHealth
    running: set[asyncio.Task[Any]] = field(default_factory=set)
    """Scan jobs in progress, so a shutdown can let them finish."""

    def add_sink(self, sink: AlertSink) -> None:
        """Alerts go to ``sink`` too from now on (chat platforms join once connected)."""
        self.dispatcher.sinks.append(sink)

    def scan_job(self, scan: PriceScan) -> Job:
        """A coroutine function APScheduler awaits: one scan of the region at the clock's now."""

        async def run_scan() -> None:
            task = asyncio.current_task()
            if task is not None:
                self.running.add(task)
            try:
                await scan(self.clock.now())
            finally:
                if task is not None:
                    self.running.discard(task)

        run_scan.__name__ = run_scan.__qualname__ = f"scan_{scan.region.key}"
        return run_scan

    async def finish_running(self, limit: float) -> None:
        """Wait (at most ``limit`` seconds) for the scans in progress."""
        if self.running:
            await asyncio.wait(set(self.running), timeout=limit)

    def scan_jobs(self) -> list[tuple[ScanRegion, Job]]:
        return [(scan.region, self.scan_job(scan)) for scan in self.scans]


def build_runtime(
    loaded: LoadedConfig,
    clock: Clock,
    store: Store,
    source: PriceSource,
    *,
    sinks: Sequence[AlertSink] = (),
    regions: Sequence[str] | None = None,
    interval: timedelta | None = None,
    news: bool | None = None,
    explain: bool = True,
    recorded: bool = False,
) -> Runtime:
    """Assemble the bot.

    Args:
        loaded: the configuration and universe.
        clock: the bot's time; a drill clock marks every alert as a drill's.
        store: the database (a drill's store keeps its episodes apart).
        source: prices (live, CSV or recorded on ``clock``).
        sinks: where alerts go (more can join with :meth:`Runtime.add_sink`).
        regions: scan region keys (default: ``[scheduler] regions``).
        interval: scan interval (default: ``[scheduler] scan_interval_minutes``).
        news: run the news matcher (default: ``[news] enabled``).
        explain: add the matched headlines of the preceding hours to alerts.
        recorded: prices are recorded bars (drills, replays, the demo).
    """
    settings = loaded.settings
    universe = loaded.universe
    use_news = settings.news.enabled if news is None else news
    matcher = Matcher(universe, load_themes()) if use_news else None
    book = EpisodeBook(
        settings.episodes,
        store.recent_episodes(clock.now().date()),
        id_prefix=DRILL_PREFIX if clock.drill else "",
    )
    explainer = (
        Explainer(store, universe, settings.news.headline_hours, settings.news.headlines_per_alert)
        if matcher is not None and explain
        else None
    )
    dispatcher = Dispatcher(sinks)
    charter = AlertCharter(store, universe) if settings.charts.enabled else None
    pipeline = AlertPipeline(book, store, dispatcher, explainer, drill=clock.drill, charter=charter)
    scanning = scan_settings(settings, interval, recorded)
    keys = settings.scheduler.regions if regions is None else regions
    scans = [
        PriceScan(region, source, universe, settings.detector, scanning, pipeline, store)
        for region in scan_regions(universe, keys)
    ]
    health = JobHealth(database=str(store.path))
    services = Services(
        universe=universe,
        store=store,
        market=MarketData(source, universe, settings.detector, clock.now),
        params=settings.detector,
        clock=clock.now,
        job_errors=health.errors,
        matcher=matcher,
        drill=clock.drill,
    )
    commands = CommandDispatcher(
        build_registry(), services, RateLimit(calls=settings.commands.per_user_per_minute)
    )
    watch = (
        NewsWatch(store, matcher, burst_detector(settings), pipeline, clock.now)
        if matcher is not None
        else None
    )
    return Runtime(
        loaded=loaded,
        clock=clock,
        store=store,
        source=source,
        scan_settings=scanning,
        dispatcher=dispatcher,
        pipeline=pipeline,
        book=book,
        scans=scans,
        services=services,
        commands=commands,
        matcher=matcher,
        news=watch,
        health=health,
    )
