"""A region's scan when prices fail or go stale: retries, a reason, never an alert."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import curl_cffi.requests.exceptions as curl_errors
import pandas as pd
import pytest

from bot.alerts import Alert
from bot.config import load_config
from bot.delivery.sinks import Dispatcher
from bot.detection.detect import Label
from bot.detection.regions import scan_regions
from bot.episodes import EpisodeBook
from bot.pipeline import AlertPipeline
from bot.sources.csv_prices import CsvPriceSource
from bot.sources.prices import Interval, PriceBatch, RateLimitedError
from bot.sources.recorded import RecordedPriceSource
from bot.sources.yahoo import YahooPriceSource
from bot.storage.store import Store
from jobs.price_scan import PriceScan, ScanSettings
from tests.conftest import PRICES

CONFIG = load_config(None, {})
US = scan_regions(CONFIG.universe, ["us"])[0]
SETTINGS = ScanSettings(
    interval=timedelta(hours=1),
    settle_delay=timedelta(minutes=20),
    max_age=timedelta(minutes=60),
    history_sessions=300,
    attempts=3,
    backoff_seconds=2.0,
)


class Collector:
    name = "collector"

    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    async def send_alert(self, alert: Alert) -> None:
        self.alerts.append(alert)


def offline_download(*_: Any, **__: Any) -> object:
    raise curl_errors.ConnectionError("Failed to perform, curl: (7) Couldn't connect to server")


async def test_unreachable_yahoo_is_retried_then_gives_a_reasoned_no_decision(
    tmp_path: Path,
) -> None:
    source = YahooPriceSource(tmp_path / "yf-cache", download=offline_download)
    store = Store(":memory:")
    sink = Collector()
    pipeline = AlertPipeline(EpisodeBook(CONFIG.settings.episodes), store, Dispatcher([sink]))
    waits: list[float] = []

    async def record_sleep(seconds: float) -> None:
        waits.append(seconds)

    scan = PriceScan(
        US,
        source,
        CONFIG.universe,
        CONFIG.settings.detector,
        SETTINGS,
        pipeline,
        store,
        sleep=record_sleep,
        rng=random.Random(1),
    )
    now = datetime(2025, 1, 27, 15, 30, tzinfo=UTC)

    reading = await scan(now)

    assert reading is not None
    assert reading.label is Label.NO_DECISION
    assert reading.reasons[0].startswith("prices unavailable from yahoo")
    assert len(waits) == 2  # three attempts
    assert 2.0 <= waits[0] < 4.0  # backoff 2 s plus up to 2 s of jitter
    assert 4.0 <= waits[1] < 6.0
    assert sink.alerts == []
    status = store.scan_status()
    assert [(s.region, s.source, s.last_success) for s in status] == [("us", "yahoo", None)]
    assert status[0].last_error is not None
    assert store.latest_readings()["us"]["label"] == "no_decision"


async def test_stale_intraday_prices_never_raise_an_alert() -> None:
    recorded = CsvPriceSource([PRICES / "hourly"]).load_all(end=date(2025, 1, 27)).series
    frozen_at = pd.Timestamp("2025-01-27 15:30", tz="UTC")  # the crash is visible by 10:30 NY
    stale = {
        s: replace(ps, closes=ps.closes[ps.closes.index < frozen_at])
        if ps.interval == "1h" and s in ("NVDA", "TSM", "AMD", "INTC")
        else ps
        for s, ps in recorded.items()
    }
    now = datetime(2025, 1, 27, 18, 30, tzinfo=UTC)
    source = RecordedPriceSource(stale, lambda: now, CONFIG.universe.calendars_by_symbol())
    store = Store(":memory:")
    sink = Collector()
    pipeline = AlertPipeline(EpisodeBook(CONFIG.settings.episodes), store, Dispatcher([sink]))
    scan = PriceScan(
        US, source, CONFIG.universe, CONFIG.settings.detector, SETTINGS, pipeline, store
    )

    reading = await scan(now)

    assert reading is not None
    assert reading.label is Label.NO_DECISION
    assert "fresh" in reading.reasons[0]
    assert sink.alerts == []


async def test_scan_outside_the_session_does_nothing() -> None:
    store = Store(":memory:")
    pipeline = AlertPipeline(EpisodeBook(CONFIG.settings.episodes), store, Dispatcher([]))
    source = RecordedPriceSource({}, lambda: datetime(2025, 1, 25, tzinfo=UTC), {})
    scan = PriceScan(
        US, source, CONFIG.universe, CONFIG.settings.detector, SETTINGS, pipeline, store
    )

    assert await scan(datetime(2025, 1, 25, 15, 0, tzinfo=UTC)) is None
    assert store.latest_readings() == {}


@pytest.mark.parametrize("attempts", [1, 2])
async def test_attempts_are_configurable(tmp_path: Path, attempts: int) -> None:
    calls: list[int] = []

    def counting_download(*_: Any, **__: Any) -> object:
        calls.append(1)
        return offline_download()

    source = YahooPriceSource(tmp_path / "yf", download=counting_download)
    store = Store(":memory:")
    pipeline = AlertPipeline(EpisodeBook(CONFIG.settings.episodes), store, Dispatcher([]))

    async def no_wait(_: float) -> None:
        return None

    scan = PriceScan(
        US,
        source,
        CONFIG.universe,
        CONFIG.settings.detector,
        replace(SETTINGS, attempts=attempts),
        pipeline,
        store,
        sleep=no_wait,
    )
    await scan(datetime(2025, 1, 27, 15, 30, tzinfo=UTC))

    assert len(calls) == attempts


async def test_a_scan_that_starts_late_still_takes_the_settled_reading() -> None:
    """APScheduler runs a job a little after its fire time; the after-close scan must run."""
    recorded = CsvPriceSource([PRICES / "daily_close"]).load_all(end=date(2025, 1, 27)).series
    fire = datetime(2025, 1, 27, 21, 20, tzinfo=UTC)  # close (21:00) + 20 min settle
    late = fire + timedelta(milliseconds=50)
    source = RecordedPriceSource(recorded, lambda: late, CONFIG.universe.calendars_by_symbol())
    store = Store(":memory:")
    sink = Collector()
    pipeline = AlertPipeline(EpisodeBook(CONFIG.settings.episodes), store, Dispatcher([sink]))
    strict = PriceScan(
        US, source, CONFIG.universe, CONFIG.settings.detector, SETTINGS, pipeline, store
    )
    tolerant = PriceScan(
        US,
        source,
        CONFIG.universe,
        CONFIG.settings.detector,
        replace(SETTINGS, lateness=timedelta(minutes=2)),
        pipeline,
        store,
    )

    assert await strict(late) is None
    reading = await tolerant(late)

    assert reading is not None
    assert reading.label is Label.DIVERGENCE_DOWN
    assert [a.kind.value for a in sink.alerts] == ["open"]


class PartlyThrottledSource:
    """A provider answering from recorded prices but rate limited for some symbols."""

    name = "partial"

    def __init__(self, inner: RecordedPriceSource, throttled: set[str]) -> None:
        self.inner = inner
        self.throttled = throttled

    async def history(
        self,
        symbols: Sequence[str],
        *,
        start: date | None = None,
        end: date | None = None,
        interval: Interval = "1d",
    ) -> PriceBatch:
        batch = await self.inner.history(
            [s for s in symbols if s not in self.throttled],
            start=start,
            end=end,
            interval=interval,
        )
        errors = dict(batch.errors)
        errors.update(
            {s: RateLimitedError("Too Many Requests", s) for s in symbols if s in self.throttled}
        )
        return PriceBatch(batch.series, errors)


async def test_a_partly_throttled_history_decides_nothing() -> None:
    """Missing names must count against coverage, not vanish from the expected set."""
    recorded = CsvPriceSource([PRICES / "daily_close"]).load_all(end=date(2025, 1, 27)).series
    now = datetime(2025, 1, 27, 21, 20, tzinfo=UTC)
    inner = RecordedPriceSource(recorded, lambda: now, CONFIG.universe.calendars_by_symbol())
    infra = [s for s in CONFIG.universe.baskets("us").infra if s in recorded]
    source = PartlyThrottledSource(inner, set(infra[: len(infra) // 2]))
    store = Store(":memory:")
    sink = Collector()
    pipeline = AlertPipeline(EpisodeBook(CONFIG.settings.episodes), store, Dispatcher([sink]))
    scan = PriceScan(
        US,
        source,
        CONFIG.universe,
        CONFIG.settings.detector,
        replace(SETTINGS, attempts=1),
        pipeline,
        store,
    )

    reading = await scan(now)

    assert reading is not None
    assert reading.label is Label.NO_DECISION
    assert "AI-infrastructure names unavailable" in reading.reasons[0]
    assert sink.alerts == []
