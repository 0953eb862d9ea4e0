"""The price-source boundary: one protocol, our own errors, and the series it returns.

Every failure of a provider (yfinance's empty frames and rate-limit errors, unreadable CSV
files, network errors) is turned into one of the :class:`PriceError` subclasses here, so nothing
above this boundary knows which provider it talks to.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal, Protocol

import pandas as pd

Interval = Literal["1d", "1h"]


class PriceError(Exception):
    """A price could not be had. ``symbol`` is ``None`` when the whole request failed."""

    def __init__(self, message: str, symbol: str | None = None) -> None:
        super().__init__(message)
        self.symbol = symbol
        self.message = message


class UnknownSymbolError(PriceError):
    """The provider does not know the symbol (a typo, a delisted name)."""


class RateLimitedError(PriceError):
    """The provider throttles us; ``retry_after`` seconds if it said so."""

    def __init__(
        self, message: str, symbol: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, symbol)
        self.retry_after = retry_after


class SourceUnavailableError(PriceError):
    """The provider could not be reached or answered with something unusable."""


class StaleDataError(PriceError):
    """The newest price is older than the freshness limit allows."""


class NoIntradayError(PriceError):
    """The source has only daily bars of the symbol: it cannot be part of intraday readings."""


@dataclass(frozen=True)
class PriceSeries:
    """Closing prices of one symbol, oldest first.

    Attributes:
        symbol: the symbol as asked for.
        closes: float prices. Daily bars: a ``DatetimeIndex`` of session dates (naive,
            midnight). Intraday bars: a tz-aware UTC ``DatetimeIndex`` of bar *starts*, or of
            the moments the prices were observed when ``observed`` is set.
        interval: the bar length.
        adjusted: ``True`` when the prices are adjusted for splits (and usually dividends).
        breaks: bar timestamps (same kind as ``closes.index``) at which the change from the
            previous bar is not a market move (a split in an unadjusted series) and must not
            become a return.
        notes: human-readable remarks on what was repaired or flagged while reading.
        origin: where the bars came from.
    """

    symbol: str
    closes: pd.Series
    interval: Interval = "1d"
    adjusted: bool = True
    breaks: tuple[pd.Timestamp, ...] = ()
    notes: tuple[str, ...] = ()
    origin: str = ""
    """Where the bars came from (a file, a provider), for logs and ``check-config``."""
    opens: pd.Series | None = None
    """Daily bars: each session's opening price where the file has one (adjusted like the
    closes), indexed like ``closes``."""
    observed: bool = False
    """Intraday: the index holds when each price was observed (a recording's opening prints
    and bar closes). With ``interval`` ``"1d"`` the series holds opening prints only: a daily
    series that shows intraday at each session's open and then no more."""

    def returns(self) -> pd.Series:
        """Simple returns between consecutive bars, NaN at breaks and after gaps."""
        rets = self.closes.pct_change(fill_method=None)
        if self.breaks:
            rets.loc[rets.index.isin(list(self.breaks))] = float("nan")
        return rets


@dataclass(frozen=True)
class PriceBatch:
    """What a request for several symbols gave: series for some, an error for each of the rest."""

    series: Mapping[str, PriceSeries] = field(default_factory=dict)
    errors: Mapping[str, PriceError] = field(default_factory=dict)


class PriceSource(Protocol):
    """Anything that gives price history for a list of symbols."""

    name: str

    async def history(
        self,
        symbols: Sequence[str],
        *,
        start: date | None = None,
        end: date | None = None,
        interval: Interval = "1d",
    ) -> PriceBatch:
        """Bars from ``start`` to ``end`` (both inclusive, ``None`` for open ends).

        A symbol that fails gets its error in ``PriceBatch.errors``; the others are still
        returned. A failure of the whole request raises a :class:`PriceError`.
        """
        ...
