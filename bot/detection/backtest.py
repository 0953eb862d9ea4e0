"""Run the detector over recorded daily history, one reading per session of a region."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt
import pandas as pd

from bot.detection.calendars import sessions as calendar_sessions
from bot.detection.detect import (
    ArrayMapping,
    Baseline,
    BaselineRows,
    BasketSeries,
    DetectorParams,
    FloatArray,
    History,
    Label,
    NameIndex,
    NameScales,
    NoBaseline,
    Reading,
    Severity,
    Snapshot,
    baseline_at,
    baseline_rows,
    basket_series,
    detect,
    missing_baskets,
    window_rows,
)
from bot.detection.returns import session_returns
from bot.sources.prices import PriceSeries
from bot.universe import Universe

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class BacktestResult:
    """Readings for every session in the range, oldest first."""

    region: str
    readings: list[Reading]

    def counts(self) -> dict[tuple[str, str], int]:
        """How many sessions got each (label, severity)."""
        out: dict[tuple[str, str], int] = {}
        for r in self.readings:
            key = (r.label.value, str(r.severity))
            out[key] = out.get(key, 0) + 1
        return dict(sorted(out.items()))


def _data_range(series: Mapping[str, PriceSeries]) -> tuple[date, date] | None:
    # Daily bars carry naive session dates, intraday bars UTC times: compare dates.
    firsts = [pd.Timestamp(s.closes.index[0]).date() for s in series.values() if len(s.closes)]
    lasts = [pd.Timestamp(s.closes.index[-1]).date() for s in series.values() if len(s.closes)]
    if not firsts:
        return None
    return min(firsts), max(lasts)


def rolling_name_scales(
    matrix: FloatArray, symbols: Sequence[str], params: DetectorParams
) -> Iterator[NameScales]:
    """For each session ``t`` of ``matrix`` (sessions, names): the names' scales over the
    ``beta_window`` sessions before it, as :func:`~bot.detection.detect.name_scales` computes
    them, but updated session by session (add the newest row, drop the one that leaves the
    window) instead of recomputed over the whole window for every session."""
    window, lam, floor = params.beta_window, params.ewma_lambda, params.name_sigma_floor
    sessions = matrix.shape[0]
    present = ~np.isnan(matrix)
    squared = np.where(present, matrix * matrix, 0.0)
    counts = np.zeros((sessions + 1, matrix.shape[1]), dtype=np.int32)
    np.cumsum(present, axis=0, out=counts[1:])
    # Which names each session expects, for all sessions at once; a session that expects the
    # same names as the one before shares its set (detect() then finds its lists remembered).
    at = np.arange(sessions)
    lo = np.maximum(0, at - window)
    recent = np.minimum(params.recent_sessions, at - lo)
    in_window = counts[at] - counts[lo]
    empty = in_window == 0
    expects = in_window >= params.min_history
    del in_window
    expects &= counts[at] - counts[at - recent] >= np.maximum(1, recent // 2)[:, None]
    del counts
    changed = np.ones(sessions, dtype=bool)
    changed[1:] = (expects[1:] != expects[:-1]).any(axis=1)
    index = NameIndex(symbols)
    weighted_sq = np.zeros(matrix.shape[1])
    weights = np.zeros(matrix.shape[1])
    leaving = lam**window
    scratch = np.empty(matrix.shape[1])
    expected: frozenset[str] = frozenset()
    for t in range(sessions):
        with np.errstate(invalid="ignore", divide="ignore"):
            sigma = np.sqrt(weighted_sq / weights)
        # fmax: the floor where sigma is NaN (no weight) or below it.
        sigma = np.where(empty[t], floor, np.fmax(sigma, floor))
        if changed[t]:
            expected = frozenset(itertools.compress(symbols, expects[t]))
        yield NameScales(ArrayMapping(index, sigma), expected)
        weighted_sq *= lam
        weighted_sq += squared[t]
        weights *= lam
        weights += present[t]  # 1.0 for a quoted name
        if t >= window:
            weighted_sq -= np.multiply(leaving, squared[t - window], out=scratch)
            weights -= np.multiply(leaving, present[t - window], out=scratch)


def run_backtest(
    series: Mapping[str, PriceSeries],
    universe: Universe,
    params: DetectorParams,
    *,
    region: str = "us",
    start: date | None = None,
    end: date | None = None,
    progress: Progress | None = None,
) -> BacktestResult:
    """Classify each session of ``region`` between ``start`` and ``end`` (inclusive).

    Every session sees only the sessions before it (history before ``start`` warms up the
    baseline). Symbols outside the region are ignored; a session where the data cannot support
    a verdict gets a ``no_decision`` reading that says why.
    """
    reg = universe.regions[region]
    in_region = {i.symbol for i in universe.in_region(region)}
    usable = {s: ps for s, ps in series.items() if s in in_region}
    bounds = _data_range(series)
    if bounds is None:
        return BacktestResult(region, [])
    first, last = bounds
    all_sessions = calendar_sessions(reg.calendar, first, last)
    lo = pd.Timestamp(start or first)
    hi = pd.Timestamp(end or last)
    wanted = np.flatnonzero((all_sessions >= lo) & (all_sessions <= hi))
    if wanted.size == 0:
        return BacktestResult(region, [])

    baskets = universe.baskets(region)
    symbols, matrix = session_returns(usable, all_sessions, reg.timezone)
    everything = basket_series(History(symbols, matrix), baskets)
    missing = missing_baskets(symbols, baskets)
    readings: list[Reading] = []
    scales = rolling_name_scales(matrix[: int(wanted[-1]) + 1], symbols, params)
    index = NameIndex(symbols)
    wanted_set = set(wanted.tolist())
    stamps = all_sessions[wanted].to_pydatetime()
    chunk: BaselineRows | None = None
    chunk_start = 0
    n = 0
    for t, names in enumerate(scales):
        if t not in wanted_set:
            continue
        if missing is not None:
            baseline: Baseline | NoBaseline = missing
        else:
            if chunk is None or n - chunk_start >= len(chunk.beta):
                chunk_start = n
                chunk = _baseline_chunk(everything, wanted[n : n + _CHUNK], params)
            baseline = baseline_at(chunk, n - chunk_start, symbols, names, params)
        fresh = ArrayMapping(index, matrix[t])  # NaN where a name has no return: not fresh
        readings.append(detect(Snapshot(region, stamps[n], fresh), baseline, baskets, params))
        n += 1
        if progress is not None:
            progress(n, int(wanted.size))
    return BacktestResult(region, readings)


_CHUNK = 64
"""Baselines computed together: enough to leave no loop per session, few enough that the
window matrices (``_CHUNK`` x ``beta_window``) stay in the CPU's nearest caches (a cold
daily_close backtest spent 61 ms on its baselines in chunks of 32, 46 ms in chunks of 64 and
60 ms in chunks of 128)."""


def _baseline_chunk(
    everything: BasketSeries, ends: npt.NDArray[np.intp], params: DetectorParams
) -> BaselineRows:
    """The baselines of the sessions ``ends`` (each from the ``beta_window`` sessions before)."""
    width = params.beta_window
    return baseline_rows(
        window_rows(everything.infra, ends, width),
        window_rows(everything.control, ends, width),
        window_rows(everything.software, ends, width),
        params,
    )


def reading_json(reading: Reading) -> dict[str, object]:
    """The backtest's JSON line for a reading: ``date`` first, then the reading's fields."""
    body = reading.as_dict()
    body.pop("as_of")
    return {"date": reading.as_of.date().isoformat(), **body}


def is_shock(reading: Reading) -> bool:
    """A reading worth a row in the readable table."""
    return reading.label is not Label.QUIET or reading.severity > Severity.NONE
