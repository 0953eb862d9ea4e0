"""Region histories for the commands, fetched through the price source and cached per day."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta

import numpy as np
import numpy.typing as npt
import pandas as pd

from bot.detection.backtest import run_backtest
from bot.detection.calendars import session_schedule
from bot.detection.calendars import sessions as calendar_sessions
from bot.detection.detect import (
    Baseline,
    DetectorParams,
    FloatArray,
    History,
    Label,
    basket_series,
    build_baseline,
)
from bot.detection.exposure import (
    DEEPSEEK_MONDAY,
    NameExposure,
    RegionHistory,
    name_exposure,
)
from bot.detection.returns import session_returns
from bot.sources.prices import PriceError, PriceSeries, PriceSource, UnknownSymbolError
from bot.universe import Universe

log = logging.getLogger(__name__)

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
        self._outside: dict[tuple[str, date], FloatArray] = {}
        self._lock = asyncio.Lock()
        self._closes: dict[str, tuple[npt.NDArray[np.int64], list[date]]] = {}
        self._exposures: dict[tuple[str, str, date], NameExposure] = {}

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

    def last_closed_session(self, region: str) -> date:
        """The newest session of the region that has closed: a running day is not history."""
        now = self.clock()
        closes, days = self._session_closes(region)
        closed = int(np.searchsorted(closes, pd.Timestamp(now).value, side="right"))
        return days[closed - 1] if closed else now.date() - timedelta(days=1)

    def _session_closes(self, region: str) -> tuple[npt.NDArray[np.int64], list[date]]:
        """The region's session closes (UTC nanoseconds, ascending) and their dates, once."""
        cached = self._closes.get(region)
        if cached is None:
            schedule = session_schedule(self.universe.regions[region].calendar, "close")
            closes = pd.DatetimeIndex(schedule).as_unit("ns")
            cached = (closes.values.view(np.int64), [d.date() for d in schedule.index])
            self._closes[region] = cached
        return cached

    async def region(self, region: str) -> RegionHistory:
        """The region's history up to its last closed session (cached until the next close)."""
        today = self.last_closed_session(region)
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
            self._regions = {k: v for k, v in self._regions.items() if k[1] >= today}
            self._regions[(region, today)] = hist
            return hist

    async def warm(self) -> None:
        """Fetch and build every region's history now, so the first ``/exposure`` after a
        start answers at once; a region that fails is left for the first command to fetch."""
        for region in self.universe.regions:
            if not self.universe.in_region(region):
                continue
            try:
                await self.region(region)
            except PriceError as exc:
                log.info("market data for %s not warmed: %s", region, exc.message)
            else:
                log.info("market data for %s ready", region)

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

    async def exposure(self, symbol: str) -> tuple[RegionHistory, NameExposure]:
        """A name's exposure and its region's history; computed once per name and close."""
        hist = await self.region(self.region_of(symbol))
        key = (symbol, hist.region, hist.last_session)
        cached = self._exposures.get(key)
        if cached is None:
            cached = name_exposure(hist, symbol, await self.returns_of(symbol, hist))
            self._exposures = {k: v for k, v in self._exposures.items() if k[2] >= key[2]}
            self._exposures[key] = cached
        return hist, cached

    async def returns_of(self, symbol: str, hist: RegionHistory) -> FloatArray:
        """A symbol's session returns aligned to a region history (fetched if not in it)."""
        column = hist.column(symbol)
        if column is not None and not np.all(np.isnan(column)):
            return column
        last = hist.last_session
        cached = self._outside.get((symbol, last))
        if cached is not None:
            return cached
        batch = await self.source.history([symbol], start=self._start(last), end=last)
        if symbol not in batch.series:
            raise batch.errors.get(symbol) or UnknownSymbolError(f"{symbol}: no prices", symbol)
        tz = self.universe.regions[hist.region].timezone
        _, matrix = session_returns({symbol: batch.series[symbol]}, hist.sessions, tz)
        self._outside = {k: v for k, v in self._outside.items() if k[1] == last}
        self._outside[(symbol, last)] = matrix[:, 0]
        return matrix[:, 0]
