"""A live scan's CPU work at 100 and 1,000 US instruments: snapshot building plus detect.

What production runs each scan after the prices arrive (``PriceScan._intraday`` and
``PriceScan._settled``, in a worker thread), on DeepSeek Monday 10:30 New York. The series are
the real hourly and daily files of ``../shared/data/prices``; beyond the recorded names, the
universe is filled with synthetic copies of real AI-infrastructure series (a real series times a
seeded random walk, under a new symbol), added to the infrastructure basket.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

from benchmarks.detector import ROOT
from bot.config import LoadedConfig, load_config
from bot.delivery.sinks import Dispatcher
from bot.detection.regions import scan_regions, window_at
from bot.episodes import EpisodeBook
from bot.pipeline import AlertPipeline
from bot.sources.csv_prices import CsvPriceSource
from bot.sources.prices import PriceSeries
from bot.storage.store import Store
from jobs.price_scan import PriceScan, ScanSettings

PRICES = ROOT.parent / "shared" / "data" / "prices"
SOURCES = ("NVDA", "AMD", "TSM", "INTC")
NOW = datetime(2025, 1, 27, 15, 35, tzinfo=UTC)
AFTER_CLOSE = datetime(2025, 1, 27, 21, 20, tzinfo=UTC)
SETTINGS = ScanSettings(
    interval=timedelta(minutes=5),
    settle_delay=timedelta(minutes=20),
    max_age=timedelta(minutes=65),
    history_sessions=300,
    attempts=1,
    backoff_seconds=0.0,
)


def _walk(series: PriceSeries, rng: np.random.Generator, symbol: str) -> PriceSeries:
    steps = np.exp(np.cumsum(rng.normal(0.0, 0.01, len(series.closes))))
    return replace(series, symbol=symbol, closes=(series.closes * steps).rename(symbol))


def _config(extra: list[str], tmp: Path) -> LoadedConfig:
    lines = []
    for symbol in extra:
        lines += [
            "[[universe.add]]",
            f'symbol = "{symbol}"',
            f'name = "Synthetic {symbol}"',
            'region = "us"',
            'currency = "USD"',
            'segments = ["compute"]',
        ]
    path = tmp / "config.toml"
    path.write_text("\n".join(lines) + "\n")
    return load_config(path, {})


def scan_setup(
    instruments: int, tmp: Path
) -> tuple[PriceScan, dict[str, PriceSeries], dict[str, PriceSeries]]:
    """A US scan over ``instruments`` names in all, its daily and hourly series."""
    config = load_config(None, {})
    source = CsvPriceSource([PRICES / "hourly", PRICES / "daily_close"])
    daily_batch, hourly_batch = source.load_intervals(start=date(2023, 6, 1), end=date(2025, 1, 27))
    daily, hourly = dict(daily_batch.series), dict(hourly_batch.series)
    us = {i.symbol for i in config.universe.in_region("us")}
    daily = {s: v for s, v in daily.items() if s in us}
    rng = np.random.default_rng(7)
    extra = [f"SYN{n:04d}" for n in range(max(0, instruments - len(daily)))]
    for n, symbol in enumerate(extra):
        real = SOURCES[n % len(SOURCES)]
        daily[symbol] = _walk(daily[real], rng, symbol)
        hourly[symbol] = _walk(hourly[real], rng, symbol)
    config = _config(extra, tmp)
    universe = config.universe
    store = Store(":memory:")
    pipeline = AlertPipeline(EpisodeBook(config.settings.episodes), store, Dispatcher([]))
    region = scan_regions(universe, ["us"])[0]
    scan = PriceScan(
        region, _NoSource(), universe, config.settings.detector, SETTINGS, pipeline, store
    )
    return scan, daily, hourly


class _NoSource:
    name = "none"

    async def history(self, *_: object, **__: object) -> None:
        raise AssertionError("the benchmark hands the scan its series")


def live_scan(
    sizes: tuple[int, ...] = (100, 1000), rounds: int = 20
) -> dict[int, dict[str, float]]:
    """Milliseconds per scan (median of ``rounds``) for the intraday and the settled reading."""
    results: dict[int, dict[str, float]] = {}
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp:
            scan, daily, hourly = scan_setup(size, Path(tmp))
        session = date(2025, 1, 27)
        basis = scan._basis(daily, session)  # once a session, as the scan job does
        history = {
            s: replace(v, closes=v.closes[v.closes.index < "2025-01-27"]) for s, v in daily.items()
        }
        win = window_at(scan.region, NOW, SETTINGS.settle_delay)
        settled_win = window_at(scan.region, AFTER_CLOSE, SETTINGS.settle_delay)
        assert win is not None
        assert settled_win is not None
        known = {
            s: replace(v, closes=v.closes[v.closes.index <= NOW - timedelta(hours=1)])
            for s, v in hourly.items()
        }
        intraday, settled = [], []
        for _ in range(rounds):
            started = time.perf_counter()
            reading = scan._intraday(
                history, known, win, NOW, frozenset(), basis.baseline, basis.bases
            )
            intraday.append(time.perf_counter() - started)
            started = time.perf_counter()
            scan._settled(daily, settled_win, basis.baseline, basis.bases)
            settled.append(time.perf_counter() - started)
        names = reading.stats.basket_names if reading.stats else 0
        results[size] = {
            "intraday_ms": statistics.median(intraday) * 1000,
            "settled_ms": statistics.median(settled) * 1000,
            "basket_names": float(names),
        }
    return results


TARGET_MS_PER_100 = 5.0


def summary(results: dict[int, dict[str, float]]) -> str:
    rows = []
    for size, r in results.items():
        per_100 = max(r["intraday_ms"], r["settled_ms"]) / size * 100
        verdict = "meets" if per_100 <= TARGET_MS_PER_100 else "MISSES"
        rows.append(
            f"| live scan, {size} US instruments ({r['basket_names']:.0f} fresh basket names "
            f"intraday), snapshot building plus detect, median of 20 | intraday "
            f"{r['intraday_ms']:.1f} ms, settled {r['settled_ms']:.1f} ms: at most "
            f"{per_100:.1f} ms per 100 names | <= {TARGET_MS_PER_100:.0f} ms per 100 names: "
            f"{verdict} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    print(summary(live_scan()))
