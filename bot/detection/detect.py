"""Divergence detector: pure functions from a price snapshot to a reading.

Nothing here does I/O or reads a clock. The model (see ``../shared/DESIGN.md`` section 3):

* ``B``: median return of the fresh AI-infrastructure names of a region;
* ``M``: mean return of the region's broad-market controls (as free of AI names as possible);
* ``SW``: median return of the AI-beneficiary software names and software indices;
* ``e = B - beta * M`` with ``beta`` estimated over about a year of sessions up to yesterday and
  shrunk towards 1 (an event-study market model at basket level);
* z-scores against EWMA volatilities (lambda 0.94) of winsorised history, with floors.

Breadth (the share of basket names beyond 1.5 of their own sigma) and a leave-top-mover-out
check separate a sector move from a one-stock move; a large ``|z_mkt|`` or a large broad-index
move in the same direction as most controls marks a broad sell-off or rally instead of a
divergence; thin or stale data gives ``no_decision`` with the reason.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import statistics
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum

import numpy as np
import numpy.typing as npt
from pydantic import ConfigDict

FloatArray = npt.NDArray[np.float64]


class Label(StrEnum):
    """What a reading says happened."""

    QUIET = "quiet"
    DIVERGENCE_DOWN = "ai_infra_divergence_down"
    DIVERGENCE_UP = "ai_infra_divergence_up"
    BROAD_SELLOFF = "broad_selloff"
    BROAD_RALLY = "broad_rally"
    SINGLE_STOCK = "single_stock"
    NO_DECISION = "no_decision"
    NEWS_BURST = "news_burst"
    """Not a detector verdict: a burst of headlines on one theme (the news watch)."""

    @property
    def is_divergence(self) -> bool:
        return self in (Label.DIVERGENCE_DOWN, Label.DIVERGENCE_UP)

    @property
    def is_broad(self) -> bool:
        return self in (Label.BROAD_SELLOFF, Label.BROAD_RALLY)


class Severity(IntEnum):
    """Ordered severities; ``str()`` gives the lower-case name used in JSON and config."""

    NONE = 0
    WATCH = 1
    ALERT = 2
    CRITICAL = 3

    def __str__(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        """Parse ``"watch"`` etc.; raises ``ValueError`` naming the accepted values."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            accepted = ", ".join(str(s) for s in cls)
            raise ValueError(f"unknown severity {text!r} (accepted: {accepted})") from None

    def raised(self, levels: int = 1) -> Severity:
        """This severity moved up by ``levels``, capped at critical (none stays none)."""
        if self is Severity.NONE:
            return self
        return Severity(min(int(self) + levels, int(Severity.CRITICAL)))


@dataclass(frozen=True)
class DetectorParams:
    """Tuning of the detector (the ``[detector]`` config section).

    The defaults and the reasons for them are in ``docs/detector.md``.
    """

    __pydantic_config__ = ConfigDict(extra="forbid")

    ewma_lambda: float = 0.94
    beta_window: int = 250
    min_history: int = 60
    beta_shrink: float = 0.33
    winsor_sigmas: float = 5.0
    basket_sigma_floor: float = 0.004
    market_sigma_floor: float = 0.004
    name_sigma_floor: float = 0.008
    watch_z: float = 2.5
    alert_z: float = 4.0
    critical_z: float = 6.0
    software_confirm_z: float = 2.0
    broad_watch_z: float = 2.5
    broad_alert_z: float = 3.0
    broad_critical_z: float = 6.0
    broad_index_move: float = 0.02
    broad_alert_move: float = 0.025
    broad_critical_move: float = 0.05
    breadth_sigmas: float = 1.5
    min_breadth: float = 0.4
    single_stock_move: float = 0.08
    single_stock_z: float = 4.0
    min_coverage: float = 0.7
    min_basket_names: int = 4
    min_alert_names: int = 6
    """A divergence above watch needs this many fresh AI-infrastructure prices: four names
    moving together can be one company's news and its three closest suppliers."""
    recent_sessions: int = 10
    long_scale_cap: float = 1.5
    """sigma(e) is at most this many times its long robust scale (1.4826 MAD of the whole
    window): a turbulent month cannot inflate the EWMA into blindness."""
    watch_move: float = 0.05
    alert_move: float = 0.07
    critical_move: float = 0.10
    """Absolute floors on the basket's move beyond its beta, in any volatility regime; a raw
    basket median move of ``watch_move`` on a day that is not broad is a watch as well."""
    moving_share: float = 0.5
    """The floors need at least this share of basket names moving the same way by half the
    watch floor beyond their beta."""
    calm_margin: float = 0.25
    """Hysteresis: an open episode counts a reading towards its recovery only when the numbers
    are below their watch levels by this share (|z_div| under 1.9 for watch at 2.5)."""
    software_held_z: float = 1.0
    """Software confirms a divergence only if its own move beyond its beta is above minus
    this many sigmas (it held up against the market)."""

    def __post_init__(self) -> None:
        problems = [
            f"{name} must be a finite number"
            for name, value in vars(self).items()
            if isinstance(value, float) and not math.isfinite(value)
        ]
        if not 0.0 < self.ewma_lambda < 1.0:
            problems.append("ewma_lambda must be between 0 and 1")
        if not 0.0 <= self.beta_shrink <= 1.0:
            problems.append("beta_shrink must be between 0 and 1")
        if not 0.0 < self.watch_z < self.alert_z < self.critical_z:
            problems.append("need 0 < watch_z < alert_z < critical_z")
        if not 0.0 < self.broad_watch_z <= self.broad_alert_z < self.broad_critical_z:
            problems.append("need 0 < broad_watch_z <= broad_alert_z < broad_critical_z")
        if not 0.0 < self.broad_index_move < self.broad_alert_move < self.broad_critical_move:
            problems.append("need 0 < broad_index_move < broad_alert_move < broad_critical_move")
        if not 0.0 < self.min_coverage <= 1.0 or not 0.0 <= self.min_breadth <= 1.0:
            problems.append("min_coverage and min_breadth are shares between 0 and 1")
        if self.min_history < 20 or self.beta_window < self.min_history:
            problems.append("need 20 <= min_history <= beta_window")
        if self.min_basket_names < 2 or self.recent_sessions < 1:
            problems.append("min_basket_names must be at least 2, recent_sessions at least 1")
        if self.min_alert_names < self.min_basket_names:
            problems.append("min_alert_names must be at least min_basket_names")
        if not 0.0 < self.watch_move < self.alert_move < self.critical_move:
            problems.append("need 0 < watch_move < alert_move < critical_move")
        if not 0.0 <= self.calm_margin < 1.0:
            problems.append("calm_margin is a share between 0 and 1")
        if self.long_scale_cap < 1.0:
            problems.append("long_scale_cap must be at least 1")
        if problems:
            raise ValueError("; ".join(problems))


@dataclass(frozen=True)
class Baskets:
    """The symbols of one region, by their part in the model.

    ``control`` holds groups: the listings of one index (SPY and ^GSPC) form one group, so the
    control return is the mean over indices, not over listings.
    """

    infra: tuple[str, ...]
    control: tuple[tuple[str, ...], ...]
    software: tuple[str, ...]
    broad_index: tuple[str, ...] = ()

    @property
    def control_symbols(self) -> tuple[str, ...]:
        return tuple(s for group in self.control for s in group)


@dataclass(frozen=True)
class History:
    """Per-session returns up to (not including) the snapshot's session.

    ``returns[t, j]`` is the simple return of ``symbols[j]`` on session ``t`` (oldest first);
    NaN where the name did not trade or had no price.
    """

    symbols: tuple[str, ...]
    returns: FloatArray

    def __post_init__(self) -> None:
        if self.returns.ndim != 2 or self.returns.shape[1] != len(self.symbols):
            raise ValueError("returns must be a (sessions, symbols) matrix matching symbols")


@dataclass(frozen=True)
class Snapshot:
    """Returns of one region at one moment, each since the name's previous close.

    Only fresh prices belong in ``returns``: the caller leaves out names whose price is stale.
    ``variance_fraction`` is the share of a whole session's variance the returns span (1.0 for
    a daily close, less for an intraday snapshot; the overnight gap carries a large part).
    """

    region: str
    as_of: datetime
    returns: Mapping[str, float]
    variance_fraction: float = 1.0
    excluded: frozenset[str] = frozenset()
    """Names this snapshot cannot hold (no intraday bars from the source): they do not count
    towards coverage, unlike stale names."""


@dataclass(frozen=True)
class NoBaseline:
    """Why the history cannot support a baseline."""

    reason: str


@dataclass(frozen=True)
class Baseline:
    """What the history says about normal behaviour, computed once per session."""

    symbols: tuple[str, ...]
    name_sigma: Mapping[str, float]
    expected: frozenset[str]
    beta: float
    sigma_div: float
    sigma_mkt: float
    sigma_sw: float | None
    sessions: int
    sigma_div_ewma: float | None = None
    """The EWMA scale before the cap (``None``: the same as ``sigma_div``)."""
    beta_sw: float = 1.0
    sigma_sw_mkt: float | None = None
    """Scale of software's own move beyond its beta (``SW - beta_sw * M``)."""


def rounded(value: float | None, digits: int = 3) -> float | None:
    """``value`` rounded for JSON output; ``None`` stays ``None``."""
    return None if value is None else round(value, digits)


class Reason(str):
    """One line of a reading's "why": its English text (logs, JSON, the CLI) that also carries
    its kind and numbers, so that a renderer can say it in the chat's language
    (``reason.<kind>`` in ``bot/render/i18n.py``)."""

    kind: str
    values: dict[str, float | str]

    def __new__(cls, kind: str, text: str, **values: float | str) -> Reason:
        reason = super().__new__(cls, text)
        reason.kind = kind
        reason.values = values
        return reason


@dataclass(frozen=True)
class Mover:
    """One name's move in a snapshot."""

    symbol: str
    ret: float
    z: float

    def as_dict(self) -> dict[str, float | str]:
        return {"symbol": self.symbol, "ret": round(self.ret, 5), "z": round(self.z, 2)}


@dataclass(frozen=True)
class Stats:
    """The numbers behind a reading (returns are fractions: -0.17 is -17 %)."""

    basket_ret: float
    control_ret: float
    software_ret: float | None
    beta: float
    z_div: float
    z_sw: float | None
    z_mkt: float
    z_div_loo: float
    breadth: float
    broad_index_ret: float | None
    top_movers: tuple[Mover, ...]
    basket_names: int
    moving: float = 0.0
    """Share of basket names moving with the basket by at least half the watch floor beyond
    their beta (an absolute breadth, blind to the volatility regime)."""
    z_sw_mkt: float | None = None
    """Software's own move beyond its beta, in sigmas."""
    moves: Mapping[str, float] = field(default_factory=dict, compare=False, hash=False)
    """Every fresh name's move in the snapshot (a view, not a copy): what a saved portfolio's
    estimated move is computed from."""

    @property
    def residual(self) -> float:
        """The basket's move beyond its beta: ``B - beta * M``."""
        return self.basket_ret - self.beta * self.control_ret


CALM_EVERYWHERE = frozenset(
    f"{family}:{way}" for family in ("divergence", "broad") for way in ("down", "up")
)


def _calm_for(stats: Stats, params: DetectorParams) -> frozenset[str]:
    """Hysteresis: for which episodes the numbers are back below their watch levels by
    ``calm_margin``, each in its own direction (a rally ends a sell-off; a market still at
    -2.6 sigma does not)."""
    calm = 1.0 - params.calm_margin
    index = stats.broad_index_ret or 0.0
    found = []
    for sign in (-1.0, 1.0):
        found.append(
            sign * stats.z_div < params.watch_z * calm
            and sign * stats.residual < params.watch_move * calm
        )
        found.append(
            sign * stats.z_mkt < params.broad_watch_z * calm
            and sign * index < params.broad_index_move * calm
        )
    return _calm_set(*found)


@functools.lru_cache(maxsize=16)
def _calm_set(div_down: bool, broad_down: bool, div_up: bool, broad_up: bool) -> frozenset[str]:
    """The :func:`_calm_for` set for these four answers (one set object each, made once)."""
    named = (
        ("divergence:down", div_down),
        ("broad:down", broad_down),
        ("divergence:up", div_up),
        ("broad:up", broad_up),
    )
    return frozenset(name for name, calm in named if calm)


@dataclass(frozen=True)
class Reading:
    """The detector's verdict on one snapshot, with the numbers behind it."""

    region: str
    as_of: datetime
    label: Label
    severity: Severity
    coverage: float
    stats: Stats | None = None
    sector_led: bool = False
    reasons: tuple[str, ...] = ()
    calm_for: frozenset[str] = CALM_EVERYWHERE
    """The episodes (``"divergence:down"``, ``"broad:up"``...) for which this reading is below
    the watch levels by the calm margin, and may count towards their recovery."""

    @property
    def top_movers(self) -> tuple[Mover, ...]:
        return self.stats.top_movers if self.stats else ()

    def as_dict(self) -> dict[str, object]:
        """A flat JSON-ready dict; statistics are ``None`` where none were computed."""
        s = self.stats

        return {
            "region": self.region,
            "as_of": self.as_of.isoformat(),
            "label": self.label.value,
            "severity": str(self.severity),
            "z_div": rounded(s.z_div) if s else None,
            "z_mkt": rounded(s.z_mkt) if s else None,
            "z_sw": rounded(s.z_sw) if s else None,
            "z_div_loo": rounded(s.z_div_loo) if s else None,
            "breadth": rounded(s.breadth) if s else None,
            "coverage": rounded(self.coverage),
            "basket_names": s.basket_names if s else None,
            "basket_ret": rounded(s.basket_ret, 5) if s else None,
            "control_ret": rounded(s.control_ret, 5) if s else None,
            "software_ret": rounded(s.software_ret, 5) if s else None,
            "broad_index_ret": rounded(s.broad_index_ret, 5) if s else None,
            "beta": rounded(s.beta) if s else None,
            "sector_led": self.sector_led,
            "top_movers": [m.as_dict() for m in self.top_movers],
            "reasons": list(self.reasons),
            "reason_data": reason_data(self.reasons),
        }


def reason_data(reasons: Sequence[str]) -> list[dict[str, object]]:
    """The structured reasons as JSON: kind and numbers (plain reasons: their text)."""
    out: list[dict[str, object]] = []
    for reason in reasons:
        if isinstance(reason, Reason):
            values = {
                k: round(v, 5) if isinstance(v, float) else v for k, v in reason.values.items()
            }
            out.append({"kind": reason.kind, **values})
        else:
            out.append({"kind": "text", "text": str(reason)})
    return out


@functools.lru_cache(maxsize=64)
def ewma_weights(length: int, lam: float) -> FloatArray:
    """Weights ``lam**k`` for lags ``length-1 .. 0`` (oldest first, newest weight 1); read-only."""
    weights = np.asarray(lam ** np.arange(length - 1, -1, -1, dtype=np.float64), dtype=np.float64)
    weights.flags.writeable = False
    return weights


@functools.lru_cache(maxsize=8)
def _ewma_tables(width: int, lam: float) -> tuple[FloatArray, FloatArray]:
    """For windows of at most ``width`` valid values: ``weight[k] = lam**k``, the weight of a
    value with ``k`` valid values after it, and ``total[n]``, the sum of the newest ``n``
    weights, oldest first (as :func:`ewma_weights` orders them); read-only."""
    weight = lam ** np.arange(max(width, 1), dtype=np.float64)
    total = np.zeros(width + 1)
    for n in range(1, width + 1):
        total[n] = weight[:n][::-1].sum()
    weight.flags.writeable = False
    total.flags.writeable = False
    return weight, total


def _median_abs_rows(rows: FloatArray, count: npt.NDArray[np.intp]) -> FloatArray:
    """Median of ``|x|`` over the valid (non-NaN, ``count`` of them) values of each row; NaN
    for an empty row."""
    if rows.shape[1] == 0:
        return np.full(rows.shape[0], np.nan)
    ordered = np.sort(np.abs(rows), axis=1)  # NaN sorts last
    at = np.arange(rows.shape[0])
    low = ordered[at, np.maximum(count - 1, 0) // 2]
    high = ordered[at, np.minimum(count // 2, rows.shape[1] - 1)]
    median = np.where(count % 2 == 1, high, 0.5 * (low + high))
    return np.where(count == 0, np.nan, median)


def ewma_sigma_rows(
    rows: FloatArray,
    lam: float,
    winsor_sigmas: float,
    floor: float,
    mad_sigma: FloatArray | None = None,
) -> FloatArray:
    """:func:`ewma_sigma` of each row of ``rows`` (windows, sessions) at once.

    ``mad_sigma``: the rows' ``1.4826 * median |x|`` if the caller has it already.
    """
    valid = ~np.isnan(rows)
    count = np.count_nonzero(valid, axis=1)
    width = rows.shape[1]
    if mad_sigma is None:
        mad_sigma = 1.4826 * _median_abs_rows(rows, count)
    clip = (winsor_sigmas * np.maximum(mad_sigma, floor))[:, None]
    full = bool((count == width).all())
    squared = rows.copy() if full else np.where(valid, rows, 0.0)  # a gap adds nothing below
    np.maximum(squared, -clip, out=squared)  # np.clip, in two cheaper steps
    np.minimum(squared, clip, out=squared)
    np.multiply(squared, squared, out=squared)
    weight_of, total = _ewma_tables(width, lam)
    if full:  # no gaps: every row weighs its sessions alike
        weights = weight_of[::-1]
    else:  # a value's weight counts the valid values after it (its lag without the gaps)
        after = count[:, None] - np.cumsum(valid, axis=1, dtype=np.intp)
        weights = weight_of[after]
    with np.errstate(invalid="ignore", divide="ignore"):
        variance = (weights * squared).sum(axis=1) / total[count]
    sigma = np.maximum(np.sqrt(variance), floor)
    return np.where(count == 0, floor, sigma)


def ewma_sigma(series: FloatArray, lam: float, winsor_sigmas: float, floor: float) -> float:
    """EWMA volatility of a return series (oldest first), NaNs skipped, outliers winsorised.

    The clip level comes from the median absolute deviation of the whole window, so one shock
    (a DeepSeek day) does not blind the detector for the weeks after it.
    """
    return float(ewma_sigma_rows(series[None, :], lam, winsor_sigmas, floor)[0])


def robust_sigma(series: FloatArray, floor: float) -> float:
    """1.4826 times the median absolute return of the whole window (NaNs skipped): the scale
    of a normal session, which a turbulent month barely moves."""
    rows = series[None, :]
    mad = 1.4826 * _median_abs_rows(rows, np.count_nonzero(~np.isnan(rows), axis=1))
    return float(np.where(np.isnan(mad), floor, np.maximum(mad, floor))[0])


def _column_sigmas(matrix: FloatArray, lam: float, floor: float) -> FloatArray:
    """EWMA sigma per column of a (sessions, names) matrix with NaNs; no winsorising."""
    weights = ewma_weights(matrix.shape[0], lam)[:, None]
    present = ~np.isnan(matrix)
    squared = np.where(present, matrix * matrix, 0.0)
    total_weight = (weights * present).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        variance = (weights * squared).sum(axis=0) / total_weight
    sigma = np.sqrt(variance)
    return np.where(np.isnan(sigma) | (sigma < floor), floor, sigma)


def _nanmedian_rows(matrix: FloatArray) -> FloatArray:
    """``np.nanmedian`` of each row (NaN for a row without values), by one sort of the whole
    matrix (NaN sorts last) instead of numpy's loop over rows with gaps: the same middle
    values, averaged the same way."""
    if matrix.shape[1] == 0:
        return np.full(matrix.shape[0], np.nan)
    count = np.count_nonzero(~np.isnan(matrix), axis=1)
    ordered = np.sort(matrix, axis=1)
    at = np.arange(matrix.shape[0])
    low = ordered[at, np.maximum(count - 1, 0) // 2]
    high = ordered[at, np.minimum(count // 2, matrix.shape[1] - 1)]
    median = np.where(count % 2 == 1, high, (low + high) / 2)
    return np.where(count == 0, np.nan, median)


def _nanmean_rows(matrix: FloatArray) -> FloatArray:
    if matrix.shape[1] == 0:
        return np.full(matrix.shape[0], np.nan)
    out = np.full(matrix.shape[0], np.nan)
    rows = ~np.all(np.isnan(matrix), axis=1)
    if rows.any():
        out[rows] = np.nanmean(matrix[rows], axis=1)
    return out


@dataclass(frozen=True)
class BasketSeries:
    """Daily basket, control and software returns derived from a history."""

    infra: FloatArray
    control: FloatArray
    software: FloatArray


def basket_series(history: History, baskets: Baskets) -> BasketSeries:
    """Cross-sectional median (infra, software) and mean (control) per session."""
    index = {s: j for j, s in enumerate(history.symbols)}

    def cols(names: Sequence[str]) -> list[int]:
        return [index[s] for s in names if s in index]

    r = history.returns
    groups = [_nanmean_rows(r[:, cols(group)]) for group in baskets.control]
    control = _nanmean_rows(np.column_stack(groups)) if groups else np.full(r.shape[0], np.nan)
    return BasketSeries(
        infra=_nanmedian_rows(r[:, cols(baskets.infra)]),
        control=control,
        software=_nanmedian_rows(r[:, cols(baskets.software)]),
    )


class NameIndex(dict[str, int]):
    """``symbol -> column`` of a return matrix, shared by every row's :class:`ArrayMapping`;
    it remembers the columns of the name lists looked up in it (the same baskets every
    session), so a backtest at 1,000 names does not look each name up again per session."""

    MAX_REMEMBERED = 64

    def __init__(self, symbols: Sequence[str]) -> None:
        super().__init__((s, j) for j, s in enumerate(symbols))
        self.remembered: dict[tuple[str, ...], tuple[npt.NDArray[np.intp], bool]] = {}

    def positions(self, keys: Sequence[str]) -> npt.NDArray[np.intp]:
        """The columns of ``keys`` (-1 for a name not in the matrix)."""
        return self.lookup(keys)[0]

    def lookup(self, keys: Sequence[str]) -> tuple[npt.NDArray[np.intp], bool]:
        """The columns of ``keys`` (-1 for a name not in the matrix), and whether all are in."""
        key = tuple(keys)
        found = self.remembered.get(key)
        if found is None:
            get = self.get
            columns = np.array([get(k, -1) for k in keys], dtype=np.intp)
            found = (columns, bool((columns >= 0).all()))
            if len(self.remembered) >= self.MAX_REMEMBERED:
                self.remembered.pop(next(iter(self.remembered)))
            self.remembered[key] = found
        return found


class ArrayMapping(Mapping[str, float]):
    """A read-only ``symbol -> value`` view of one row of numbers: made in O(1), so a backtest
    at 1,000 names does not build a dict per session."""

    __slots__ = ("_index", "_values")

    def __init__(self, index: Mapping[str, int], values: FloatArray) -> None:
        self._index = index
        self._values = values

    def __getitem__(self, key: str) -> float:
        return float(self._values[self._index[key]])

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def take(self, keys: Sequence[str], default: float) -> FloatArray:
        """The values of ``keys`` as an array; ``default`` for keys not in the mapping."""
        if isinstance(self._index, NameIndex):
            positions, complete = self._index.lookup(keys)
            if complete:
                taken: FloatArray = self._values[positions]
                return taken
        else:
            get = self._index.get
            positions = np.array([get(k, -1) for k in keys], dtype=np.intp)
        return np.where(positions >= 0, self._values[positions], default)


@dataclass(frozen=True)
class NameScales:
    """Each name's EWMA sigma, and the names expected to have a price (quoted in half the recent
    sessions, with ``min_history`` sessions of history)."""

    sigma: Mapping[str, float]
    expected: frozenset[str]


def name_scales(returns: FloatArray, symbols: Sequence[str], params: DetectorParams) -> NameScales:
    """:class:`NameScales` of the window ``returns`` (sessions, names), oldest first."""
    sigmas = _column_sigmas(returns, params.ewma_lambda, params.name_sigma_floor)
    recent = returns[-params.recent_sessions :]
    quoted_recently = (~np.isnan(recent)).sum(axis=0) >= max(1, recent.shape[0] // 2)
    has_history = (~np.isnan(returns)).sum(axis=0) >= params.min_history
    index = {s: j for j, s in enumerate(symbols)}
    expected = frozenset(itertools.compress(symbols, quoted_recently & has_history))
    return NameScales(ArrayMapping(index, sigmas), expected)


def window_rows(series: FloatArray, ends: npt.NDArray[np.intp], width: int) -> FloatArray:
    """Row ``i``: the ``width`` values of ``series`` before index ``ends[i]`` (oldest first),
    NaN-padded in front where fewer came before; every window of a baseline has this shape,
    so one computed alone and the same one among a backtest's agree to the last bit."""
    padded = np.concatenate((np.full(width, np.nan), series))
    rows: FloatArray = np.lib.stride_tricks.sliding_window_view(padded, width)[ends]
    return rows


@dataclass(frozen=True)
class BaselineRows:
    """:func:`build_baseline`'s numbers for many windows at once, one entry per window.

    Where ``software`` is false (too little software history) ``sigma_sw`` and
    ``sigma_sw_mkt`` mean "none" and ``beta_sw`` is 1.
    """

    sessions: npt.NDArray[np.intp]
    beta: FloatArray
    sigma_div: FloatArray
    sigma_div_ewma: FloatArray
    sigma_mkt: FloatArray
    software: npt.NDArray[np.bool_]
    sigma_sw: FloatArray
    beta_sw: FloatArray
    sigma_sw_mkt: FloatArray


def baseline_rows(
    infra: FloatArray, control: FloatArray, software: FloatArray, params: DetectorParams
) -> BaselineRows:
    """Betas and volatilities of many windows (rows) of basket, control and software returns
    at once: what :func:`build_baseline` computes for one, without a Python loop per window.

    Rows with fewer than ``params.min_history`` sessions of both basket and control get
    numbers too; :func:`baseline_at` turns those into a :class:`NoBaseline`.
    """
    lam, wins = params.ewma_lambda, params.winsor_sigmas
    floor = params.basket_sigma_floor
    both = ~np.isnan(infra) & ~np.isnan(control)
    beta = _shrunk_beta_rows(infra, control, both, params.beta_shrink)
    residual = np.where(both, infra - beta[:, None] * control, np.nan)
    mad = 1.4826 * _median_abs_rows(residual, np.count_nonzero(both, axis=1))
    sigma_div_ewma = ewma_sigma_rows(residual, lam, wins, floor, mad)
    long_scale = np.where(np.isnan(mad), floor, np.maximum(mad, floor))
    sigma_div = np.minimum(sigma_div_ewma, params.long_scale_cap * long_scale)
    sigma_mkt = ewma_sigma_rows(control, lam, wins, params.market_sigma_floor)
    spread = infra - software
    enough = (~np.isnan(spread)).sum(axis=1) >= params.min_history
    sigma_sw = ewma_sigma_rows(spread, lam, wins, floor)
    sw_both = ~np.isnan(software) & ~np.isnan(control)
    beta_sw = _shrunk_beta_rows(software, control, sw_both, params.beta_shrink)
    beta_sw = np.where(enough, beta_sw, 1.0)
    sw_residual = np.where(sw_both, software - beta_sw[:, None] * control, np.nan)
    sigma_sw_mkt = ewma_sigma_rows(sw_residual, lam, wins, floor)
    return BaselineRows(
        sessions=both.sum(axis=1),
        beta=beta,
        sigma_div=sigma_div,
        sigma_div_ewma=sigma_div_ewma,
        sigma_mkt=sigma_mkt,
        software=enough,
        sigma_sw=sigma_sw,
        beta_sw=beta_sw,
        sigma_sw_mkt=sigma_sw_mkt,
    )


def missing_baskets(symbols: Sequence[str], baskets: Baskets) -> NoBaseline | None:
    """Why no history of ``symbols`` can support a baseline (``None``: it can)."""
    present = set(symbols)
    if not present & set(baskets.infra):
        return NoBaseline("the data holds no AI-infrastructure names of this region")
    if not present & set(baskets.control_symbols):
        return NoBaseline("the data holds no broad-market control of this region")
    return None


def baseline_at(
    rows: BaselineRows,
    i: int,
    symbols: tuple[str, ...],
    names: NameScales,
    params: DetectorParams,
) -> Baseline | NoBaseline:
    """The baseline of window ``i`` of ``rows`` (see :func:`build_baseline`)."""
    sessions = int(rows.sessions[i])
    if sessions < params.min_history:
        return NoBaseline(
            f"only {sessions} sessions of basket and control history (need {params.min_history})"
        )
    software = bool(rows.software[i])
    return Baseline(
        symbols=symbols,
        name_sigma=names.sigma,
        expected=names.expected,
        beta=float(rows.beta[i]),
        sigma_div=float(rows.sigma_div[i]),
        sigma_mkt=float(rows.sigma_mkt[i]),
        sigma_sw=float(rows.sigma_sw[i]) if software else None,
        sessions=sessions,
        sigma_div_ewma=float(rows.sigma_div_ewma[i]),
        beta_sw=float(rows.beta_sw[i]) if software else 1.0,
        sigma_sw_mkt=float(rows.sigma_sw_mkt[i]) if software else None,
    )


def build_baseline(
    history: History,
    baskets: Baskets,
    params: DetectorParams,
    series: BasketSeries | None = None,
    names: NameScales | None = None,
) -> Baseline | NoBaseline:
    """Estimate betas and volatilities from the history before a snapshot.

    Args:
        history: returns up to yesterday; only the last ``params.beta_window`` sessions count.
        baskets: the region's baskets.
        params: detector tuning.
        series: the history's basket series if the caller already has them; must match
            ``history`` row for row.
        names: the names' scales of the last ``params.beta_window`` sessions, if the caller
            already has them.

    Returns:
        The baseline, or why there is none (no basket or control names in the data, or fewer
        than ``params.min_history`` sessions with both a basket and a control return).
    """
    missing = missing_baskets(history.symbols, baskets)
    if missing is not None:
        return missing
    window = params.beta_window
    returns = history.returns[-window:]
    if series is None:
        series = basket_series(History(history.symbols, returns), baskets)
    end = np.array([len(series.infra)], dtype=np.intp)
    rows = baseline_rows(
        window_rows(series.infra, end, window),
        window_rows(series.control, end, window),
        window_rows(series.software, end, window),
        params,
    )
    if int(rows.sessions[0]) >= params.min_history and names is None:
        names = name_scales(returns, history.symbols, params)
    return baseline_at(rows, 0, history.symbols, names or _NO_NAMES, params)


_NO_NAMES = NameScales({}, frozenset())


def _shrunk_beta_rows(
    y: FloatArray, m: FloatArray, both: npt.NDArray[np.bool_], shrink: float
) -> FloatArray:
    """OLS beta of ``y`` on ``m`` over the sessions in ``both``, row by row, shrunk towards 1."""
    count = np.count_nonzero(both, axis=1)
    full = bool((count == both.shape[1]).all())  # no gaps: no masking needed
    m_in = m if full else np.where(both, m, 0.0)
    y_in = y if full else np.where(both, y, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        m_centered = m_in - (m_in.sum(axis=1) / count)[:, None]
        y_centered = y_in - (y_in.sum(axis=1) / count)[:, None]
        if not full:
            m_centered *= both
            y_centered *= both
        var_m = (m_centered * m_centered).sum(axis=1)
        beta_ols = np.where(var_m > 0, (m_centered * y_centered).sum(axis=1) / var_m, 1.0)
    return (1.0 - shrink) * beta_ols + shrink * 1.0


def _level(magnitude: float, watch: float, alert: float, critical: float) -> Severity:
    if magnitude >= critical:
        return Severity.CRITICAL
    if magnitude >= alert:
        return Severity.ALERT
    if magnitude >= watch:
        return Severity.WATCH
    return Severity.NONE


def _fresh(snapshot: Snapshot, names: Sequence[str]) -> dict[str, float]:
    """The finite returns of ``names`` in the snapshot."""
    returns = snapshot.returns
    if isinstance(returns, ArrayMapping):  # a backtest's row: no per-name Python loop
        values = returns.take(names, math.nan)
        keep = np.isfinite(values)
        if keep.all():
            return dict(zip(names, values.tolist(), strict=True))
        return dict(zip(itertools.compress(names, keep), values[keep].tolist(), strict=True))
    get = returns.get
    return {n: v for n in names if (v := get(n)) is not None and math.isfinite(v)}


def _values_of(mapping: Mapping[str, float], names: Sequence[str], default: float) -> FloatArray:
    """``mapping[name]`` (``default`` where missing) for each name, as one array."""
    if isinstance(mapping, ArrayMapping):
        return mapping.take(names, default)
    return np.fromiter((mapping.get(s, default) for s in names), np.float64, len(names))


def _group_means(
    groups: Sequence[Sequence[str]], fresh: Sequence[Mapping[str, float]]
) -> dict[str, float]:
    """Mean fresh return per control group, keyed by the group's first symbol."""
    return {
        group[0]: statistics.fmean(returns.values())
        for group, returns in zip(groups, fresh, strict=True)
        if returns
    }


@dataclass(frozen=True)
class _ExpectedNames:
    """The names of each basket that a baseline expects a price of, in basket order, and the
    broad index's listings (expected or not)."""

    infra: tuple[str, ...]
    control: tuple[tuple[str, ...], ...]
    software: tuple[str, ...]
    broad: tuple[str, ...]

    @functools.cached_property
    def every(self) -> tuple[str, ...]:
        """All of them in one row: infra, each control group, software, broad index."""
        return tuple(itertools.chain(self.infra, *self.control, self.software, self.broad))

    @functools.cached_property
    def parts(self) -> tuple[tuple[tuple[str, ...], int, int], ...]:
        """Each list of names with where it lies in :attr:`every`."""
        out = []
        start = 0
        for names in (self.infra, *self.control, self.software, self.broad):
            out.append((names, start, start + len(names)))
            start += len(names)
        return tuple(out)


@dataclass(frozen=True)
class _FreshBaskets:
    """The finite returns of a snapshot's expected names, basket by basket."""

    infra: list[str]
    infra_returns: FloatArray
    """The returns of the names in :attr:`infra` (in its order): arrays, not a dict, since a
    basket may hold 1,000 names."""
    control: list[dict[str, float]]
    software: dict[str, float]
    broad: dict[str, float]


def _fresh_baskets(snapshot: Snapshot, wanted: _ExpectedNames) -> _FreshBaskets:
    """:func:`_fresh` of every basket; a backtest's row is read in one go."""
    returns = snapshot.returns
    if isinstance(returns, ArrayMapping):
        values = returns.take(wanted.every, math.nan)
        finite = np.isfinite(values)
        gaps = np.flatnonzero(~finite).tolist()  # usually none, or a name the data lacks
        row = values.tolist()
        ok = finite.tolist() if gaps else []

        def part(names: tuple[str, ...], a: int, b: int) -> dict[str, float]:
            first_gap = bisect.bisect_left(gaps, a)
            if first_gap == len(gaps) or gaps[first_gap] >= b:  # no gap in [a, b)
                return dict(zip(names, row[a:b], strict=True))
            return dict(itertools.compress(zip(names, row[a:b], strict=True), ok[a:b]))

        pieces = [part(*where) for where in wanted.parts[1:]]
        end = len(wanted.infra)
        if not gaps or gaps[0] >= end:
            infra, infra_returns = list(wanted.infra), values[:end]
        else:
            infra = list(itertools.compress(wanted.infra, ok[:end]))
            infra_returns = values[:end][finite[:end]]
    else:
        fresh = _fresh(snapshot, wanted.infra)
        infra = list(fresh)
        infra_returns = np.fromiter(fresh.values(), np.float64, len(infra))
        pieces = [_fresh(snapshot, names) for names, _, _ in wanted.parts[1:]]
    return _FreshBaskets(infra, infra_returns, pieces[:-2], pieces[-2], pieces[-1])


_last_expected: tuple[Baskets, frozenset[str], _ExpectedNames] | None = None


def _expected_names(baskets: Baskets, expected: frozenset[str]) -> _ExpectedNames:
    """The baskets' names in ``expected``; the last answer is kept for the same two objects
    (a backtest asks with the same baskets and, while no name comes or goes, the same set)."""
    global _last_expected
    last = _last_expected
    if last is not None and last[0] is baskets and last[1] is expected:
        return last[2]
    names = _ExpectedNames(
        infra=tuple(s for s in baskets.infra if s in expected),
        control=tuple(tuple(s for s in group if s in expected) for group in baskets.control),
        software=tuple(s for s in baskets.software if s in expected),
        broad=tuple(baskets.broad_index),
    )
    _last_expected = (baskets, expected, names)
    return names


def _median_sorted(ordered: FloatArray) -> float:
    """:func:`statistics.median` of an already sorted, non-empty array."""
    n = len(ordered)
    if n % 2 == 1:
        return float(ordered[n // 2])
    return (float(ordered[n // 2 - 1]) + float(ordered[n // 2])) / 2


def _first_ranked(keys: FloatArray, count: int) -> npt.NDArray[np.intp]:
    """``np.argsort(keys, kind="stable")[:count]`` without sorting all of a long array: the
    candidates up to the ``count``-th smallest key (ties included) are sorted alone."""
    if len(keys) <= 256:  # a plain sort is cheaper than the partition below
        return np.argsort(keys, kind="stable")[:count]
    kth = np.partition(keys, count - 1)[count - 1]
    candidates = np.flatnonzero(keys <= kth)
    return candidates[np.argsort(keys[candidates], kind="stable")][:count]


def _compute_stats(
    snapshot: Snapshot,
    baseline: Baseline,
    names: list[str],
    rets: FloatArray,
    controls: Mapping[str, float],
    software: Mapping[str, float],
    broad_index: Mapping[str, float],
    params: DetectorParams,
) -> Stats:
    """The numbers behind a reading; ``rets`` holds the returns of the basket's ``names``."""
    scale = math.sqrt(max(snapshot.variance_fraction, 1e-6))
    ordered = np.sort(rets, kind="stable")  # equal moves keep their order, as sorted() does
    b = _median_sorted(ordered)
    m = statistics.fmean(controls.values())
    sw = statistics.median(software.values()) if software else None
    sigma_div = baseline.sigma_div * scale
    z_div = (b - baseline.beta * m) / sigma_div
    z_sw = (b - sw) / (baseline.sigma_sw * scale) if sw is not None and baseline.sigma_sw else None

    # Per-name numbers as arrays: a basket may hold 1,000 names.
    sigmas = _values_of(baseline.name_sigma, names, params.name_sigma_floor)
    name_z = rets / (sigmas if scale == 1.0 else sigmas * scale)  # x * 1.0 is x
    direction = -1.0 if z_div < 0 else 1.0
    # direction * x >= t, and -(direction * x), without multiplying by +-1 (exact either way).
    if direction > 0:
        beyond = int(np.count_nonzero(name_z >= params.breadth_sigmas))
        ranked = _first_ranked(-rets, 5)  # the biggest moves its way first
    else:
        beyond = int(np.count_nonzero(name_z <= -params.breadth_sigmas))
        ranked = _first_ranked(rets, 5)
    ranked_rets = rets[ranked].tolist()
    top = ranked_rets[0]
    if len(ordered) < 2:
        b_loo = b
    elif top != 0.0:  # the top mover is the last (first) of the sorted moves: leave it out
        b_loo = _median_sorted(ordered[:-1] if direction > 0 else ordered[1:])
    else:  # +0.0 and -0.0 sort alike: leave out exactly the one ranked first
        rest = np.delete(rets, ranked[0])
        b_loo = statistics.median(rest.tolist())
    broad = list(broad_index.values())
    residual = b - baseline.beta * m
    side = -1.0 if residual < 0 else 1.0
    half_floor = params.watch_move / 2
    beyond_beta = rets - baseline.beta * m
    moving = int(
        np.count_nonzero(beyond_beta >= half_floor if side > 0 else beyond_beta <= -half_floor)
    )
    z_sw_mkt = (
        (sw - baseline.beta_sw * m) / (baseline.sigma_sw_mkt * scale)
        if sw is not None and baseline.sigma_sw_mkt
        else None
    )
    return Stats(
        basket_ret=b,
        control_ret=m,
        software_ret=sw,
        beta=baseline.beta,
        z_div=z_div,
        z_sw=z_sw,
        z_mkt=m / (baseline.sigma_mkt * scale),
        z_div_loo=(b_loo - baseline.beta * m) / sigma_div,
        breadth=beyond / len(names),
        broad_index_ret=statistics.fmean(broad) if broad else None,
        top_movers=tuple(
            Mover(names[i], ret, z)
            for i, ret, z in zip(ranked.tolist(), ranked_rets, name_z[ranked].tolist(), strict=True)
        ),
        basket_names=len(names),
        moving=moving / len(names),
        z_sw_mkt=z_sw_mkt,
        moves=snapshot.returns,
    )


def _broad_market(stats: Stats, controls: Mapping[str, float], params: DetectorParams) -> Severity:
    """Severity of a broad-market move, ``NONE`` when the market did not move broadly."""
    m = stats.control_ret
    sign = math.copysign(1.0, m)
    agreeing = sum(1 for r in controls.values() if r != 0.0 and math.copysign(1.0, r) == sign)
    index = stats.broad_index_ret
    # An absolute size rule ("the S&P moved 2 %"): the raw move, not scaled to a session.
    index_move = (
        abs(index)
        if index is not None and index != 0.0 and math.copysign(1.0, index) == sign
        else 0.0
    )
    gate = abs(stats.z_mkt) >= params.broad_alert_z or (
        index_move >= params.broad_index_move and 3 * agreeing >= 2 * len(controls)
    )
    if not gate:
        return Severity.NONE
    by_z = _level(
        abs(stats.z_mkt),
        params.broad_watch_z,
        params.broad_alert_z,
        params.broad_critical_z,
    )
    by_move = _level(
        index_move, params.broad_index_move, params.broad_alert_move, params.broad_critical_move
    )
    return max(by_z, by_move, Severity.WATCH)


def _size_level(stats: Stats, params: DetectorParams) -> Severity:
    """Severity from the absolute size of the move, whatever the volatility regime: the
    basket's move beyond its beta (watch, alert, critical floors) with at least
    ``moving_share`` of its names along, or a raw basket median move of ``watch_move``
    (watch). The caller has ruled out a broad market move."""
    return max(_residual_floor(stats, params), _raw_floor(stats, params))


def _residual_floor(stats: Stats, params: DetectorParams) -> Severity:
    """The move beyond beta against the 5/7/10 % floors, with half the names along."""
    if stats.moving < params.moving_share:
        return Severity.NONE
    return _level(abs(stats.residual), params.watch_move, params.alert_move, params.critical_move)


def _raw_floor(stats: Stats, params: DetectorParams) -> Severity:
    """A basket median move of 5 % (half the names moved at least that much), the same way as
    the move beyond beta: a watch."""
    same_way = stats.basket_ret * stats.residual > 0
    moved = abs(stats.basket_ret) >= params.watch_move and same_way
    return Severity.WATCH if moved else Severity.NONE


def _software_held_up(stats: Stats, params: DetectorParams) -> bool:
    """Software did not fall against the market: its own move beyond its beta is above
    ``-software_held_z`` sigmas (unknown: not held up). A spread that only exists because
    software fell (with the basket, or while the basket rose) confirms nothing."""
    return stats.z_sw_mkt is not None and stats.z_sw_mkt > -params.software_held_z


def _divergence(stats: Stats, params: DetectorParams) -> tuple[Severity, list[Reason]]:
    """Severity of a basket-vs-market divergence and the reasons for it.

    The z-score level (capped at watch when few names moved beyond their own sigmas) and the
    absolute size floors: the stronger wins. Software confirms (raises the z level) only if it
    held up against the market.
    """
    by_z = _level(abs(stats.z_div), params.watch_z, params.alert_z, params.critical_z)
    by_size = _size_level(stats, params)
    reasons: list[Reason] = []
    if by_z is Severity.NONE and by_size is Severity.NONE:
        return Severity.NONE, reasons
    z_sw = stats.z_sw
    if (
        by_z is not Severity.NONE
        and z_sw is not None
        and z_sw * stats.z_div > 0
        and abs(z_sw) >= params.software_confirm_z
        and _software_held_up(stats, params)
    ):
        by_z = max(by_z, _level(abs(z_sw), params.watch_z, params.alert_z, params.critical_z))
        reasons.append(
            Reason(
                "software_held", f"software held up: basket vs software {z_sw:+.1f} sigma", z=z_sw
            )
        )
    if stats.breadth < params.min_breadth and by_z > Severity.WATCH:
        by_z = Severity.WATCH
        reasons.append(
            Reason(
                "narrow",
                f"only {stats.breadth:.0%} of names moved beyond their usual range",
                breadth=stats.breadth,
            )
        )
    if by_size > by_z and _residual_floor(stats, params) is by_size:
        reasons.append(
            Reason(
                "size_floor",
                f"{stats.residual:+.1%} beyond its beta with {stats.moving:.0%} of names "
                f"along: {by_size} in any volatility regime",
                residual=stats.residual,
                moving=stats.moving,
                severity=str(by_size),
            )
        )
    elif by_size > by_z:
        reasons.append(
            Reason(
                "raw_floor",
                f"the median AI-infrastructure name moved {stats.basket_ret:+.1%}: "
                f"{by_size} in any volatility regime",
                basket=stats.basket_ret,
                severity=str(by_size),
            )
        )
    return max(by_z, by_size), reasons


def detect(
    snapshot: Snapshot,
    baseline: Baseline | NoBaseline,
    baskets: Baskets,
    params: DetectorParams,
) -> Reading:
    """Classify one snapshot.

    Args:
        snapshot: fresh returns of the region's names since their previous close.
        baseline: from :func:`build_baseline` on the history before the snapshot's session.
        baskets: the region's baskets.
        params: detector tuning.

    Returns:
        A reading; ``no_decision`` with a reason when the data cannot support a verdict.
    """

    def no_decision(coverage: float, reason: str) -> Reading:
        return Reading(
            snapshot.region,
            snapshot.as_of,
            Label.NO_DECISION,
            Severity.NONE,
            coverage,
            reasons=(reason,),
        )

    if isinstance(baseline, NoBaseline):
        return no_decision(0.0, baseline.reason)
    expected = baseline.expected - snapshot.excluded if snapshot.excluded else baseline.expected
    wanted = _expected_names(baskets, expected)
    expected_infra = wanted.infra
    fresh = _fresh_baskets(snapshot, wanted)
    infra = fresh.infra
    coverage = len(infra) / len(expected_infra) if expected_infra else 0.0
    if len(expected_infra) < params.min_basket_names:
        return no_decision(
            coverage,
            f"AI-infrastructure names with recent price history: {len(expected_infra)} "
            f"(need {params.min_basket_names})",
        )
    if coverage < params.min_coverage or len(infra) < params.min_basket_names:
        missing = sorted(set(expected_infra) - set(infra))
        shown = ", ".join(missing[:8]) + (", ..." if len(missing) > 8 else "")
        return no_decision(
            coverage,
            f"only {len(infra)} of {len(expected_infra)} AI-infrastructure prices are fresh "
            f"(stale or missing: {shown})",
        )
    controls = _group_means(baskets.control, fresh.control)
    if not controls:
        return no_decision(coverage, "no fresh broad-market control price")
    software = fresh.software
    stats = _compute_stats(
        snapshot, baseline, infra, fresh.infra_returns, controls, software, fresh.broad, params
    )
    scale = math.sqrt(max(snapshot.variance_fraction, 1e-6))

    calm_for = _calm_for(stats, params)

    def reading(
        label: Label,
        severity: Severity,
        reasons: Sequence[str],
        sector_led: bool = False,
    ) -> Reading:
        return Reading(
            snapshot.region,
            snapshot.as_of,
            label,
            severity,
            coverage,
            stats,
            sector_led,
            tuple(reasons),
            calm_for,
        )

    broad = _broad_market(stats, controls, params)
    divergence, why = _divergence(stats, params)
    # The basket moving the other way than a broad move, by at least the broad-move size (a
    # crash on a rally day), is the sector's story: a divergence, with the broad move among its
    # reasons. Merely lagging a rally, or falling less than the market, stays broad.
    against = (
        divergence is not Severity.NONE
        and stats.basket_ret * stats.control_ret < 0
        and stats.basket_ret * stats.residual > 0
        and abs(stats.basket_ret) >= params.broad_index_move
    )
    # A broad index pulled down (or up) by the basket while software held up against it by
    # the confirmation level is a rotation within the market, not a broad move: the sector's
    # story, as on DeepSeek Monday's open (S&P -2.2 %, software -0.7 %, the basket -9 %).
    market_way = -1.0 if stats.control_ret < 0 else 1.0
    rotation = (
        broad is not Severity.NONE
        and divergence is not Severity.NONE
        and stats.z_div * market_way > 0
        and stats.z_sw_mkt is not None
        and -stats.z_sw_mkt * market_way >= params.software_confirm_z
    )
    if broad is not Severity.NONE and not against and not rotation:
        down = stats.control_ret < 0
        by_z = _level(abs(stats.z_div), params.watch_z, params.alert_z, params.critical_z)
        sector_led = by_z >= Severity.WATCH and (stats.z_div < 0) == down
        reasons = [
            Reason(
                "broad",
                f"broad market {stats.control_ret:+.2%} ({stats.z_mkt:+.1f} sigma)",
                market=stats.control_ret,
                z=stats.z_mkt,
            )
        ]
        severity: Severity = broad
        if sector_led:
            # Two signals of one move add up: the stronger, one level up.
            severity = max(broad, by_z).raised()
            reasons.append(
                Reason(
                    "sector_led",
                    f"led by AI infrastructure: {stats.residual:+.1%} beyond its beta "
                    f"({stats.z_div:+.1f} sigma, {by_z}); together {severity}",
                    residual=stats.residual,
                    z=stats.z_div,
                    level=str(by_z),
                    together=str(severity),
                )
            )
        label = Label.BROAD_SELLOFF if down else Label.BROAD_RALLY
        return reading(label, severity, reasons, sector_led)
    if rotation:
        why.append(
            Reason(
                "rotation",
                f"the broad market's {stats.control_ret:+.2%} ({stats.z_mkt:+.1f} sigma) is the "
                f"sector's: software held up ({stats.z_sw_mkt:+.1f} sigma against the market)",
                market=stats.control_ret,
                z=stats.z_mkt,
                z_sw=stats.z_sw_mkt or 0.0,
            )
        )
    elif broad is not Severity.NONE:
        why.append(
            Reason(
                "against_broad",
                f"against a broad market move of {stats.control_ret:+.2%} "
                f"({stats.z_mkt:+.1f} sigma)",
                market=stats.control_ret,
                z=stats.z_mkt,
            )
        )

    basket_moved = abs(stats.basket_ret) >= params.watch_move
    if divergence is not Severity.NONE:
        loo = _level(abs(stats.z_div_loo), params.watch_z, params.alert_z, params.critical_z)
        leader = stats.top_movers[0]
        if (
            loo is Severity.NONE
            and stats.breadth < params.min_breadth
            and not basket_moved
            and _size_level(stats, params) is Severity.NONE  # the floors say: the sector
            and abs(leader.ret) >= params.single_stock_move
        ):
            return reading(
                Label.SINGLE_STOCK,
                Severity.WATCH,
                [
                    Reason(
                        "drives",
                        f"{leader.symbol} {leader.ret:+.1%} drives the basket; without it "
                        f"{stats.z_div_loo:+.1f} sigma, breadth {stats.breadth:.0%}",
                        symbol=leader.symbol,
                        ret=leader.ret,
                        z=stats.z_div_loo,
                        breadth=stats.breadth,
                    )
                ],
            )
        label = Label.DIVERGENCE_DOWN if stats.z_div < 0 else Label.DIVERGENCE_UP
        if divergence > Severity.WATCH and len(infra) < params.min_alert_names:
            why.append(
                Reason(
                    "few_names",
                    f"rests on {len(infra)} fresh AI-infrastructure prices; {divergence} needs "
                    f"{params.min_alert_names}: held at watch",
                    names=len(infra),
                    need=params.min_alert_names,
                    severity=str(divergence),
                )
            )
            divergence = Severity.WATCH
        head = Reason(
            "divergence",
            f"AI infrastructure {stats.basket_ret:+.2%} vs market {stats.control_ret:+.2%} "
            f"(beta {stats.beta:.2f}): {stats.z_div:+.1f} sigma, {stats.breadth:.0%} of names "
            f"beyond {params.breadth_sigmas:g} sigma",
            basket=stats.basket_ret,
            market=stats.control_ret,
            beta=stats.beta,
            z=stats.z_div,
            breadth=stats.breadth,
            sigmas=params.breadth_sigmas,
        )
        return reading(label, divergence, [head, *why])

    rets = fresh.infra_returns
    big = np.flatnonzero(np.abs(rets) >= params.single_stock_move)
    movers: list[Mover] = []
    if big.size:
        big_names = [infra[i] for i in big.tolist()]
        big_rets = rets[big]
        sigmas = _values_of(baseline.name_sigma, big_names, params.name_sigma_floor)
        big_z = big_rets / (sigmas * scale)
        movers = [
            Mover(name, ret, z)
            for name, ret, z in zip(big_names, big_rets.tolist(), big_z.tolist(), strict=True)
            if abs(z) >= params.single_stock_z
        ]
    if movers:
        leader = max(movers, key=lambda mv: abs(mv.z))
        return reading(
            Label.SINGLE_STOCK,
            Severity.WATCH,
            [
                Reason(
                    "single_stock",
                    f"{leader.symbol} {leader.ret:+.1%} ({leader.z:+.1f} sigma) on its own",
                    symbol=leader.symbol,
                    ret=leader.ret,
                    z=leader.z,
                )
            ],
        )
    return reading(Label.QUIET, Severity.NONE, [])
