"""APScheduler 3.11 wiring: one job per scan region on that region's session clock.

Late runs are coalesced and run once within the misfire grace time; a region never runs two
scans at once; job errors are logged and kept for ``/status``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

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

from bot.config import NewsSettings
from bot.detection.regions import ScanRegion, next_fire_time
from bot.sources.feeds import FetchLimits
from jobs.news_poll import NewsWatch

log = logging.getLogger(__name__)


class SessionTrigger(BaseTrigger):  # type: ignore[misc]
    """Fires every ``interval`` while the region's window is open, then once ``settle_delay``
    after a regular session's close. Pure: the next time depends only on its arguments."""

    def __init__(self, region: ScanRegion, interval: timedelta, settle_delay: timedelta) -> None:
        self.region = region
        self.interval = interval
        self.settle_delay = settle_delay

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        after = (
            now if previous_fire_time is None else previous_fire_time + timedelta(microseconds=1)
        )
        return next_fire_time(self.region, self.interval, self.settle_delay, after)

    def __str__(self) -> str:
        return f"session[{self.region.key}, every {self.interval}, settle +{self.settle_delay}]"


@dataclass
class JobHealth:
    """The error of each job's last run, for ``/status`` and the log.

    A successful run clears its job's error; missed runs are only logged.
    """

    errors: dict[str, str] = field(default_factory=dict)

    def listen(self, event: JobExecutionEvent) -> None:
        if event.code == EVENT_JOB_EXECUTED:
            self.errors.pop(event.job_id, None)
        elif event.code == EVENT_JOB_ERROR:
            message = f"{type(event.exception).__name__}: {event.exception}"
            self.errors[event.job_id] = message
            log.error(
                "job %s failed at %s: %s",
                event.job_id,
                event.scheduled_run_time,
                message,
                exc_info=(type(event.exception), event.exception, event.traceback)
                if event.exception is not None
                else None,
            )
        elif event.code == EVENT_JOB_MISSED:
            log.warning("job %s missed its run at %s", event.job_id, event.scheduled_run_time)


@dataclass(frozen=True)
class ScheduledJob:
    region: ScanRegion
    run: Callable[[], Awaitable[object]]


def build_scheduler(
    jobs: Sequence[ScheduledJob],
    interval: timedelta,
    settle_delay: timedelta,
    misfire_grace: timedelta,
    health: JobHealth,
) -> AsyncIOScheduler:
    """A UTC scheduler with one job per region; start it inside the running event loop."""
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
            trigger=SessionTrigger(job.region, interval, settle_delay),
            id=f"scan-{job.region.key}",
            name=f"price scan {job.region.key}",
            misfire_grace_time=int(misfire_grace.total_seconds()),
            coalesce=True,
            max_instances=1,
        )
    scheduler.add_listener(health.listen, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)
    return scheduler


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
