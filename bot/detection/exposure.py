"""Exposure of a stock or a portfolio to an AI-infrastructure divergence (pure functions).

For each name, over the last year of sessions: beta and correlation to the AI-infrastructure
basket ``B`` and to the market ``M``, and its beta to the divergence factor ``e = B - beta*M``
from a two-factor regression ``r = a + b_m*M + b_e*e``. A portfolio's divergence beta is the
weighted sum of its names'.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from bot.detection.detect import BasketSeries, FloatArray, Reading

DEEPSEEK_MONDAY = date(2025, 1, 27)
WINDOW = 250
MIN_SESSIONS = 60


@dataclass(frozen=True)
class RegionHistory:
    """A region's session returns with its basket series and the detector's divergence days."""

    region: str
    sessions: pd.DatetimeIndex
    symbols: tuple[str, ...]
    returns: FloatArray
    baskets: BasketSeries
    beta: float
    readings: Mapping[date, Reading]

    def column(self, symbol: str) -> FloatArray | None:
        if symbol not in self.symbols:
            return None
        return self.returns[:, self.symbols.index(symbol)]

    @functools.cached_property
    def _positions(self) -> dict[date, int]:
        return {stamp.date(): t for t, stamp in enumerate(self.sessions)}

    def day_index(self, day: date) -> int | None:
        return self._positions.get(day)

    @functools.cached_property
    def session_days(self) -> tuple[date, ...]:
        return tuple(self._positions)

    @property
    def last_session(self) -> date:
        last: date = self.sessions[-1].date()
        return last


@dataclass(frozen=True)
class DayMove:
    day: date
    ret: float
    basket: float | None
    market: float | None
    label: str | None = None


@dataclass(frozen=True)
class NameExposure:
    """One name's exposure; ``None`` fields where its history is too short."""

    symbol: str
    beta_basket: float | None
    corr_basket: float | None
    beta_market: float | None
    corr_market: float | None
    beta_divergence: float | None
    deepseek: DayMove | None
    divergence_days: tuple[DayMove, ...]
    latest: DayMove | None


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _beta_corr(y: FloatArray, x: FloatArray) -> tuple[float | None, float | None]:
    ok = ~np.isnan(y) & ~np.isnan(x)
    if ok.sum() < MIN_SESSIONS:
        return None, None
    yc, xc = y[ok] - y[ok].mean(), x[ok] - x[ok].mean()
    var_x, var_y = float(xc @ xc), float(yc @ yc)
    if var_x == 0 or var_y == 0:
        return None, None
    return float(xc @ yc / var_x), float(xc @ yc / math.sqrt(var_x * var_y))


def _divergence_beta(y: FloatArray, market: FloatArray, residual: FloatArray) -> float | None:
    ok = ~np.isnan(y) & ~np.isnan(market) & ~np.isnan(residual)
    if ok.sum() < MIN_SESSIONS:
        return None
    design = np.column_stack([np.ones(int(ok.sum())), market[ok], residual[ok]])
    coef, *_ = np.linalg.lstsq(design, y[ok], rcond=None)
    return _finite(float(coef[2]))


def _move(hist: RegionHistory, returns: FloatArray, t: int, label: str | None = None) -> DayMove:
    def value(series: FloatArray) -> float | None:
        v = float(series[t])
        return v if math.isfinite(v) else None

    return DayMove(
        hist.session_days[t],
        float(returns[t]),
        value(hist.baskets.infra),
        value(hist.baskets.control),
        label,
    )


def name_exposure(hist: RegionHistory, symbol: str, returns: FloatArray) -> NameExposure:
    """Exposure of a name whose session returns (aligned to ``hist.sessions``) are given."""
    recent = slice(max(0, len(returns) - WINDOW), len(returns))
    y = returns[recent]
    basket = hist.baskets.infra[recent]
    market = hist.baskets.control[recent]
    beta_b, corr_b = _beta_corr(y, basket)
    beta_m, corr_m = _beta_corr(y, market)
    beta_div = _divergence_beta(y, market, basket - hist.beta * market)

    deepseek = None
    t = hist.day_index(DEEPSEEK_MONDAY)
    if t is not None and math.isfinite(returns[t]):
        deepseek = _move(hist, returns, t)
    days = []
    for day, reading in sorted(hist.readings.items(), reverse=True):
        t = hist.day_index(day)
        if day == DEEPSEEK_MONDAY or t is None or not math.isfinite(returns[t]):
            continue
        days.append(_move(hist, returns, t, reading.label.value))
    latest = None
    valid = np.flatnonzero(~np.isnan(returns))
    if valid.size:
        latest = _move(hist, returns, int(valid[-1]))
    return NameExposure(
        symbol,
        _finite(beta_b),
        _finite(corr_b),
        _finite(beta_m),
        _finite(corr_m),
        beta_div,
        deepseek,
        tuple(days[:5]),
        latest,
    )


@dataclass(frozen=True)
class Position:
    symbol: str
    weight: float


@dataclass(frozen=True)
class PortfolioExposure:
    positions: tuple[Position, ...]
    beta_divergence: float | None
    deepseek_move: float | None
    deepseek_missing: tuple[str, ...]
    drivers: tuple[tuple[str, float], ...]


def normalise(positions: Sequence[Position]) -> tuple[Position, ...]:
    """Weights summed per symbol and scaled to add up to 1."""
    merged: dict[str, float] = {}
    for p in positions:
        merged[p.symbol] = merged.get(p.symbol, 0.0) + p.weight
    total = sum(merged.values())
    return tuple(Position(s, w / total) for s, w in merged.items())


def portfolio_exposure(
    positions: Sequence[Position], names: Mapping[str, NameExposure]
) -> PortfolioExposure:
    """Weighted divergence beta, the DeepSeek-day move and the names that drive both."""
    betas = [(p, names[p.symbol].beta_divergence) for p in positions]
    known = [(p, b) for p, b in betas if b is not None]
    beta = sum(p.weight * b for p, b in known) if known else None
    with_day = [(p, names[p.symbol].deepseek) for p in positions]
    moved = [(p, d.ret) for p, d in with_day if d is not None]
    missing = tuple(p.symbol for p, d in with_day if d is None)
    covered = sum(p.weight for p, _ in moved)
    deepseek = sum(p.weight * r for p, r in moved) / covered if covered > 0 else None
    drivers = sorted(((p.symbol, p.weight * b) for p, b in known), key=lambda x: -abs(x[1]))
    return PortfolioExposure(tuple(positions), beta, deepseek, missing, tuple(drivers[:3]))
