"""Prices from Yahoo Finance through yfinance, with every failure turned into our own errors.

yfinance (1.7) almost never raises. ``yf.download`` runs one ``Ticker.history`` per symbol
(in worker threads), catches what goes wrong and returns a frame in which a failed symbol has
empty or all-NaN columns. *Why* a symbol failed is only said in the ``yfinance`` log:

* the summary ``download`` writes in the calling thread after the workers finished, one
  line per distinct reason: ``"['AAPL', 'MSFT']: YFRateLimitError('Too Many Requests. ...')"``,
  ``"['XYZ']: possibly delisted; no timezone found"``,
  ``"['NVDA']: ConnectionError('Failed to perform, curl: (7) ...')"``;
* worker lines such as ``"Failed to get ticker 'NVDA' reason: ..."`` (the timezone lookup
  could not reach Yahoo; yfinance then reports the symbol as *possibly delisted*) and
  ``"Cookie/crumb fetch failed (ConnectionError), ..."``.

Versions before the per-call context recorded the same reasons in ``yfinance.shared._ERRORS``
(symbol -> ``repr(exception)`` or message); that dict is read as well.

So each download runs under a module-wide lock with a handler on the ``yfinance`` logger that
collects those lines, and the frame plus what was said is mapped here, at this one boundary,
to :class:`~bot.sources.prices.PriceSeries` and :class:`~bot.sources.prices.PriceError`.
If the application raises the ``yfinance`` logger above ``ERROR`` the reasons are lost and a
symbol without prices becomes an :class:`UnknownSymbolError` (or, when nothing at all came
back, the whole request a :class:`SourceUnavailableError`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import pandas as pd
import yfinance as yf
import yfinance.cache as yf_cache
import yfinance.shared as yf_shared
from yfinance.exceptions import YFRateLimitError

from bot.sources.prices import (
    Interval,
    PriceBatch,
    PriceError,
    PriceSeries,
    RateLimitedError,
    SourceUnavailableError,
    UnknownSymbolError,
)

__all__ = ["DownloadFn", "YahooPriceSource"]

log = logging.getLogger(__name__)

DownloadFn = Callable[..., object]
"""``yfinance.download`` or anything called with its keywords that returns a frame."""

#: How far back Yahoo serves bars of each intraday interval (its own limit is 730 days for
#: 1h; one day of margin because the limit is checked against Yahoo's clock).
INTRADAY_MAX_DAYS: Final[Mapping[str, int]] = {"1h": 729}

_YF_LOGGER: Final = "yfinance"
_SUPPORTED_INTERVALS: Final = ("1d", "1h")

# One download at a time in this process: the log capture below can then attribute what
# yfinance says to the request that is running, and yfinance's own global state (its
# session singleton, config flags, caches) is not raced by two of our calls.
_DOWNLOAD_LOCK: Final = threading.Lock()

# yfinance's sqlite caches are process-wide and bind to their folder on first use.
_cache_lock = threading.Lock()
_cache_dir_applied: Path | None = None
_caches_used = False

# --- what yfinance logs -----------------------------------------------------------------

_SUMMARY_RE: Final = re.compile(r"^\s*\[(?P<syms>[^\]]*)\]: (?P<err>.+)$", re.S)
_PER_TICKER_RE: Final = re.compile(r"^\s*\$(?P<sym>[^\s:]+): (?P<err>.+)$", re.S)
_UNREACHABLE_RE: Final = re.compile(
    r"^\s*Failed to get ticker '(?P<sym>[^']+)' reason: (?P<err>.+)$", re.S
)
_COOKIE_FAIL_RE: Final = re.compile(r"^\s*Cookie\S* fetch .*failed \((?P<exc>[\w.]+)\)", re.S)
_RATE_WARNING_RE: Final = re.compile(r"rate-limited|too many requests", re.I)
_QUOTED_RE: Final = re.compile(r"'([^']*)'")
_EXC_REPR_RE: Final = re.compile(r"^(?P<name>[A-Za-z_][\w.]*)\(")

_NETWORK_EXC_NAMES: Final = frozenset(
    {
        "ConnectionError",
        "ConnectTimeout",
        "ReadTimeout",
        "Timeout",
        "TimeoutError",
        "ProxyError",
        "SSLError",
        "DNSError",
        "CurlError",
        "RequestException",
        "RequestsError",
        "ChunkedEncodingError",
        "RemoteDisconnected",
        "OSError",
        "ConnectionRefusedError",
        "ConnectionResetError",
        "gaierror",
    }
)

_Kind = Literal["rate", "network", "unknown", "nodata", "other", "missing"]


def _one_line(text: str, limit: int = 300) -> str:
    """Collapse whitespace (yfinance messages span lines) and cap the length for logs."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _classify(message: str) -> _Kind:
    """Sort one reason yfinance recorded for a symbol into what it means for us.

    ``nodata`` is yfinance's "possibly delisted; no price data found" without a reason from
    Yahoo: in 1.7 that is also what a swallowed network error looks like once the symbol's
    timezone is cached, so it only means "unknown" when other symbols did come back.
    """
    low = message.lower()
    if "ratelimit" in low or "rate limited" in low or "too many requests" in low:
        return "rate"
    match = _EXC_REPR_RE.match(message.strip())
    exc_name = match.group("name").rsplit(".", 1)[-1] if match else ""
    if (
        exc_name in _NETWORK_EXC_NAMES
        or "curl: (" in low
        or "failed to perform" in low
        or "currently down" in low
    ):
        return "network"
    if "possibly delisted" in low and "no price data found" in low:
        return "nodata"
    if (
        "delisted" in low
        or "no timezone found" in low
        or "no data found" in low
        or "not found" in low
    ):
        return "unknown"
    return "other"


@dataclass
class _Said:
    """What yfinance reported during one download, keyed by upper-case symbol."""

    errors: dict[str, str] = field(default_factory=dict)
    unreachable: dict[str, str] = field(default_factory=dict)
    network_warnings: list[str] = field(default_factory=list)
    rate_warnings: list[str] = field(default_factory=list)


class _YFinanceLogCapture(logging.Handler):
    """Collects the ``yfinance`` log lines that explain failures for the symbols asked for.

    Worker threads log too, so records are matched by the symbols they name, not by thread.
    """

    def __init__(self, wanted: Iterable[str]) -> None:
        super().__init__(level=logging.WARNING)
        self._wanted = frozenset(wanted)
        self.said = _Said()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record from yfinance must not break our call
            return
        self._parse(message)

    def _parse(self, message: str) -> None:
        said = self.said
        if match := _SUMMARY_RE.match(message):
            err = match.group("err")
            for sym in _QUOTED_RE.findall(match.group("syms")):
                if sym in self._wanted:
                    said.errors[sym] = err  # the summary is authoritative
        elif match := _UNREACHABLE_RE.match(message):
            sym = match.group("sym").upper()
            if sym in self._wanted:
                said.unreachable[sym] = match.group("err")
        elif match := _PER_TICKER_RE.match(message):
            sym = match.group("sym").upper()
            if sym in self._wanted:
                said.errors.setdefault(sym, match.group("err"))
        elif match := _COOKIE_FAIL_RE.match(message):
            said.network_warnings.append(_one_line(message))
        elif _RATE_WARNING_RE.search(message):
            said.rate_warnings.append(_one_line(message))


def _legacy_errors(wanted: Iterable[str]) -> dict[str, str]:
    """Reasons older yfinance versions left in ``yfinance.shared._ERRORS``."""
    raw = getattr(yf_shared, "_ERRORS", None)
    if not isinstance(raw, dict):
        return {}
    wanted_set = frozenset(wanted)
    out: dict[str, str] = {}
    for key, value in list(raw.items()):
        sym = str(key).upper()
        if sym in wanted_set:
            out[sym] = str(value).replace(f"${sym}: ", "")
    return out


def _apply_cache_dir(cache_dir: Path) -> None:
    """Point yfinance's timezone, cookie and ISIN caches into ``cache_dir``.

    yfinance opens its sqlite files on first use and keeps them: a later change of folder
    does not take effect, so this warns when a different folder is asked for afterwards.
    """
    global _cache_dir_applied
    with _cache_lock:
        if _cache_dir_applied == cache_dir:
            return
        if _caches_used and _cache_dir_applied != cache_dir:
            log.warning(
                "yfinance caches already in use at %s; %s may not take effect",
                _cache_dir_applied,
                cache_dir,
            )
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SourceUnavailableError(
                f"cannot create yfinance cache folder {cache_dir}: {exc}"
            ) from exc
        setter = getattr(yf_cache, "set_cache_location", None) or yf.set_tz_cache_location
        setter(str(cache_dir))
        _cache_dir_applied = cache_dir
        log.info("yfinance caches in %s", cache_dir)


def _price_level(columns: pd.MultiIndex) -> int:
    """Which of the two column levels holds the OHLC field names."""
    names = list(columns.names)
    if "Price" in names:
        return names.index("Price")
    for level in range(columns.nlevels):
        values = {str(v) for v in columns.get_level_values(level)}
        if values & {"Close", "Adj Close"}:
            return level
    raise SourceUnavailableError(f"yfinance frame has no Close column: {list(columns)[:6]}")


def _split_frame(frame: pd.DataFrame, wanted: Sequence[str]) -> dict[str, pd.DataFrame]:
    """One OHLC frame per upper-case symbol, whatever layout yfinance returned."""
    columns = frame.columns
    if isinstance(columns, pd.MultiIndex):
        if columns.nlevels != 2:
            raise SourceUnavailableError(f"yfinance frame has {columns.nlevels} column levels")
        ticker_level = 1 - _price_level(columns)
        out: dict[str, pd.DataFrame] = {}
        for ticker in columns.get_level_values(ticker_level).unique():
            part = frame.xs(ticker, axis=1, level=ticker_level)
            if isinstance(part, pd.DataFrame):
                out[str(ticker).upper()] = part
        return out
    if len(columns) == 0:
        return {}
    names = {str(c) for c in columns}
    if not names & {"Close", "Adj Close"}:
        raise SourceUnavailableError(f"yfinance frame has no Close column: {sorted(names)[:6]}")
    if len(wanted) != 1:
        raise SourceUnavailableError(
            f"yfinance returned one flat frame for {len(wanted)} symbols; cannot tell them apart"
        )
    return {wanted[0]: frame}


def _bar_index(index: pd.Index, interval: Interval) -> pd.DatetimeIndex:
    """Session dates (naive midnight) for daily bars, UTC bar starts for intraday bars."""
    if isinstance(index, pd.DatetimeIndex):
        idx = index
    else:
        try:
            idx = pd.DatetimeIndex(pd.to_datetime(index))
        except (TypeError, ValueError) as exc:
            raise SourceUnavailableError(f"yfinance index is not dates: {exc}") from exc
    if interval == "1d":
        if idx.tz is not None:
            idx = idx.tz_localize(None)  # the exchange-local date
        idx = idx.normalize()
    else:
        if idx.tz is None:
            raise SourceUnavailableError("yfinance intraday index has no timezone")
        idx = idx.tz_convert("UTC")
    return idx.as_unit("ns").rename(None)


def _closes(
    part: pd.DataFrame, symbol: str, interval: Interval, auto_adjust: bool
) -> PriceSeries | None:
    """The closing prices in one symbol's frame, ``None`` when it holds no price."""
    notes: list[str] = []
    column: str | None
    if auto_adjust:
        column, adjusted = ("Close", True) if "Close" in part.columns else (None, True)
    elif "Adj Close" in part.columns and part["Adj Close"].notna().any():
        column, adjusted = "Adj Close", True
    elif "Close" in part.columns:
        column, adjusted = "Close", False
        notes.append("no Adj Close from Yahoo: closes are not adjusted for dividends")
    else:
        column, adjusted = None, False
    if column is None:
        return None
    raw: Any = part[column]
    if isinstance(raw, pd.DataFrame):  # a duplicated column label
        raw = raw.iloc[:, 0]
    values = pd.to_numeric(raw, errors="coerce").astype("float64")
    closes = pd.Series(
        values.to_numpy(), index=_bar_index(part.index, interval), name=symbol, dtype="float64"
    )
    closes = closes[np.isfinite(closes.to_numpy())].sort_index()
    if closes.empty:
        return None
    duplicated = closes.index.duplicated(keep="last")
    if duplicated.any():
        notes.append(f"dropped {int(duplicated.sum())} duplicated bar(s)")
        closes = closes[~duplicated]
    return PriceSeries(
        symbol=symbol,
        closes=closes,
        interval=interval,
        adjusted=adjusted,
        notes=tuple(notes),
    )


def _error_for(symbol: str, kind: _Kind, reason: str | None) -> PriceError:
    detail = _one_line(reason) if reason else "no prices returned"
    if kind == "rate":
        return RateLimitedError(f"{symbol}: Yahoo rate limit ({detail})", symbol)
    if kind in ("network", "other"):
        return SourceUnavailableError(f"{symbol}: Yahoo unavailable ({detail})", symbol)
    return UnknownSymbolError(f"{symbol}: unknown to Yahoo ({detail})", symbol)


def _exception_to_error(exc: Exception) -> PriceError:
    """A whole-request error for whatever the download call raised."""
    if isinstance(exc, PriceError):
        return exc
    what = f"{type(exc).__name__}: {_one_line(str(exc))}"
    if isinstance(exc, YFRateLimitError):
        return RateLimitedError(f"Yahoo rate limit ({what})")
    if isinstance(exc, OSError):  # curl_cffi and requests errors are OSErrors too
        response = getattr(exc, "response", None)
        if getattr(response, "status_code", None) == 429:
            return RateLimitedError(f"Yahoo rate limit ({what})")
        return SourceUnavailableError(f"Yahoo unreachable ({what})")
    return SourceUnavailableError(f"yfinance failed unexpectedly ({what})")


class YahooPriceSource:
    """A :class:`~bot.sources.prices.PriceSource` backed by ``yfinance.download``.

    Args:
        cache_dir: folder for yfinance's timezone/cookie caches (set once, before the first
            download; process-wide). ``None`` leaves yfinance's default (``~/.cache``).
        auto_adjust: ask yfinance for split- and dividend-adjusted OHLC.
        prepost: include pre/post-market bars (intraday only).
        timeout: seconds per HTTP request yfinance makes.
        download: stands in for ``yfinance.download`` (tests); called with its keywords.
        clock: the current time (aware), used only to respect Yahoo's intraday history limit
            in :meth:`history`; :meth:`latest` takes ``now`` instead.
    """

    name = "yahoo"

    def __init__(
        self,
        cache_dir: Path | None,
        *,
        auto_adjust: bool = True,
        prepost: bool = False,
        timeout: float = 20.0,
        download: DownloadFn | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.cache_dir = cache_dir.expanduser().resolve() if cache_dir is not None else None
        self.auto_adjust = auto_adjust
        self.prepost = prepost
        self.timeout = timeout
        self._download: DownloadFn = download if download is not None else yf.download
        self._clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self._cache_ready = False

    async def history(
        self,
        symbols: Sequence[str],
        *,
        start: date | None = None,
        end: date | None = None,
        interval: Interval = "1d",
    ) -> PriceBatch:
        """Bars from ``start`` to ``end`` (both inclusive; ``None`` for open ends).

        An open start means all Yahoo has (for 1h bars: its last 730 days). An intraday
        ``start`` older than Yahoo keeps is moved forward (noted on each series); a range
        that ends before that raises :class:`PriceError`.
        """
        today = self._clock().astimezone(UTC).date()
        return await self._history(symbols, start=start, end=end, interval=interval, today=today)

    async def _history(
        self,
        symbols: Sequence[str],
        *,
        start: date | None,
        end: date | None,
        interval: Interval,
        today: date,
    ) -> PriceBatch:
        if interval not in _SUPPORTED_INTERVALS:
            raise PriceError(f"interval {interval!r} is not supported by the yahoo source")
        wanted = list(dict.fromkeys(s.strip() for s in symbols if s and s.strip()))
        if not wanted:
            return PriceBatch()
        if start is not None and end is not None and start > end:
            raise PriceError(f"start {start} is after end {end}")

        notes: tuple[str, ...] = ()
        kwargs: dict[str, Any] = {
            "interval": interval,
            "group_by": "ticker",
            "auto_adjust": self.auto_adjust,
            "prepost": self.prepost,
            "threads": True,
            "progress": False,
            "timeout": self.timeout,
            "multi_level_index": True,
        }
        if interval in INTRADAY_MAX_DAYS:
            earliest = today - timedelta(days=INTRADAY_MAX_DAYS[interval])
            if end is not None and end < earliest:
                raise PriceError(
                    f"Yahoo keeps {interval} bars only since {earliest}; asked to end {end}"
                )
            if start is None or start < earliest:
                if start is not None:
                    notes = (f"start moved from {start} to {earliest}: Yahoo's {interval} limit",)
                    log.warning(
                        "yahoo %s start %s before limit, clamped to %s", interval, start, earliest
                    )
                start = earliest
        if start is None:
            kwargs["period"] = "max"  # an open start: everything Yahoo has
        else:
            kwargs["start"] = start
        if end is not None:
            kwargs["end"] = end + timedelta(days=1)  # yfinance's end is exclusive

        upper = [s.upper() for s in wanted]  # yfinance upper-cases and de-duplicates
        tickers = list(dict.fromkeys(upper))
        log.debug(
            "yahoo download %d symbols interval=%s start=%s end=%s",
            len(tickers),
            interval,
            kwargs.get("start", "max"),
            end,
        )
        try:
            frame, said = await asyncio.to_thread(self._download_blocking, tickers, kwargs)
        except Exception as exc:
            mapped = _exception_to_error(exc)
            log.info("yahoo download failed: %s", mapped.message)
            raise mapped from exc
        try:
            return self._to_batch(frame, said, wanted, interval, notes)
        except PriceError as failure:
            log.info("yahoo download failed: %s", failure.message)
            raise
        except Exception as exc:
            unreadable = SourceUnavailableError(
                f"unreadable yfinance frame ({type(exc).__name__}: {_one_line(str(exc))})"
            )
            log.info("yahoo download failed: %s", unreadable.message)
            raise unreadable from exc

    def _download_blocking(
        self, tickers: list[str], kwargs: dict[str, Any]
    ) -> tuple[object, _Said]:
        """Runs in a worker thread: the yfinance call with its log captured."""
        global _caches_used
        with _DOWNLOAD_LOCK:
            if not self._cache_ready:
                if self.cache_dir is not None:
                    _apply_cache_dir(self.cache_dir)
                self._cache_ready = True
            capture = _YFinanceLogCapture(tickers)
            yf_logger = logging.getLogger(_YF_LOGGER)
            # Older yfinance re-binds shared._ERRORS itself at the start of a download and its
            # workers write into it before download returns; 1.7 keeps errors per call and
            # never touches it. A fresh dict (never an in-place clear) is safe either way.
            yf_shared._ERRORS = {}
            yf_logger.addHandler(capture)
            # What yfinance logs is folded into our errors (one line per scan, not one per
            # symbol and retry): keep it from the bot's own log while we capture it.
            propagates, yf_logger.propagate = yf_logger.propagate, False
            try:
                frame = self._download(tickers, **kwargs)
            finally:
                yf_logger.propagate = propagates
                yf_logger.removeHandler(capture)
                _caches_used = True
            said = capture.said
            for sym, err in _legacy_errors(tickers).items():
                said.errors.setdefault(sym, err)
            return frame, said

    def _to_batch(
        self,
        frame: object,
        said: _Said,
        wanted: list[str],
        interval: Interval,
        notes: tuple[str, ...],
    ) -> PriceBatch:
        if frame is None:
            frame = pd.DataFrame()
        if not isinstance(frame, pd.DataFrame):
            raise SourceUnavailableError(f"yfinance returned {type(frame).__name__}, not a frame")
        upper_wanted = list(dict.fromkeys(s.upper() for s in wanted))
        parts = _split_frame(frame, upper_wanted)

        series: dict[str, PriceSeries] = {}
        failed: dict[str, tuple[_Kind, str | None]] = {}
        for symbol in wanted:
            key = symbol.upper()
            part = parts.get(key)
            one = _closes(part, symbol, interval, self.auto_adjust) if part is not None else None
            if one is not None:
                extra = notes
                if key in said.errors:
                    extra += (f"yfinance said: {_one_line(said.errors[key])}",)
                if extra:
                    one = PriceSeries(
                        symbol=one.symbol,
                        closes=one.closes,
                        interval=one.interval,
                        adjusted=one.adjusted,
                        breaks=one.breaks,
                        notes=one.notes + extra,
                    )
                series[symbol] = one
                continue
            reason = said.errors.get(key)
            kind: _Kind = _classify(reason) if reason is not None else "missing"
            if key in said.unreachable and kind != "rate":
                kind, reason = "network", f"{reason or 'no prices'}; {said.unreachable[key]}"
            failed[symbol] = (kind, reason)

        if not series:
            self._raise_if_whole_request_failed(failed, said)
        errors: dict[str, PriceError] = {}
        for symbol, (kind, reason) in failed.items():
            if kind in ("nodata", "missing"):
                kind = "unknown"  # other symbols came back, so Yahoo was there
            errors[symbol] = _error_for(symbol, kind, reason)
            log.warning("yahoo %s failed: %s", symbol, errors[symbol].message)
        log.info("yahoo %s: %d symbols ok, %d failed", interval, len(series), len(errors))
        return PriceBatch(series=series, errors=errors)

    @staticmethod
    def _raise_if_whole_request_failed(
        failed: Mapping[str, tuple[_Kind, str | None]], said: _Said
    ) -> None:
        """Nothing came back: decide between "all unknown" and "Yahoo unavailable".

        Returns (leaving per-symbol :class:`UnknownSymbolError`) only when Yahoo answered for
        at least one symbol that it does not know it and nothing points at the network.
        """
        kinds = {kind for kind, _ in failed.values()}
        reasons = sorted({_one_line(r, 120) for _, r in failed.values() if r})
        summary = "; ".join(reasons[:3]) or "no prices and no reason"
        count = len(failed)
        if "rate" in kinds or (said.rate_warnings and kinds <= {"nodata", "missing"}):
            raise RateLimitedError(f"Yahoo rate limit for all {count} symbols ({summary})")
        if "network" in kinds or said.network_warnings:
            extra = said.network_warnings[0] if said.network_warnings else ""
            detail = "; ".join(x for x in (summary, extra) if x)
            raise SourceUnavailableError(f"Yahoo unreachable for all {count} symbols ({detail})")
        if "unknown" not in kinds:
            raise SourceUnavailableError(f"Yahoo returned nothing for {count} symbols ({summary})")
