"""How long a scan holds the event loop: asyncio's own slow-callback report over a day of scans.

Replays the scan jobs of every region over DeepSeek Monday (recorded hourly and daily prices from
../shared/data, plus synthetic names that copy them, to about 100 instruments) through the one
wiring, with asyncio debug mode reporting every callback that
runs longer than a threshold. Each region's first scan of the day (history fetch, baseline) is
run before measuring: the steady state is what chats wait behind.
"""

from __future__ import annotations

import asyncio
import logging
import re
import tempfile
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.clock import SteppedClock
from bot.config import LoadedConfig, load_config
from bot.runtime.replay import schedule
from bot.runtime.wiring import build_runtime
from bot.sources.csv_prices import CsvPriceSource
from bot.sources.prices import PriceSeries
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


EXTRA_SEGMENTS = ("compute", "networking", "servers", "dc_power_cooling", "power_producers")


def _with_extra_names(extra: int, tmp: Path) -> tuple[LoadedConfig, dict[str, str]]:
    """A config whose US universe has ``extra`` more AI-infrastructure names, each priced by a
    copy of a recorded series (symbol -> the symbol it copies)."""
    copies = ("NVDA", "AMD", "TSM", "INTC", "MSFT", "GOOGL", "AMZN", "META", "AAPL")
    lines, copied = [], {}
    for n in range(extra):
        symbol = f"SYN{n:03d}"
        copied[symbol] = copies[n % len(copies)]
        lines += [
            "[[universe.add]]",
            f'symbol = "{symbol}"',
            f'name = "Synthetic {n}"',
            'region = "us"',
            'currency = "USD"',
            f'segments = ["{EXTRA_SEGMENTS[n % len(EXTRA_SEGMENTS)]}"]',
        ]
    config = tmp / "config.toml"
    config.write_text("\n".join(lines) + "\n")
    return load_config(config, {}), copied


def _renamed(series: PriceSeries, symbol: str) -> PriceSeries:
    return replace(series, symbol=symbol, closes=series.closes.rename(symbol))


async def _run(threshold: float, extra: int, tmp: Path) -> dict[str, float]:
    loaded, copied = _with_extra_names(extra, tmp)
    csv = CsvPriceSource([PRICES / "hourly", PRICES / "daily_close"])
    loaded_daily, loaded_intraday = csv.load_intervals(end=datetime(2025, 1, 31).date())
    daily = dict(loaded_daily.series)
    intraday = dict(loaded_intraday.series)
    for symbol, original in copied.items():
        daily[symbol] = _renamed(daily[original], symbol)
        intraday[symbol] = _renamed(intraday[original], symbol)
    begin = datetime(2025, 1, 27, tzinfo=UTC)
    clock = SteppedClock(begin)
    source = RecordedPriceSource(
        daily, clock.now, loaded.universe.calendars_by_symbol(), intraday=intraday
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
    symbols = len({*daily, *intraday})
    us = runtime.store.latest_readings()["us"]
    return {
        "basket_names": float(str(us.get("basket_names") or 0)),
        "scans": float(len(planned)),
        "symbols": float(symbols),
        "over": float(len(handler.durations)),
        "longest_ms": 1000 * max(handler.durations, default=0.0),
        "threshold_ms": 1000 * threshold,
    }


def loop_holding(threshold: float = 0.05, extra: int = 60) -> dict[str, float]:
    """``extra`` synthetic names on top of the recorded ones (41): about 100 instruments."""
    with tempfile.TemporaryDirectory() as tmp:
        return asyncio.run(_run(threshold, extra, Path(tmp)))


def summary(result: dict[str, float]) -> str:
    verdict = "meets" if result["over"] == 0 else "MISSES"
    return (
        f"| event loop during scans, {result['scans']:.0f} scans of DeepSeek Monday, "
        f"{result['symbols']:.0f} symbols, US readings on {result['basket_names']:.0f} basket "
        f"names | {result['over']:.0f} callbacks over "
        f"{result['threshold_ms']:.0f} ms (longest {result['longest_ms']:.0f} ms; {verdict} the "
        f"{result['threshold_ms']:.0f} ms target) |"
    )
