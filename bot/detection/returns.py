"""From price series to a session-aligned return matrix the detector can read."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
import pandas as pd

from bot.detection.detect import FloatArray
from bot.sources.prices import PriceSeries


def daily_closes(series: PriceSeries, timezone: str) -> pd.Series:
    """Closing price per session date; intraday bars collapse to the day's last bar.

    Args:
        series: daily or intraday closes.
        timezone: the exchange's time zone, which decides what "the day" of a bar is.
    """
    closes = series.closes
    if series.interval == "1d":
        return closes
    local = pd.DatetimeIndex(closes.index).tz_convert(timezone)
    days = local.tz_localize(None).normalize()
    return closes.groupby(days).last()


def _break_days(series: PriceSeries, timezone: str) -> pd.DatetimeIndex:
    stamps = pd.DatetimeIndex(list(series.breaks))
    if series.interval != "1d" and len(stamps):
        stamps = stamps.tz_convert(timezone).tz_localize(None)
    return stamps.normalize()


def session_returns(
    series: Mapping[str, PriceSeries],
    sessions: pd.DatetimeIndex,
    timezone: str,
) -> tuple[tuple[str, ...], FloatArray]:
    """Returns of each symbol on each session, NaN where a bar or the bar before is missing.

    A return is only taken between two consecutive sessions, so a name that missed a session
    is stale (NaN) on the next one rather than carrying a two-day move. Returns at a series'
    breaks (splits in unadjusted data) are NaN too.
    """
    symbols = tuple(sorted(series))
    matrix = np.full((len(sessions), len(symbols)), np.nan)
    wanted = _day_stamps(pd.DatetimeIndex(sessions))
    for j, symbol in enumerate(symbols):
        s = series[symbol]
        closes = daily_closes(s, timezone)
        stamps = _day_stamps(pd.DatetimeIndex(closes.index))
        values = closes.to_numpy(dtype=np.float64, na_value=np.nan)
        if len(stamps) == 0:
            continue
        at = np.minimum(np.searchsorted(stamps, wanted), len(stamps) - 1)
        aligned = np.where(stamps[at] == wanted, values[at], np.nan)
        rets = np.full(len(wanted), np.nan)
        rets[1:] = aligned[1:] / aligned[:-1] - 1.0
        if s.breaks:
            rets[np.isin(wanted, _day_stamps(_break_days(s, timezone)))] = np.nan
        matrix[:, j] = rets
    return symbols, matrix


def _day_stamps(index: pd.DatetimeIndex) -> npt.NDArray[np.int64]:
    """Naive session dates as int64 nanoseconds, for exact matching with ``searchsorted``."""
    if index.tz is not None:
        index = index.tz_localize(None)
    if index.unit != "ns":  # as_unit copies even when the unit is already ns (90 us a call)
        index = index.as_unit("ns")
    stamps: npt.NDArray[np.int64] = index.values.view(np.int64)
    return stamps
