"""From fetched bars to the detector's inputs: a baseline history and a snapshot.

Intraday snapshots hold each name's return from its previous session close to its latest bar; a
name whose latest bar is older than the freshness limit is left out (stale). The settled
snapshot after the close holds the session's close-to-close returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import numpy.typing as npt
import pandas as pd

from bot.detection import calendars
from bot.detection.detect import History, Snapshot
from bot.detection.regions import ScanRegion, Window
from bot.detection.returns import daily_closes, session_returns
from bot.sources.prices import PriceSeries

OVERNIGHT_VARIANCE_SHARE = 0.3
"""Share of a session's return variance that arrives overnight (before the open)."""


@dataclass(frozen=True)
class SnapshotBuild:
    """A snapshot and the names that had to be left out, with why."""

    snapshot: Snapshot
    stale: Mapping[str, str]


def history_before(
    daily: Mapping[str, PriceSeries], region: ScanRegion, session: date, sessions: int
) -> History:
    """Session returns of the ``sessions`` region sessions before ``session``."""
    days = calendars.sessions(region.calendar, session - timedelta(days=sessions * 2 + 10), session)
    days = pd.DatetimeIndex(days[days < pd.Timestamp(session)][-(sessions + 1) :])
    symbols, matrix = session_returns(daily, days, region.timezone)
    return History(symbols, matrix[1:])


def _stamps(closes: pd.Series) -> npt.NDArray[np.int64]:
    """The index of ``closes`` as int64 nanoseconds (UTC for tz-aware bars), ascending."""
    index = closes.index
    if not isinstance(index, pd.DatetimeIndex):
        index = pd.DatetimeIndex(index)
    if index.unit != "ns":
        index = index.as_unit("ns")
    return index.values.view(np.int64)  # .values: UTC datetime64 for tz-aware bars too


def _previous_close(
    series: PriceSeries, region: ScanRegion, session: date, previous_session: date
) -> float | None:
    closes = daily_closes(series, region.timezone)
    stamps = _stamps(closes)
    before = int(np.searchsorted(stamps, pd.Timestamp(session).value, side="left"))
    if before == 0 or stamps[before - 1] != pd.Timestamp(previous_session).value:
        return None
    return float(closes.to_numpy()[before - 1])


def previous_closes(
    daily: Mapping[str, PriceSeries], region: ScanRegion, session: date
) -> dict[str, float | None]:
    """Each name's close of the session before ``session`` (``None``: it has none); the same
    for every scan of a session, so a scan job computes it once with the baseline."""
    prev = previous_session(region, session)
    return {s: _previous_close(v, region, session, prev) for s, v in daily.items()}


def previous_session(region: ScanRegion, session: date) -> date:
    return calendars.previous_session(region.calendar, session)


def settled_snapshot(
    daily: Mapping[str, PriceSeries],
    region: ScanRegion,
    win: Window,
    bases: Mapping[str, float | None] | None = None,
) -> SnapshotBuild:
    """Close-to-close returns of the window's session (``bases``: the previous closes from
    :func:`previous_closes`, if the caller has them)."""
    prev = previous_session(region, win.session)
    if bases is None:
        bases = previous_closes(daily, region, win.session)
    returns: dict[str, float] = {}
    stale: dict[str, str] = {}
    day = pd.Timestamp(win.session)
    for symbol, series in daily.items():
        closes = daily_closes(series, region.timezone)
        stamps = _stamps(closes)
        after = int(np.searchsorted(stamps, day.value, side="right"))
        today = after > 0 and stamps[after - 1] == day.value
        base = bases.get(symbol)
        if not today:
            stale[symbol] = f"no close for {win.session}"
        elif base is None:
            stale[symbol] = f"no close for the previous session {prev}"
        elif series.breaks and day in set(series.breaks):
            stale[symbol] = "split or data break on this session"
        else:
            returns[symbol] = float(closes.to_numpy()[after - 1]) / base - 1.0
    return SnapshotBuild(Snapshot(region.key, win.end, returns, 1.0), stale)


def intraday_snapshot(
    daily: Mapping[str, PriceSeries],
    intraday: Mapping[str, PriceSeries],
    region: ScanRegion,
    win: Window,
    now: datetime,
    bar_length: timedelta,
    max_age: timedelta,
    no_intraday: frozenset[str] = frozenset(),
    bases: Mapping[str, float | None] | None = None,
) -> SnapshotBuild:
    """Returns since the previous close from the newest bar of each name known at ``now``.

    A live provider may include the running bar; its price is as of ``now`` at the latest.
    Names in ``no_intraday`` (the source has only daily bars of them) are left out of the
    snapshot and of its coverage, and so are names whose only intraday price is a recorded
    opening print (``PriceSeries.observed`` with interval ``"1d"``) before the open or once
    that print is older than ``max_age``. ``bases``: the previous closes from
    :func:`previous_closes`, if the caller has them.
    """
    prev = previous_session(region, win.session)
    if bases is None:
        bases = previous_closes(daily, region, win.session)
    returns: dict[str, float] = {}
    stale: dict[str, str] = {}
    excluded = set(no_intraday)
    data_times: list[datetime] = []
    start, end = pd.Timestamp(win.start), pd.Timestamp(win.end)
    now_ns = pd.Timestamp(now).value
    for symbol in daily:
        if symbol in no_intraday:
            continue
        base = bases.get(symbol)
        bars = intraday.get(symbol)
        if base is None:
            stale[symbol] = f"no close for the previous session {prev}"
            continue
        if bars is None or (bars.closes.empty and not bars.observed):
            stale[symbol] = "no intraday bars"
            continue
        stamps = _stamps(bars.closes)
        first = int(np.searchsorted(stamps, start.value, side="left"))
        last = int(np.searchsorted(stamps, now_ns, side="right"))
        if not win.settles:  # a pre-market window ends where the session's bars begin
            last = min(last, int(np.searchsorted(stamps, end.value, side="left")))
        opening_only = bars.observed and bars.interval == "1d"
        if last <= first:
            if opening_only:
                excluded.add(symbol)
            else:
                stale[symbol] = "no bar in this session yet"
            continue
        newest = pd.Timestamp(stamps[last - 1], tz="UTC").to_pydatetime()
        data_time = newest if bars.observed else min(newest + bar_length, now)
        if now - data_time > max_age:
            if opening_only:
                # Its opening print was all there is: from now on, like a daily-only name.
                excluded.add(symbol)
            else:
                age = (now - data_time).total_seconds() / 60
                stale[symbol] = f"newest bar is {age:.0f} min old"
            continue
        returns[symbol] = float(bars.closes.to_numpy()[last - 1]) / base - 1.0
        data_times.append(data_time)
    as_of = max(data_times) if data_times else now
    if win.settles:
        fraction = OVERNIGHT_VARIANCE_SHARE + (1 - OVERNIGHT_VARIANCE_SHARE) * win.elapsed(as_of)
    else:
        fraction = OVERNIGHT_VARIANCE_SHARE
    return SnapshotBuild(
        Snapshot(region.key, as_of, returns, fraction, excluded=frozenset(excluded)), stale
    )
