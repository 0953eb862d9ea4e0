"""APScheduler 3.11 wiring: one job per scan region on that region's session clock.

Late runs are coalesced and run once within the misfire grace time; a region never runs two
scans at once; job errors are logged and kept for ``/status``.
"""

from __future__ import annotations

import inspect
import logging
from asyncio import CancelledError
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
)
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.clock import Clock, WallClock
from bot.config import NewsSettings
from bot.detection.regions import ScanRegion, last_fire_time, next_fire_time
from bot.sources.feeds import FetchLimits
from bot.storage.store import Store, database_fault
from jobs.news_poll import NewsReplay, NewsWatch

log = logging.getLogger(__name__)


_NEXT = timedelta(seconds=1)
"""After a fire time, look for the next one from here: fire times are minutes apart, and a
drill clock's mapping to drill time and back may round by some microseconds."""


class SessionTrigger(BaseTrigger):  # type: ignore[misc]
    """Fires every ``interval`` while the region's window is open, then once ``settle_delay``
    after a regular session's close. Pure: the next time depends only on its arguments.

    APScheduler runs on the wall clock; the session times are the ``clock``'s (a drill's clock
    maps its times to the wall-clock instants at which the drill reaches them).
    """

    def __init__(
        self,
        region: ScanRegion,
        interval: timedelta,
        settle_delay: timedelta,
        clock: Clock | None = None,
    ) -> None:
        self.region = region
        self.interval = interval
        self.settle_delay = settle_delay
        self.clock: Clock = clock or WallClock()

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        after = (
            self.clock.to_bot(now)
            if previous_fire_time is None
            else self.clock.to_bot(previous_fire_time) + _NEXT
        )
        at = next_fire_time(self.region, self.interval, self.settle_delay, after)
        return None if at is None else self.clock.to_wall(at)

    def __str__(self) -> str:
        return f"session[{self.region.key}, every {self.interval}, settle +{self.settle_delay}]"


@dataclass
class JobHealth:
    """The error of each job's last run, for ``/status`` and the log.

    A successful run clears its job's error; missed runs are only logged.
    """

    errors: dict[str, str] = field(default_factory=dict)
    database: str = ""
    """The database's path, for the one line a database failure becomes."""

    def listen(self, event: JobExecutionEvent) -> None:
        if event.code == EVENT_JOB_EXECUTED and inspect.isawaitable(event.retval):
            # A job that is not a coroutine function ran in a worker thread and handed back a
            # coroutine nobody awaits: the job did nothing.
            if inspect.iscoroutine(event.retval):
                event.retval.close()
            message = "returned an awaitable that was never awaited (the job did nothing)"
            self.errors[event.job_id] = message
            log.error("job %s at %s %s", event.job_id, event.scheduled_run_time, message)
        elif event.code == EVENT_JOB_EXECUTED:
            self.errors.pop(event.job_id, None)
        elif event.code == EVENT_JOB_ERROR and isinstance(event.exception, CancelledError):
            log.info("job %s (run of %s) cancelled", event.job_id, event.scheduled_run_time)
        elif event.code == EVENT_JOB_ERROR and (
            fault := database_fault(event.exception, self.database)
        ):
            self.errors[event.job_id] = fault
            log.error("job %s failed at %s: %s", event.job_id, event.scheduled_run_time, fault)
        elif event.code == EVENT_JOB_ERROR:
            message = f"{type(event.exception).__name__}: {event.exception}"
            self.errors[event.job_id] = message
            # APScheduler hands the traceback over as text; the exception carries the real one.
            log.error(
                "job %s failed at %s: %s",
                event.job_id,
                event.scheduled_run_time,
                message,
                exc_info=event.exception,
            )
        elif event.code == EVENT_JOB_MISSED:
            log.warning("job %s missed its run at %s", event.job_id, event.scheduled_run_time)


@dataclass(frozen=True)
class ScheduledJob:
    region: ScanRegion
    run: Callable[[], Coroutine[Any, Any, None]]


def build_scheduler(
    jobs: Sequence[ScheduledJob],
    interval: timedelta,
    settle_delay: timedelta,
    misfire_grace: timedelta,
    health: JobHealth,
    clock: Clock | None = None,
) -> AsyncIOScheduler:
    """A UTC scheduler with one job per region; start it inside the running event loop.

    Every job must be a coroutine function (APScheduler awaits only those; anything else runs
    in a worker thread). ``clock``: whose times the triggers follow (a drill's; default: the
    wall clock).
    """
    for job in jobs:
        if not inspect.iscoroutinefunction(job.run):
            raise TypeError(f"scan job of {job.region.key} is not a coroutine function")
    scheduler = AsyncIOScheduler(
        timezone=UTC,
        job_defaults={
            "misfire_grace_time": int(misfire_grace.total_seconds()),
            "coalesce": True,
            "max_instances": 1,
        },
    )
    for job in jobs:
        scheduler.add_job(
            job.run,
            trigger=SessionTrigger(job.region, interval, settle_delay, clock),
            id=f"scan-{job.region.key}",
            name=f"price scan {job.region.key}",
            misfire_grace_time=int(misfire_grace.total_seconds()),
            coalesce=True,
            max_instances=1,
        )
    scheduler.add_listener(health.listen, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)
    return scheduler


def catch_up_missed_scans(
    scheduler: AsyncIOScheduler,
    store: Store,
    regions: Sequence[ScanRegion],
    interval: timedelta,
    settle_delay: timedelta,
    clock: Clock,
) -> list[str]:
    """Run now the scans that fell due while no process scanned (a new leader taking over
    from one that died, or one coming back after a lost database): each region's last due
    scan of the last two intervals that no process attempted. Returns the regions run."""
    now = clock.now()
    attempted: dict[str, datetime] = {}
    for status in store.scan_status():
        seen = attempted.get(status.region)
        if seen is None or status.last_attempt > seen:
            attempted[status.region] = status.last_attempt
    ran = []
    for region in regions:
        due = last_fire_time(region, interval, settle_delay, now)
        if due is None or due < now - 2 * interval:
            continue
        last = attempted.get(region.key)
        if last is not None and last >= due:
            continue
        job = scheduler.get_job(f"scan-{region.key}")
        if job is None:
            continue
        log.info(
            "scan %s was due at %s UTC while no instance scanned; scanning now",
            region.key,
            f"{due:%H:%M}",
        )
        job.modify(next_run_time=datetime.now(UTC))
        ran.append(region.key)
    return ran


def add_news_jobs(
    scheduler: AsyncIOScheduler,
    watch: NewsWatch,
    client: httpx.AsyncClient,
    settings: NewsSettings,
    health: JobHealth,
) -> None:
    """One polling job per feed, each on its own interval, first run soon after start."""
    limits = FetchLimits(
        timeout_seconds=settings.timeout_seconds,
        max_bytes=int(settings.max_megabytes * 1024 * 1024),
        max_redirects=settings.max_redirects,
        pause_after_failures=settings.pause_after_failures,
        pause_minutes=settings.pause_minutes,
    )
    for n, feed in enumerate(settings.feeds):
        scheduler.add_job(
            watch.poll,
            trigger=IntervalTrigger(
                minutes=feed.interval_minutes,
                start_date=datetime.now(UTC) + timedelta(seconds=5 + 3 * n),
                timezone=UTC,
            ),
            args=(client, feed, limits),
            id=f"news-{n}",
            name=f"news {feed.name}",
            misfire_grace_time=60,
            coalesce=True,
            max_instances=1,
        )


def add_recorded_news_job(scheduler: AsyncIOScheduler, feed: NewsReplay, clock: Clock) -> None:
    """Drills: recorded feed items arrive as the drill clock passes their publication time
    (looked at every wall-clock second: cheap, it only compares times)."""

    async def recorded_news() -> None:
        await feed.until(clock.now())

    scheduler.add_job(
        recorded_news,
        trigger=IntervalTrigger(seconds=1, timezone=UTC),
        id="news-recorded",
        name="recorded news",
        misfire_grace_time=60,
        coalesce=True,
        max_instances=1,
    )


def add_digest_job(
    scheduler: AsyncIOScheduler, job: Callable[[], Awaitable[object]], every: timedelta
) -> None:
    """Looks for due daily digests every ``every`` (a minute; a second in a fast drill)."""

    async def digests() -> None:
        await job()

    scheduler.add_job(
        digests,
        trigger=IntervalTrigger(seconds=every.total_seconds(), timezone=UTC),
        id="digest",
        name="daily digests",
        misfire_grace_time=60,
        coalesce=True,
        max_instances=1,
    )


def add_prune_job(scheduler: AsyncIOScheduler, store: Store, keep_days: int) -> None:
    """Every 6 hours (first a minute after start): delete history older than ``keep_days``."""

    async def prune() -> None:
        before = datetime.now(UTC) - timedelta(days=keep_days)
        deleted = store.prune(before)
        log.info(
            "pruned history before %s: %s",
            before.date().isoformat(),
            ", ".join(f"{n} {table}" for table, n in deleted.items()),
        )

    scheduler.add_job(
        prune,
        trigger=IntervalTrigger(
            hours=6, start_date=datetime.now(UTC) + timedelta(minutes=1), timezone=UTC
        ),
        id="prune",
        name="prune history",
        misfire_grace_time=3600,
        coalesce=True,
        max_instances=1,
    )
