"""How long a scan holds the event loop: asyncio's own slow-callback report over a day of scans.

Replays the scan jobs of every region over DeepSeek Monday (recorded hourly and daily prices from
../shared/data) through the one wiring, with asyncio debug mode reporting every callback that
runs longer than a threshold. Each region's first scan of the day (history fetch, baseline) is
run before measuring: the steady state is what chats wait behind.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime, timedelta

from bot.clock import SteppedClock
from bot.config import load_config
from bot.runtime.replay import schedule
from bot.runtime.wiring import build_runtime
from bot.sources.csv_prices import CsvPriceSource
from bot.sources.recorded import RecordedPriceSource
from bot.storage.store import Store
from tests.conftest import PRICES

TOOK = re.compile(r"took (\d+\.\d+) seconds")


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.durations: list[float] = []

    def emit(self, record: logging.LogRecord) -> None:
        found = TOOK.search(record.getMessage())
        if found:
            self.durations.append(float(found.group(1)))


async def _run(threshold: float) -> dict[str, float]:
    loaded = load_config(None)
    csv = CsvPriceSource([PRICES / "hourly", PRICES / "daily_close"])
    daily, intraday = csv.load_intervals(end=datetime(2025, 1, 31).date())
    begin = datetime(2025, 1, 27, tzinfo=UTC)
    clock = SteppedClock(begin)
    source = RecordedPriceSource(
        daily.series, clock.now, loaded.universe.calendars_by_symbol(), intraday=intraday.series
    )
    runtime = build_runtime(loaded, clock, Store(":memory:"), source, news=False, recorded=True)
    jobs = runtime.scan_jobs()
    planned = schedule(
        [region for region, _ in jobs],
        begin,
        begin + timedelta(days=1),
        runtime.scan_settings.interval,
        runtime.scan_settings.settle_delay,
        settled_only=False,
    )
    warmed: set[int] = set()
    for item in planned:
        if item.order not in warmed:
            warmed.add(item.order)
            clock.set(item.at)
            await jobs[item.order][1]()
    loop = asyncio.get_running_loop()
    handler = _Collect()
    logger = logging.getLogger("asyncio")
    logger.addHandler(handler)
    loop.set_debug(True)
    loop.slow_callback_duration = threshold
    try:
        for item in planned:
            clock.set(item.at)
            await jobs[item.order][1]()
    finally:
        loop.set_debug(False)
        logger.removeHandler(handler)
    symbols = len({*daily.series, *intraday.series})
    return {
        "scans": float(len(planned)),
        "symbols": float(symbols),
        "over": float(len(handler.durations)),
        "longest_ms": 1000 * max(handler.durations, default=0.0),
        "threshold_ms": 1000 * threshold,
    }


def loop_holding(threshold: float = 0.05) -> dict[str, float]:
    return asyncio.run(_run(threshold))


def summary(result: dict[str, float]) -> str:
    verdict = "meets" if result["over"] == 0 else "MISSES"
    return (
        f"| event loop during scans, {result['scans']:.0f} scans of DeepSeek Monday, "
        f"{result['symbols']:.0f} recorded symbols | {result['over']:.0f} callbacks over "
        f"{result['threshold_ms']:.0f} ms (longest {result['longest_ms']:.0f} ms; {verdict} the "
        f"{result['threshold_ms']:.0f} ms target) |"
    )
