"""Chart rendering: time per chart (matplotlib's object API, Agg) on DeepSeek Monday's real
readings, and the peak memory of ``python -m bot chart`` as a user runs it.

Run alone with ``python -m benchmarks.charts``.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from datetime import date
from typing import Any

from benchmarks.detector import DAILY_CLOSE, measured_run
from bot.charting import ChartRequest, build_chart
from bot.config import load_config
from bot.render.charts import ChartData, render_png
from bot.runtime.offline import recorded_day

PRICES = DAILY_CLOSE.parent
FOLDERS = [PRICES / "hourly", PRICES / "daily_ohlcv", DAILY_CLOSE]
TARGET_MS = 300.0
ROUNDS = 15


async def _data() -> ChartData:
    loaded = load_config(None, {})
    async with recorded_day(loaded, FOLDERS, date(2025, 1, 27)) as day:
        return await build_chart(day.context, ChartRequest(None, "1d", "us"), "en")


def charts() -> dict[str, float]:
    data = asyncio.run(_data())
    started = time.perf_counter()
    first = render_png(data, "en")  # imports matplotlib and its fonts
    cold_ms = (time.perf_counter() - started) * 1000
    times = []
    for n in range(ROUNDS):
        started = time.perf_counter()
        render_png(data, "de" if n % 2 else "en")
        times.append((time.perf_counter() - started) * 1000)
    args = [a for folder in FOLDERS for a in ("--prices", str(folder))]
    run = measured_run(["chart", *args, "--date", "2025-01-27", "--out", "/dev/null"], repeats=1)
    return {
        "first_ms": cold_ms,
        "median_ms": statistics.median(times),
        "max_ms": max(times),
        "png_kib": len(first) / 1024,
        "process_peak_rss_mib": run["peak_rss_mib"],
        "process_seconds": run["seconds_best"],
    }


def summary(result: dict[str, Any]) -> str:
    verdict = "meets" if result["median_ms"] <= TARGET_MS else "MISSES"
    return (
        f"| chart rendering, DeepSeek Monday US session (1200x675 PNG, "
        f"{result['png_kib']:.0f} KiB), median of {ROUNDS} | {result['median_ms']:.0f} ms per "
        f"chart (max {result['max_ms']:.0f} ms; the first in a process {result['first_ms']:.0f} "
        f"ms with matplotlib's import); `python -m bot chart` {result['process_seconds']:.1f} s, "
        f"peak RSS {result['process_peak_rss_mib']:.0f} MiB | <= {TARGET_MS:.0f} ms: {verdict} |"
    )


if __name__ == "__main__":
    from benchmarks import machine

    print(f"machine: {machine.describe()}")
    print(summary(charts()))
