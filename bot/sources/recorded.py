"""Recorded bars served on a simulated clock: a bar is known only after it has closed.

A daily bar is known at its session's close; an intraday bar at its start plus its length, or the
session's close if that comes first (the last, shorter bar of a day). A daily bar's opening price
(where the file has one) is known at the session's open: intraday requests get each symbol's
observations, the opening prints and the intraday bars' closes, indexed by when they were made.
Replays, drills and the demo read prices through this source, so the jobs see exactly what they
would have seen live.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

import numpy as np
import numpy.typing as npt
import pandas as pd

from bot.detection.calendars import session_schedule
from bot.detection.returns import daily_closes
from bot.sources.prices import (
    Interval,
    NoIntradayError,
    PriceBatch,
    PriceError,
    PriceSeries,
    UnknownSymbolError,
)

BAR_LENGTH = {"1h": timedelta(hours=1)}


def _ns(index: pd.DatetimeIndex) -> npt.NDArray[np.int64]:
    """Nanoseconds since the epoch (UTC for tz-aware stamps)."""
    return index.as_unit("ns").values.view(np.int64)


@dataclass(frozen=True)
class _View:
    """One symbol's bars, when each became known, and its UTC day: computed once, so a request
    is a few binary searches (or one mask where the recording is out of order)."""

    series: PriceSeries
    known_at: pd.DatetimeIndex
    known_ns: npt.NDArray[np.int64] = field(init=False)
    day_ns: npt.NDArray[np.int64] = field(init=False)
    ordered: bool = field(init=False)

    def __post_init__(self) -> None:
        index = pd.DatetimeIndex(self.series.closes.index)
        days = index.tz_convert("UTC").tz_localize(None).normalize() if index.tz else index
        known, day = _ns(self.known_at), _ns(pd.DatetimeIndex(days))
        ordered = bool((np.diff(known) >= 0).all() and (np.diff(day) >= 0).all())
        object.__setattr__(self, "known_ns", known)
        object.__setattr__(self, "day_ns", day)
        object.__setattr__(self, "ordered", ordered)

    def known(self, start: date | None, end: date | None, now: pd.Timestamp) -> pd.Series:
        """The closes known at ``now`` on the UTC days ``start`` .. ``end`` (inclusive)."""
        closes = self.series.closes
        first = pd.Timestamp(start).value if start is not None else None
        last = pd.Timestamp(end).value if end is not None else None
        if self.ordered:
            lo = int(np.searchsorted(self.day_ns, first, "left")) if first is not None else 0
            hi = int(np.searchsorted(self.known_ns, now.value, "right"))
            if last is not None:
                hi = min(hi, int(np.searchsorted(self.day_ns, last, "right")))
            return closes.iloc[lo : max(lo, hi)]
        mask = self.known_ns <= now.value
        if first is not None:
            mask &= self.day_ns >= first
        if last is not None:
            mask &= self.day_ns <= last
        return closes[mask]


@functools.lru_cache(maxsize=32)
def _schedule_times(code: str, which: str) -> pd.Series:
    return session_schedule(code, which)


def _session_times(code: str, days: pd.DatetimeIndex, which: str) -> pd.Series:
    """UTC ``which`` ("open" or "close") of each day that is a session of ``code``; NaT for
    the other days."""
    times = _schedule_times(code, which)
    return pd.Series(times.reindex(days).array, index=range(len(days)))


def _daily_view(series: PriceSeries, cal: str, tz: str) -> _View:
    closes = daily_closes(series, tz)
    days = pd.DatetimeIndex(closes.index)
    session_close = _session_times(cal, days, "close")
    next_midnight = pd.Series(
        (days + pd.Timedelta(days=1)).tz_localize(tz).tz_convert("UTC"), index=range(len(days))
    )
    known = session_close.where(session_close.notna(), next_midnight)
    daily = replace(series, closes=closes, interval="1d", breaks=(), opens=None)
    return _View(daily, pd.DatetimeIndex(known))


def _bar_ends(series: PriceSeries, cal: str, tz: str) -> pd.DatetimeIndex:
    """When each intraday bar closed: its start plus its length, or the session's close."""
    starts = pd.DatetimeIndex(series.closes.index)
    ends = pd.Series(starts + BAR_LENGTH[series.interval], index=range(len(starts)))
    days = starts.tz_convert(tz).tz_localize(None).normalize()
    session_close = _session_times(cal, days, "close")
    return pd.DatetimeIndex(
        ends.where(session_close.isna() | (ends <= session_close), session_close)
    )


def _observed_view(
    symbol: str, daily: PriceSeries | None, bars: PriceSeries | None, cal: str, tz: str
) -> _View | None:
    """Intraday observations of one symbol: each session's opening print (from its daily
    bars) at the open, and each intraday bar's close when the bar closed.

    Without intraday bars the view holds the opening prints only (interval ``"1d"``): the
    symbol is seen at the open and, once that print is old, counts as having no intraday bars.
    """
    parts: list[pd.Series] = []
    if bars is not None:
        parts.append(pd.Series(bars.closes.to_numpy(), index=_bar_ends(bars, cal, tz)))
    if daily is not None and daily.opens is not None and not daily.opens.empty:
        opened = _session_times(cal, pd.DatetimeIndex(daily.opens.index), "open")
        known = opened.notna().to_numpy()
        parts.append(
            pd.Series(daily.opens.to_numpy()[known], index=pd.DatetimeIndex(opened[known]))
        )
    if not parts:
        return None
    merged = pd.concat(parts).sort_index(kind="stable")
    merged = merged[~merged.index.duplicated(keep="last")].rename(symbol)
    if bars is not None:
        series = replace(bars, closes=merged, breaks=(), observed=True)
    elif daily is not None:
        series = replace(daily, closes=merged, breaks=(), opens=None, observed=True)
    else:
        return None
    return _View(series, pd.DatetimeIndex(merged.index))


class RecordedPriceSource:
    """A :class:`~bot.sources.prices.PriceSource` over recorded series and a clock."""

    name = "recorded"

    def __init__(
        self,
        series: Mapping[str, PriceSeries],
        clock: Callable[[], datetime],
        calendar_of: Mapping[str, tuple[str, str]],
        default_calendar: tuple[str, str] = ("XNYS", "America/New_York"),
        intraday: Mapping[str, PriceSeries] | None = None,
    ) -> None:
        """Args:
        series: recorded bars per symbol (daily or hourly); daily requests read these.
        clock: the simulated now (UTC).
        calendar_of: symbol -> (exchange calendar, time zone) deciding when a bar closes.
        default_calendar: for symbols not in ``calendar_of``.
        intraday: hourly bars per symbol, for intraday requests (a symbol with hourly bars in
            ``series`` needs none here); a symbol only here gets its daily closes from them.
        """
        self.clock = clock
        self._daily: dict[str, _View] = {}
        self._intraday: dict[str, _View] = {}
        extra = intraday or {}
        for symbol in {*series, *extra}:
            cal, tz = calendar_of.get(symbol, default_calendar)
            given = series.get(symbol)
            bars = extra.get(symbol) or (given if given and given.interval != "1d" else None)
            daily = given if given is not None and given.interval == "1d" else None
            self._daily[symbol] = _daily_view(
                given if given is not None else extra[symbol], cal, tz
            )
            view = _observed_view(symbol, daily, bars, cal, tz)
            if view is not None:
                self._intraday[symbol] = view

    def symbols(self) -> list[str]:
        return sorted(self._daily)

    async def history(
        self,
        symbols: Sequence[str],
        *,
        start: date | None = None,
        end: date | None = None,
        interval: Interval = "1d",
    ) -> PriceBatch:
        """Bars known at the clock's now (masking runs in a worker thread)."""
        return await asyncio.to_thread(
            self._known, list(symbols), start, end, interval, pd.Timestamp(self.clock())
        )

    def _known(
        self,
        symbols: Sequence[str],
        start: date | None,
        end: date | None,
        interval: Interval,
        now: pd.Timestamp,
    ) -> PriceBatch:
        views = self._daily if interval == "1d" else self._intraday
        out: dict[str, PriceSeries] = {}
        errors: dict[str, PriceError] = {}
        for symbol in symbols:
            view = views.get(symbol)
            if view is None:
                if symbol in self._daily:
                    errors[symbol] = NoIntradayError(
                        f"{symbol}: no {interval} bars recorded", symbol
                    )
                else:
                    errors[symbol] = UnknownSymbolError(f"{symbol}: not in the recording", symbol)
                continue
            out[symbol] = replace(view.series, closes=view.known(start, end, now))
        return PriceBatch(out, errors)


class WatchedRecording:
    """A recording that fails, as the live CSV source would, while the files it was read from
    are gone: a drill is the live process, so its readiness and scans say so too."""

    name = "recorded"

    def __init__(self, recording: RecordedPriceSource, check: Callable[[], None]) -> None:
        """Args:
        recording: the prices, read once.
        check: raises :class:`~bot.sources.prices.SourceUnavailableError` while the files are
            not where they were read from.
        """
        self.recording = recording
        self.check = check

    async def history(
        self,
        symbols: Sequence[str],
        *,
        start: date | None = None,
        end: date | None = None,
        interval: Interval = "1d",
    ) -> PriceBatch:
        self.check()
        return await self.recording.history(symbols, start=start, end=end, interval=interval)
