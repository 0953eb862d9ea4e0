"""The one wiring under the real APScheduler: jobs are awaited, failures are visible."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.clock import DrillClock, WallClock
from bot.config import load_config
from bot.detection.detect import Label
from bot.detection.regions import scan_regions
from bot.runtime.wiring import build_runtime
from bot.sources.csv_prices import CsvPriceSource
from bot.sources.recorded import RecordedPriceSource
from bot.storage.store import Store
from jobs.scheduler import JobHealth, ScheduledJob, SessionTrigger, build_scheduler
from tests.conftest import PRICES


def recorded(
    clock: DrillClock, universe_calendars: dict[str, tuple[str, str]]
) -> RecordedPriceSource:
    csv = CsvPriceSource([PRICES / "hourly", PRICES / "daily_close"])
    daily, intraday = csv.load_intervals(end=datetime(2025, 1, 31).date())
    return RecordedPriceSource(
        daily.series, clock.now, universe_calendars, intraday=intraday.series
    )


async def test_the_real_scheduler_awaits_the_real_scan_job_and_a_reading_is_stored(
    tmp_path: Path,
) -> None:
    loaded = load_config(None)
    # Speed 1: the scheduler waits on the wall clock for the 10:30 New York scan.
    clock = DrillClock(datetime(2025, 1, 27, 15, 29, 58, tzinfo=UTC), speed=1.0)
    store = Store(tmp_path / "bot.sqlite3", scope="drill")
    source = recorded(clock, loaded.universe.calendars_by_symbol())
    runtime = build_runtime(loaded, clock, store, source, regions=["us"], news=False, recorded=True)
    scheduler = build_scheduler(
        [ScheduledJob(region, job) for region, job in runtime.scan_jobs()],
        runtime.scan_settings.interval,
        runtime.scan_settings.settle_delay,
        timedelta(seconds=30),
        runtime.health,
        clock,
    )
    done: asyncio.Future[JobExecutionEvent] = asyncio.get_running_loop().create_future()
    scheduler.add_listener(
        lambda e: done.done() or done.set_result(e), EVENT_JOB_EXECUTED | EVENT_JOB_ERROR
    )
    clock.restart()  # as the bot does: the drill's time starts once everything is loaded
    scheduler.start()
    try:
        event = await asyncio.wait_for(done, timeout=30)
    finally:
        scheduler.shutdown(wait=False)

    assert event.exception is None
    assert event.retval is None
    reading = store.latest_readings()["us"]
    assert reading["label"] == Label.DIVERGENCE_DOWN.value
    assert reading["as_of"] == "2025-01-27T15:30:00+00:00"
    assert runtime.health.errors == {}
    store.close()


class AsyncCallable:
    """The shape that once slipped through: an object whose ``__call__`` is async."""

    async def __call__(self) -> None:
        return None


def test_a_job_that_is_not_a_coroutine_function_is_refused() -> None:
    loaded = load_config(None)
    clock = WallClock()
    store = Store(":memory:")
    runtime = build_runtime(
        loaded, clock, store, CsvPriceSource([PRICES / "daily_close"]), news=False
    )
    region = runtime.scans[0].region

    with pytest.raises(TypeError, match="not a coroutine function"):
        build_scheduler(
            [ScheduledJob(region, AsyncCallable())],  # type: ignore[arg-type]
            timedelta(minutes=5),
            timedelta(minutes=20),
            timedelta(seconds=60),
            JobHealth(),
        )
    store.close()


async def run_once(func: object, job_id: str) -> JobHealth:
    """Run ``func`` once as a job of a real AsyncIOScheduler; the health its listener kept."""
    health = JobHealth()
    scheduler = AsyncIOScheduler(timezone=UTC)
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    scheduler.add_listener(health.listen, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    scheduler.add_listener(
        lambda _: loop.call_soon_threadsafe(done.set), EVENT_JOB_EXECUTED | EVENT_JOB_ERROR
    )
    scheduler.add_job(func, id=job_id, next_run_time=datetime.now(UTC))
    scheduler.start()
    try:
        await asyncio.wait_for(done.wait(), timeout=10)
    finally:
        scheduler.shutdown(wait=False)
    return health


async def test_a_job_whose_coroutine_is_never_awaited_is_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="jobs.scheduler"):
        health = await run_once(AsyncCallable(), "scan-us")

    assert "never awaited" in health.errors["scan-us"]
    assert "never awaited" in caplog.text


def test_a_drill_trigger_fires_at_drill_times_mapped_to_the_wall_clock() -> None:
    loaded = load_config(None)
    clock = DrillClock(
        datetime(2025, 1, 27, 14, 0, tzinfo=UTC),
        speed=120,
        wall_start=datetime(2026, 12, 1, 12, 0, tzinfo=UTC),
    )
    (us,) = scan_regions(loaded.universe, ["us"])
    trigger = SessionTrigger(us, timedelta(minutes=5), timedelta(minutes=20), clock)
    wall_now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

    first = trigger.get_next_fire_time(None, wall_now)
    second = trigger.get_next_fire_time(first, first)

    assert first is not None
    assert second is not None
    assert clock.to_bot(first) == datetime(2025, 1, 27, 14, 35, tzinfo=UTC)
    assert clock.to_bot(second) == datetime(2025, 1, 27, 14, 40, tzinfo=UTC)
    assert (second - first).total_seconds() == pytest.approx(2.5)


async def test_a_failing_job_is_logged_with_its_traceback_and_kept_for_status(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken() -> None:
        raise ValueError("no prices today")

    with caplog.at_level(logging.INFO):
        health = await run_once(broken, "scan-eu")

    assert health.errors["scan-eu"] == "ValueError: no prices today"
    assert "Error notifying listener" not in caplog.text
    record = next(r for r in caplog.records if r.name == "jobs.scheduler")
    assert record.exc_info is not None
    assert record.exc_info[1] is not None
    assert record.exc_info[1].__traceback__ is not None
