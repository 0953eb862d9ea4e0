"""``/exposure`` through the command dispatcher, on the real daily closes.

- first call after a start, without and with the start-up warm-up (``MarketData.warm``, which
  the running bot starts in the background);
- a 30-position portfolio once warm (median of 20).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from datetime import UTC, datetime

from benchmarks.detector import DAILY_CLOSE
from bot.config import load_config
from bot.sources.csv_prices import CsvPriceSource
from bot.sources.marketdata import MarketData
from bot.storage.store import Store
from handlers.commands import build_registry
from handlers.registry import Dispatcher, Invocation, RateLimit
from handlers.services import Services

NOW = datetime(2026, 8, 4, 12, 0, tzinfo=UTC)
FIRST_TARGET_MS = 150.0
PORTFOLIO_TARGET_MS = 5.0


def _dispatcher() -> tuple[Dispatcher, MarketData]:
    config = load_config(None, {})
    market = MarketData(
        CsvPriceSource([DAILY_CLOSE]), config.universe, config.settings.detector, lambda: NOW
    )
    services = Services(
        universe=config.universe,
        store=Store(":memory:"),
        market=market,
        params=config.settings.detector,
        clock=lambda: NOW,
    )
    return Dispatcher(build_registry(), services, RateLimit(calls=10**6)), market


async def _yes() -> bool:
    return True


def _call(args: str) -> Invocation:
    return Invocation(
        platform="bench",
        command="exposure",
        raw_args=args,
        chat_id="1",
        chat_type="private",
        user_id="1",
        user_language="en",
        check_admin=_yes,
    )


async def _ms(dispatcher: Dispatcher, args: str) -> float:
    started = time.perf_counter()
    reply = await dispatcher.dispatch(_call(args))
    assert reply is not None
    return (time.perf_counter() - started) * 1000


async def _run() -> dict[str, float]:
    cold, _ = _dispatcher()
    first_cold = await _ms(cold, "NVDA")
    warm, market = _dispatcher()
    started = time.perf_counter()
    await market.warm()
    warm_up = (time.perf_counter() - started) * 1000
    first_warm = await _ms(warm, "NVDA")
    symbols = sorted(p.stem for p in DAILY_CLOSE.glob("*.csv"))[:30]
    portfolio = " ".join(f"{s}:{100 // len(symbols) + 1}" for s in symbols)
    await _ms(warm, portfolio)
    runs = [await _ms(warm, portfolio) for _ in range(20)]
    return {
        "first_cold_ms": first_cold,
        "warm_up_ms": warm_up,
        "first_warm_ms": first_warm,
        "portfolio_ms": statistics.median(runs),
        "positions": float(len(symbols)),
    }


def exposure() -> dict[str, float]:
    return asyncio.run(_run())


def summary(r: dict[str, float]) -> str:
    first = "meets" if r["first_warm_ms"] <= FIRST_TARGET_MS else "MISSES"
    book = "meets" if r["portfolio_ms"] <= PORTFOLIO_TARGET_MS else "MISSES"
    return (
        f"| `/exposure` through the dispatcher, real daily closes | first `/exposure NVDA` "
        f"after a start {r['first_cold_ms']:.0f} ms cold, {r['first_warm_ms']:.1f} ms after the "
        f"start-up warm-up ({r['warm_up_ms']:.0f} ms in the background); "
        f"{r['positions']:.0f}-position portfolio {r['portfolio_ms']:.1f} ms warm | first "
        f"<= {FIRST_TARGET_MS:.0f} ms: {first}; portfolio <= {PORTFOLIO_TARGET_MS:.0f} ms: "
        f"{book} |"
    )


if __name__ == "__main__":
    print(summary(exposure()))
