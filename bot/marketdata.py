"""Region histories for the commands, fetched through the price source and cached per day."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, datetime, timedelta

import numpy as np

from bot.backtest import run_backtest
from bot.calendars import sessions as calendar_sessions
from bot.detect import Baseline, DetectorParams, History, Label, basket_series, build_baseline
from bot.exposure import DEEPSEEK_MONDAY, RegionHistory
from bot.returns import session_returns
from bot.sources.prices import PriceError, PriceSeries, PriceSource, UnknownSymbolError
from bot.universe import Universe

HISTORY_START = DEEPSEEK_MONDAY - timedelta(days=400)
"""Histories reach back far enough to hold DeepSeek Monday with a year of warm-up."""

SUFFIX_REGIONS = {
    ".T": "jp",
    ".DE": "eu",
    ".AS": "eu",
    ".PA": "eu",
    ".SW": "eu",
    ".MI": "eu",
    ".L": "eu",
    ".MC": "eu",
    ".BR": "eu",
    ".ST": "eu",
    ".CO": "eu",
    ".HE": "eu",
    ".VI": "eu",
    ".F": "eu",
}


class MarketData:
    """Daily histories per region; one fetch per region and day."""

    def __init__(
        self,
        source: PriceSource,
        universe: Universe,
        params: DetectorParams,
        clock: Callable[[], datetime],
    ) -> None:
        self.source = source
        self.universe = universe
        self.params = params
        self.clock = clock
        self._regions: dict[tuple[str, date], RegionHistory] = {}
        self._lock = asyncio.Lock()

    def region_of(self, symbol: str) -> str:
        inst = self.universe.get(symbol)
        if inst is not None:
            return inst.region
        for suffix, region in SUFFIX_REGIONS.items():
            if symbol.upper().endswith(suffix):
                return region
        return "us"

    def _start(self, today: date) -> date:
        return min(HISTORY_START, today - timedelta(days=400))

    async def region(self, region: str) -> RegionHistory:
        """The region's history up to the newest session the source has."""
        today = self.clock().date()
        async with self._lock:
            cached = self._regions.get((region, today))
            if cached is not None:
                return cached
            symbols = [i.symbol for i in self.universe.in_region(region)]
            batch = await self.source.history(symbols, start=self._start(today), end=today)
            if not batch.series:
                first = next(iter(batch.errors.values()), None)
                raise first or PriceError(f"no prices for region {region}")
            hist = await asyncio.to_thread(self._build, region, dict(batch.series), today)
            self._regions = {k: v for k, v in self._regions.items() if k[1] == today}
            self._regions[(region, today)] = hist
            return hist

    def _build(self, region: str, series: dict[str, PriceSeries], today: date) -> RegionHistory:
        reg = self.universe.regions[region]
        last = max(s.closes.index[-1] for s in series.values() if len(s.closes)).date()
        sessions = calendar_sessions(reg.calendar, self._start(today), min(last, today))
        symbols, matrix = session_returns(series, sessions, reg.timezone)
        baskets = self.universe.baskets(region)
        history = History(symbols, matrix)
        baseline = build_baseline(history, baskets, self.params)
        beta = baseline.beta if isinstance(baseline, Baseline) else 1.0
        result = run_backtest(series, self.universe, self.params, region=region)
        divergences = {
            r.as_of.date(): r
            for r in result.readings
            if r.label.is_divergence
            or (r.label in (Label.BROAD_SELLOFF, Label.BROAD_RALLY) and r.sector_led)
        }
        return RegionHistory(
            region, sessions, symbols, matrix, basket_series(history, baskets), beta, divergences
        )

    async def returns_of(self, symbol: str, hist: RegionHistory) -> np.ndarray:
        """A symbol's session returns aligned to a region history (fetched if not in it)."""
        column = hist.column(symbol)
        if column is not None and not np.all(np.isnan(column)):
            return column
        today = self.clock().date()
        batch = await self.source.history([symbol], start=self._start(today), end=today)
        if symbol not in batch.series:
            raise batch.errors.get(symbol) or UnknownSymbolError(f"{symbol}: no prices", symbol)
        tz = self.universe.regions[hist.region].timezone
        _, matrix = session_returns({symbol: batch.series[symbol]}, hist.sessions, tz)
        return matrix[:, 0]
