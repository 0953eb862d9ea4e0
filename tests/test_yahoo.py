"""Tests for the yfinance price source, offline.

The fakes reproduce what yfinance 1.7 really does (read in ``yfinance/multi.py`` and
``yfinance/scrapers/history.py``):

* ``Ticker.history`` returns one frame per symbol, index named ``Date`` (daily, midnight in the
  exchange timezone) or ``Datetime`` (intraday, exchange timezone); ``download`` strips the
  timezone of daily bars, aligns all frames with ``reindex_dfs`` and concatenates them under
  the column levels ``(Ticker, Price)``;
* a failed symbol gets ``utils.empty_df()`` (so all-NaN columns after alignment) and the reason
  is only *logged* on the ``yfinance`` logger (``"['XYZ']: possibly delisted; ..."``);
  older versions also wrote it into ``yfinance.shared._ERRORS``.

Some tests go further and run the real ``yfinance.download`` with ``Ticker`` replaced by a
stub, and one runs it unpatched against a closed local proxy port.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import curl_cffi.requests.exceptions as curl_errors
import pandas as pd
import pytest
import yfinance as yf
import yfinance.cache as yf_cache
import yfinance.multi as yf_multi
import yfinance.shared as yf_shared
import yfinance.utils as yf_utils
from yfinance.exceptions import YFPricesMissingError, YFRateLimitError, YFTzMissingError

from bot.sources import yahoo
from bot.sources.prices import (
    PriceBatch,
    PriceError,
    RateLimitedError,
    SourceUnavailableError,
    UnknownSymbolError,
)
from bot.sources.yahoo import YahooPriceSource

NY = "America/New_York"
TAIPEI = "Asia/Taipei"
DAYS = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]

# The reasons exactly as yfinance 1.7 records them (history.py strips "$SYM: ").
DELISTED = str(YFTzMissingError("XYZ")).split(": ", 1)[1]  # possibly delisted; no timezone found
NO_PRICES = str(YFPricesMissingError("AAA", " (1d 2024-01-02 -> 2024-01-06)")).split(": ", 1)[1]
RATE_LIMITED = repr(YFRateLimitError())
CURL_MESSAGE = (
    "Failed to perform, curl: (7) Failed to connect to query2.finance.yahoo.com:443 over proxy "
    "127.0.0.1 after 0 ms: Could not connect to server."
)
CONNECTION_FAILED = repr(curl_errors.ConnectionError(CURL_MESSAGE))

# real yfinance.download calls DataFrame.rename(inplace=True), deprecated in pandas 3
REAL_DOWNLOAD_WARNING = "ignore:The inplace keyword:DeprecationWarning"


# --- frames of yfinance's real shape -----------------------------------------------------------


def history_frame(
    times: Sequence[str],
    closes: Sequence[float],
    *,
    tz: str = NY,
    intraday: bool = False,
    auto_adjust: bool = True,
    adj_closes: Sequence[float] | None = None,
) -> pd.DataFrame:
    """What ``Ticker.history`` returns for one symbol."""
    index = pd.DatetimeIndex(pd.to_datetime(list(times))).tz_localize(tz)
    index.name = "Datetime" if intraday else "Date"
    data: dict[str, Any] = {
        "Open": [c * 0.99 for c in closes],
        "High": [c * 1.01 for c in closes],
        "Low": [c * 0.98 for c in closes],
        "Close": list(closes),
    }
    if not auto_adjust:
        data["Adj Close"] = list(adj_closes if adj_closes is not None else closes)
    data["Volume"] = [1_000_000 + i for i in range(len(closes))]
    frame = pd.DataFrame(data, index=index)
    frame["Volume"] = frame["Volume"].astype("int64")
    return frame


def assemble(
    per_ticker: Mapping[str, pd.DataFrame],
    *,
    intraday: bool = False,
    group_by: str = "ticker",
    multi_level_index: bool = True,
) -> pd.DataFrame:
    """The tail of ``yfinance.multi._download_impl``: align and concatenate the frames."""
    ignore_tz = not intraday
    dfs = {k: v.copy() for k, v in per_ticker.items()}
    if ignore_tz:
        for df in dfs.values():
            if df.shape[0] > 0:
                df.index = pd.DatetimeIndex(df.index).tz_localize(None)
    dfs = yf_multi.reindex_dfs(dfs, ignore_tz)
    data: pd.DataFrame = pd.concat(
        dfs.values(), axis=1, sort=True, keys=dfs.keys(), names=["Ticker", "Price"]
    )
    if group_by == "column":
        columns = data.columns
        assert isinstance(columns, pd.MultiIndex)
        data.columns = columns.swaplevel(0, 1)
        data = data.sort_index(level=0, axis=1)
    if not multi_level_index and len(dfs) == 1:
        data = data.droplevel(0 if group_by == "ticker" else 1, axis=1).rename_axis(None, axis=1)
    return data


def log_failures_like_yfinance(errors: Mapping[str, str]) -> None:
    """The failure summary ``yfinance.multi._download_impl`` logs after its threads finished."""
    logger = logging.getLogger("yfinance")
    logger.error("\n%.f Failed download%s:", len(errors), "s" if len(errors) > 1 else "")
    grouped: dict[str, list[str]] = {}
    for ticker, err in errors.items():
        grouped.setdefault(err.replace(f"${ticker}: ", ""), []).append(ticker)
    for err, syms in grouped.items():
        logger.error("%s: %s", syms, err)


class FakeDownload:
    """Stands in for ``yfinance.download``; records every call."""

    def __init__(
        self,
        frame: pd.DataFrame | None = None,
        *,
        logged: Mapping[str, str] | None = None,
        worker_lines: Sequence[str] = (),
        legacy_errors: Mapping[str, str] | None = None,
        raises: BaseException | None = None,
        returns: object = None,
    ) -> None:
        self.frame = frame
        self.logged = dict(logged or {})
        self.worker_lines = list(worker_lines)
        self.legacy_errors = dict(legacy_errors or {})
        self.raises = raises
        self.returns = returns
        self.calls: list[tuple[list[str], dict[str, Any]]] = []

    def __call__(self, tickers: list[str], **kwargs: Any) -> object:
        self.calls.append((list(tickers), kwargs))
        if self.raises is not None:
            raise self.raises
        logger = logging.getLogger("yfinance")
        for line in self.worker_lines:
            logger.error("%s", line)
        for sym, err in self.legacy_errors.items():
            yf_shared._ERRORS[sym.upper()] = err
        if self.logged:
            log_failures_like_yfinance(self.logged)
        if self.frame is not None:
            return self.frame
        return self.returns

    @property
    def kwargs(self) -> dict[str, Any]:
        return self.calls[-1][1]


def source(download: Callable[..., object] | None, tmp_path: Path, **kw: Any) -> YahooPriceSource:
    return YahooPriceSource(tmp_path / "yf-cache", download=download, **kw)


def daily_ok(*symbols: str, tz: str = NY) -> dict[str, pd.DataFrame]:
    return {
        s: history_frame(DAYS, [100.0 + 10 * i + d for d in range(len(DAYS))], tz=tz)
        for i, s in enumerate(symbols)
    }


@pytest.fixture(autouse=True)
def offline_and_isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No request can leave the machine, and yfinance's caches never go to ~/.cache."""
    for var in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(yahoo, "_cache_dir_applied", None)
    monkeypatch.setattr(yahoo, "_caches_used", False)
    yf_cache.set_cache_location(str(tmp_path / "default-yf-cache"))
    monkeypatch.setattr(yf_shared, "_ERRORS", {})


# --- success -----------------------------------------------------------------------------------


async def test_several_symbols_one_batched_call(tmp_path: Path) -> None:
    frames = daily_ok("NVDA", "TSM")
    frames["2330.TW"] = history_frame(["2024-01-03", "2024-01-04"], [590.0, 593.0], tz=TAIPEI)
    fake = FakeDownload(assemble(frames))
    src = source(fake, tmp_path)

    batch = await src.history(
        ["NVDA", "TSM", "2330.TW"], start=date(2024, 1, 2), end=date(2024, 1, 5)
    )

    assert len(fake.calls) == 1
    tickers, kwargs = fake.calls[0]
    assert sorted(tickers) == ["2330.TW", "NVDA", "TSM"]
    assert kwargs == {
        "interval": "1d",
        "group_by": "ticker",
        "auto_adjust": True,
        "prepost": False,
        "threads": True,
        "progress": False,
        "timeout": 20.0,
        "multi_level_index": True,
        "start": date(2024, 1, 2),
        "end": date(2024, 1, 6),
    }
    assert batch.errors == {}
    assert set(batch.series) == {"NVDA", "TSM", "2330.TW"}
    nvda = batch.series["NVDA"]
    assert nvda.symbol == "NVDA"
    assert nvda.interval == "1d"
    assert nvda.adjusted is True
    assert list(nvda.closes) == [100.0, 101.0, 102.0, 103.0]
    assert list(nvda.closes.index) == [pd.Timestamp(d) for d in DAYS]
    assert pd.DatetimeIndex(nvda.closes.index).tz is None
    assert nvda.closes.dtype == "float64"
    # the Taiwan series keeps only its own sessions: the alignment NaNs are dropped
    tw = batch.series["2330.TW"].closes
    assert list(tw.index) == [pd.Timestamp("2024-01-03"), pd.Timestamp("2024-01-04")]
    assert list(tw) == [590.0, 593.0]


async def test_keywords_are_accepted_by_the_real_download(tmp_path: Path) -> None:
    daily = FakeDownload(assemble(daily_ok("NVDA")))
    await source(daily, tmp_path).history(["NVDA"], start=date(2024, 1, 2), end=date(2024, 1, 5))
    await source(daily, tmp_path).history(["NVDA"])
    hourly = FakeDownload(
        assemble({"NVDA": history_frame(["2024-01-03 09:30"], [1.0], intraday=True)}, intraday=True)
    )
    await source(hourly, tmp_path).history(["NVDA"], interval="1h")
    for tickers, kwargs in daily.calls + hourly.calls:
        inspect.signature(yf.download).bind(tickers, **kwargs)  # raises on an unknown keyword


@pytest.mark.parametrize(
    ("group_by", "multi_level_index"),
    [("ticker", True), ("ticker", False), ("column", True), ("column", False)],
)
async def test_single_symbol_in_every_layout(
    tmp_path: Path, group_by: str, multi_level_index: bool
) -> None:
    frame = assemble(daily_ok("AMD"), group_by=group_by, multi_level_index=multi_level_index)
    assert isinstance(frame.columns, pd.MultiIndex) is multi_level_index
    batch = await source(FakeDownload(frame), tmp_path).history(["AMD"])
    assert batch.errors == {}
    assert list(batch.series["AMD"].closes) == [100.0, 101.0, 102.0, 103.0]


async def test_several_symbols_grouped_by_column(tmp_path: Path) -> None:
    frame = assemble(daily_ok("NVDA", "AMD"), group_by="column")
    batch = await source(FakeDownload(frame), tmp_path).history(["NVDA", "AMD"])
    assert list(batch.series["AMD"].closes) == [110.0, 111.0, 112.0, 113.0]
    assert list(batch.series["NVDA"].closes) == [100.0, 101.0, 102.0, 103.0]


async def test_symbols_are_looked_up_the_way_yfinance_spells_them(tmp_path: Path) -> None:
    fake = FakeDownload(assemble(daily_ok("NVDA")))
    batch = await source(fake, tmp_path).history(["nvda", "nvda"])
    assert fake.calls[0][0] == ["NVDA"]
    assert set(batch.series) == {"nvda"}
    assert batch.series["nvda"].symbol == "nvda"


async def test_no_symbols_no_call(tmp_path: Path) -> None:
    fake = FakeDownload()
    assert await source(fake, tmp_path).history([]) == PriceBatch()
    assert fake.calls == []


async def test_nan_rows_are_dropped(tmp_path: Path) -> None:
    frame = history_frame(DAYS, [10.0, float("nan"), 12.0, 13.0])
    batch = await source(FakeDownload(assemble({"MU": frame})), tmp_path).history(["MU"])
    assert list(batch.series["MU"].closes) == [10.0, 12.0, 13.0]


async def test_unadjusted_download_prefers_adj_close(tmp_path: Path) -> None:
    frame = history_frame(
        DAYS, [10.0, 11.0, 12.0, 13.0], auto_adjust=False, adj_closes=[9.0, 10.0, 11.0, 12.0]
    )
    fake = FakeDownload(assemble({"MU": frame}))
    batch = await source(fake, tmp_path, auto_adjust=False).history(["MU"])
    assert fake.kwargs["auto_adjust"] is False
    assert list(batch.series["MU"].closes) == [9.0, 10.0, 11.0, 12.0]
    assert batch.series["MU"].adjusted is True


async def test_unadjusted_download_without_adj_close(tmp_path: Path) -> None:
    frame = history_frame(DAYS, [10.0, 11.0, 12.0, 13.0])  # no Adj Close column
    batch = await source(
        FakeDownload(assemble({"MU": frame})), tmp_path, auto_adjust=False
    ).history(["MU"])
    assert list(batch.series["MU"].closes) == [10.0, 11.0, 12.0, 13.0]
    assert batch.series["MU"].adjusted is False
    assert batch.series["MU"].notes


# --- dates -------------------------------------------------------------------------------------


async def test_inclusive_end_becomes_yfinance_exclusive_end(tmp_path: Path) -> None:
    fake = FakeDownload(assemble(daily_ok("NVDA")))
    await source(fake, tmp_path).history(["NVDA"], start=date(2024, 1, 2), end=date(2024, 1, 5))
    assert fake.kwargs["start"] == date(2024, 1, 2)
    assert fake.kwargs["end"] == date(2024, 1, 6)
    assert "period" not in fake.kwargs


async def test_open_start_asks_for_everything(tmp_path: Path) -> None:
    fake = FakeDownload(assemble(daily_ok("NVDA")))
    await source(fake, tmp_path).history(["NVDA"], end=date(2024, 1, 5))
    assert fake.kwargs["period"] == "max"
    assert "start" not in fake.kwargs
    assert fake.kwargs["end"] == date(2024, 1, 6)


async def test_start_after_end_is_refused(tmp_path: Path) -> None:
    fake = FakeDownload()
    with pytest.raises(PriceError, match="after"):
        await source(fake, tmp_path).history(["A"], start=date(2024, 2, 1), end=date(2024, 1, 1))
    assert fake.calls == []


async def test_intraday_bars_are_utc_bar_starts(tmp_path: Path) -> None:
    ny = history_frame(
        ["2024-01-03 09:30", "2024-01-03 10:30", "2024-01-03 15:30"],
        [50.0, 51.0, 52.0],
        intraday=True,
    )
    tw = history_frame(
        ["2024-01-04 09:00", "2024-01-04 10:00"], [590.0, 591.0], tz=TAIPEI, intraday=True
    )
    frame = assemble({"NVDA": ny, "AMD": ny * 2, "2330.TW": tw}, intraday=True)
    assert (
        str(pd.DatetimeIndex(frame.index).tz) == NY
    )  # yfinance converts to the most common exchange tz
    clock = lambda: datetime(2024, 1, 10, 12, tzinfo=UTC)  # noqa: E731
    fake = FakeDownload(frame)
    batch = await source(fake, tmp_path, clock=clock).history(
        ["NVDA", "AMD", "2330.TW"], start=date(2024, 1, 3), interval="1h"
    )
    assert fake.kwargs["interval"] == "1h"
    nvda = batch.series["NVDA"]
    assert nvda.interval == "1h"
    assert str(pd.DatetimeIndex(nvda.closes.index).tz) == "UTC"
    assert list(nvda.closes.index) == [
        pd.Timestamp("2024-01-03 14:30", tz="UTC"),
        pd.Timestamp("2024-01-03 15:30", tz="UTC"),
        pd.Timestamp("2024-01-03 20:30", tz="UTC"),
    ]
    assert list(batch.series["2330.TW"].closes.index) == [
        pd.Timestamp("2024-01-04 01:00", tz="UTC"),
        pd.Timestamp("2024-01-04 02:00", tz="UTC"),
    ]


async def test_intraday_start_older_than_yahoo_keeps_is_clamped(tmp_path: Path) -> None:
    now = datetime(2025, 6, 1, 15, tzinfo=UTC)
    frame = assemble(
        {"NVDA": history_frame(["2024-01-03 09:30"], [50.0], intraday=True)}, intraday=True
    )
    fake = FakeDownload(frame)
    batch = await source(fake, tmp_path, clock=lambda: now).history(
        ["NVDA"], start=date(2020, 1, 1), interval="1h"
    )
    earliest = date(2025, 6, 1) - timedelta(days=729)
    assert fake.kwargs["start"] == earliest
    assert any("2020-01-01" in note for note in batch.series["NVDA"].notes)


async def test_intraday_open_start_is_yahoos_limit(tmp_path: Path) -> None:
    now = datetime(2025, 6, 1, 15, tzinfo=UTC)
    frame = assemble(
        {"NVDA": history_frame(["2024-01-03 09:30"], [50.0], intraday=True)}, intraday=True
    )
    fake = FakeDownload(frame)
    await source(fake, tmp_path, clock=lambda: now).history(["NVDA"], interval="1h")
    assert fake.kwargs["start"] == date(2025, 6, 1) - timedelta(days=729)
    assert "period" not in fake.kwargs


async def test_intraday_range_entirely_too_old_is_refused(tmp_path: Path) -> None:
    fake = FakeDownload()
    src = source(fake, tmp_path, clock=lambda: datetime(2025, 6, 1, tzinfo=UTC))
    with pytest.raises(PriceError, match="1h"):
        await src.history(["NVDA"], start=date(2020, 1, 1), end=date(2020, 2, 1), interval="1h")
    assert fake.calls == []


# --- failures yfinance records -----------------------------------------------------------------


async def test_unknown_symbol_among_good_ones(tmp_path: Path) -> None:
    frames = daily_ok("NVDA", "AMD")
    frames["XYZ"] = yf_utils.empty_df()
    fake = FakeDownload(assemble(frames), logged={"XYZ": DELISTED})
    batch = await source(fake, tmp_path).history(["NVDA", "XYZ", "AMD"])
    assert set(batch.series) == {"NVDA", "AMD"}
    error = batch.errors["XYZ"]
    assert type(error) is UnknownSymbolError
    assert error.symbol == "XYZ"
    assert "delisted" in error.message


async def test_all_nan_symbol_without_a_reason_is_unknown(tmp_path: Path) -> None:
    frames = daily_ok("NVDA")
    frames["GONE"] = yf_utils.empty_df()
    batch = await source(FakeDownload(assemble(frames)), tmp_path).history(["NVDA", "GONE"])
    assert set(batch.series) == {"NVDA"}
    assert type(batch.errors["GONE"]) is UnknownSymbolError


async def test_symbol_missing_from_the_frame_is_unknown(tmp_path: Path) -> None:
    batch = await source(FakeDownload(assemble(daily_ok("NVDA"))), tmp_path).history(
        ["NVDA", "NOPE"]
    )
    assert set(batch.series) == {"NVDA"}
    assert type(batch.errors["NOPE"]) is UnknownSymbolError


async def test_no_price_data_for_one_symbol_while_others_came(tmp_path: Path) -> None:
    frames = daily_ok("NVDA")
    frames["AAA"] = yf_utils.empty_df()
    fake = FakeDownload(assemble(frames), logged={"AAA": NO_PRICES})
    batch = await source(fake, tmp_path).history(["NVDA", "AAA"])
    assert type(batch.errors["AAA"]) is UnknownSymbolError


async def test_rate_limit_recorded_for_some_symbols(tmp_path: Path) -> None:
    frames = daily_ok("NVDA")
    frames["AMD"] = yf_utils.empty_df()
    frames["MU"] = yf_utils.empty_df()
    fake = FakeDownload(assemble(frames), logged={"AMD": RATE_LIMITED, "MU": RATE_LIMITED})
    batch = await source(fake, tmp_path).history(["NVDA", "AMD", "MU"])
    assert set(batch.series) == {"NVDA"}
    for sym in ("AMD", "MU"):
        assert type(batch.errors[sym]) is RateLimitedError
        assert batch.errors[sym].symbol == sym


async def test_rate_limit_recorded_for_every_symbol_fails_the_request(tmp_path: Path) -> None:
    frames = {s: yf_utils.empty_df() for s in ("NVDA", "AMD")}
    fake = FakeDownload(assemble(frames), logged={"NVDA": RATE_LIMITED, "AMD": RATE_LIMITED})
    with pytest.raises(RateLimitedError) as info:
        await source(fake, tmp_path).history(["NVDA", "AMD"])
    assert info.value.symbol is None


async def test_rate_limit_raised(tmp_path: Path) -> None:
    fake = FakeDownload(raises=YFRateLimitError())
    with pytest.raises(RateLimitedError, match="Too Many Requests") as info:
        await source(fake, tmp_path).history(["NVDA", "AMD"])
    assert info.value.symbol is None


async def test_connection_error_recorded_for_one_symbol(tmp_path: Path) -> None:
    frames = daily_ok("NVDA")
    frames["AMD"] = yf_utils.empty_df()
    fake = FakeDownload(assemble(frames), logged={"AMD": CONNECTION_FAILED})
    batch = await source(fake, tmp_path).history(["NVDA", "AMD"])
    assert type(batch.errors["AMD"]) is SourceUnavailableError


async def test_unreachable_timezone_lookup_is_not_a_delisting(tmp_path: Path) -> None:
    """yfinance calls the symbol 'possibly delisted' when it could not reach Yahoo for its tz."""
    frames = daily_ok("NVDA")
    frames["AMD"] = yf_utils.empty_df()
    fake = FakeDownload(
        assemble(frames),
        logged={"AMD": DELISTED},
        worker_lines=[f"Failed to get ticker 'AMD' reason: {CURL_MESSAGE}"],
    )
    batch = await source(fake, tmp_path).history(["NVDA", "AMD"])
    assert type(batch.errors["AMD"]) is SourceUnavailableError


@pytest.mark.parametrize(
    "exc",
    [
        curl_errors.ConnectionError(CURL_MESSAGE),
        curl_errors.Timeout("Failed to perform, curl: (28) Operation timed out"),
        curl_errors.DNSError("Failed to perform, curl: (6) Could not resolve host"),
        OSError(101, "Network is unreachable"),
        TimeoutError("timed out"),
    ],
    ids=type,
)
async def test_connection_errors_raised(tmp_path: Path, exc: Exception) -> None:
    with pytest.raises(SourceUnavailableError, match="unreachable") as info:
        await source(FakeDownload(raises=exc), tmp_path).history(["NVDA"])
    assert info.value.symbol is None
    assert type(exc).__name__ in info.value.message


async def test_http_429_raised_is_a_rate_limit(tmp_path: Path) -> None:
    class Response:
        status_code = 429

    exc = curl_errors.HTTPError("HTTP Error 429: Too Many Requests", response=Response())
    with pytest.raises(RateLimitedError):
        await source(FakeDownload(raises=exc), tmp_path).history(["NVDA"])


@pytest.mark.parametrize(
    "exc", [KeyError("chart"), ValueError("bad"), RuntimeError("boom"), DeprecationWarning("x")]
)
async def test_unexpected_exception_is_wrapped(tmp_path: Path, exc: Exception) -> None:
    with pytest.raises(SourceUnavailableError) as info:
        await source(FakeDownload(raises=exc), tmp_path).history(["NVDA"])
    assert type(exc).__name__ in info.value.message


@pytest.mark.parametrize("returned", [None, "nonsense", 42])
async def test_nothing_usable_returned(tmp_path: Path, returned: object) -> None:
    with pytest.raises(SourceUnavailableError):
        await source(FakeDownload(returns=returned), tmp_path).history(["NVDA"])


async def test_unreadable_frame(tmp_path: Path) -> None:
    frame = pd.DataFrame({"Open": [1.0]}, index=pd.DatetimeIndex(["2024-01-02"]))
    with pytest.raises(SourceUnavailableError, match="Close"):
        await source(FakeDownload(frame), tmp_path).history(["NVDA", "AMD"])


# --- nothing came back -------------------------------------------------------------------------


def all_empty(*symbols: str) -> pd.DataFrame:
    return assemble({s: yf_utils.empty_df() for s in symbols})


async def test_empty_frame_all_unknown(tmp_path: Path) -> None:
    fake = FakeDownload(all_empty("XYZ", "QQQQ1"), logged={"XYZ": DELISTED, "QQQQ1": DELISTED})
    batch = await source(fake, tmp_path).history(["XYZ", "QQQQ1"])
    assert batch.series == {}
    assert {type(e) for e in batch.errors.values()} == {UnknownSymbolError}
    assert set(batch.errors) == {"XYZ", "QQQQ1"}


async def test_empty_frame_single_unknown(tmp_path: Path) -> None:
    fake = FakeDownload(all_empty("XYZ"), logged={"XYZ": DELISTED})
    batch = await source(fake, tmp_path).history(["XYZ"])
    assert type(batch.errors["XYZ"]) is UnknownSymbolError


async def test_empty_frame_with_network_failures_is_unavailable(tmp_path: Path) -> None:
    # what yfinance 1.7 really logs for 4 symbols when Yahoo cannot be reached (see module doc)
    fake = FakeDownload(
        all_empty("NVDA", "AMD", "MU", "TSM"),
        logged={
            "NVDA": CONNECTION_FAILED,
            "AMD": CONNECTION_FAILED,
            "MU": DELISTED,
            "TSM": DELISTED,
        },
        worker_lines=[f"Failed to get ticker '{s}' reason: {CURL_MESSAGE}" for s in ("MU", "TSM")],
    )
    with pytest.raises(SourceUnavailableError, match="unreachable"):
        await source(fake, tmp_path).history(["NVDA", "AMD", "MU", "TSM"])


async def test_empty_frame_no_price_data_anywhere_is_unavailable(tmp_path: Path) -> None:
    """With timezones cached, yfinance 1.7 hides a network error as 'no price data found'."""
    fake = FakeDownload(
        all_empty("NVDA", "AMD"),
        logged={"NVDA": NO_PRICES, "AMD": NO_PRICES},
        worker_lines=["Cookie/crumb fetch failed (ConnectionError), continuing without crumb"],
    )
    with pytest.raises(SourceUnavailableError):
        await source(fake, tmp_path).history(["NVDA", "AMD"])


async def test_empty_frame_without_any_reason_is_unavailable(tmp_path: Path) -> None:
    for frame in (pd.DataFrame(), all_empty("NVDA", "AMD")):
        with pytest.raises(SourceUnavailableError, match="nothing"):
            await source(FakeDownload(frame), tmp_path).history(["NVDA", "AMD"])


async def test_other_symbols_reasons_are_not_borrowed(tmp_path: Path) -> None:
    fake = FakeDownload(all_empty("XYZ"), logged={"XYZ": DELISTED, "OTHER": RATE_LIMITED})
    batch = await source(fake, tmp_path).history(["XYZ"])
    assert type(batch.errors["XYZ"]) is UnknownSymbolError


# --- older yfinance: yfinance.shared._ERRORS ---------------------------------------------------


async def test_legacy_shared_errors_dict(tmp_path: Path) -> None:
    yf_shared._ERRORS["XYZ"] = RATE_LIMITED  # left over from an earlier download: ignored
    frames = daily_ok("NVDA")
    frames["XYZ"] = yf_utils.empty_df()
    frames["AMD"] = yf_utils.empty_df()
    fake = FakeDownload(
        assemble(frames),
        legacy_errors={
            "XYZ": "YFTzMissingError('$XYZ: possibly delisted; no timezone found')",
            "AMD": RATE_LIMITED,
        },
    )
    batch = await source(fake, tmp_path).history(["NVDA", "XYZ", "AMD"])
    assert set(batch.series) == {"NVDA"}
    assert type(batch.errors["XYZ"]) is UnknownSymbolError
    assert type(batch.errors["AMD"]) is RateLimitedError


# --- caches ------------------------------------------------------------------------------------


async def test_cache_dir_is_set_once_before_the_first_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    real_setter = yf_cache.set_cache_location

    def spy(folder: str) -> None:
        events.append(f"cache:{folder}")
        real_setter(folder)

    monkeypatch.setattr(yf_cache, "set_cache_location", spy)
    frame = assemble(daily_ok("NVDA"))

    def download(tickers: list[str], **kwargs: Any) -> pd.DataFrame:
        events.append("download")
        return frame

    cache_dir = tmp_path / "yf-cache"
    src = YahooPriceSource(cache_dir, download=download)
    assert events == []  # nothing happens at construction
    await src.history(["NVDA"])
    await src.history(["NVDA"])

    assert events == [f"cache:{cache_dir.resolve()}", "download", "download"]
    assert cache_dir.is_dir()
    home_cache = Path.home() / ".cache"
    for manager in (yf_cache._TzDBManager, yf_cache._CookieDBManager, yf_cache._ISINDBManager):
        location = Path(manager.get_location())
        assert location == cache_dir.resolve()
        assert not location.is_relative_to(home_cache)


async def test_no_cache_dir_leaves_yfinance_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(yf_cache, "set_cache_location", calls.append)
    src = YahooPriceSource(None, download=FakeDownload(assemble(daily_ok("NVDA"))))
    await src.history(["NVDA"])
    assert calls == []


async def test_unusable_cache_dir(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    src = YahooPriceSource(blocker / "cache", download=FakeDownload(assemble(daily_ok("NVDA"))))
    with pytest.raises(SourceUnavailableError, match="cache"):
        await src.history(["NVDA"])


# --- the real yfinance.download, with Ticker stubbed -------------------------------------------


class StubTicker:
    """Replaces ``yfinance.Ticker`` inside ``yfinance.multi``: no network, real bookkeeping."""

    behaviour: ClassVar[dict[str, Callable[[StubTicker], pd.DataFrame]]] = {}

    def __init__(self, ticker: str) -> None:
        self.ticker = ticker.upper()
        self._price_history = type("PriceHistory", (), {"_last_error": None})()

    def history(self, **kwargs: Any) -> pd.DataFrame:
        return self.behaviour[self.ticker](self)


def ok(closes: list[float]) -> Callable[[StubTicker], pd.DataFrame]:
    return lambda _t: history_frame(DAYS, closes)


def delisted(t: StubTicker) -> pd.DataFrame:
    # history.py: record the soft error, log it, return an empty frame
    message = str(YFTzMissingError(t.ticker))
    t._price_history._last_error = message.split(": ", 1)[1]
    logging.getLogger("yfinance").error("%s", message)
    empty: pd.DataFrame = yf_utils.empty_df()
    return empty


def rate_limited(_t: StubTicker) -> pd.DataFrame:
    raise YFRateLimitError()


def unreachable(_t: StubTicker) -> pd.DataFrame:
    raise curl_errors.ConnectionError(CURL_MESSAGE)


@pytest.fixture
def stub_ticker(monkeypatch: pytest.MonkeyPatch) -> type[StubTicker]:
    monkeypatch.setattr(yf_multi, "Ticker", StubTicker)
    monkeypatch.setattr(StubTicker, "behaviour", {})
    return StubTicker


@pytest.mark.filterwarnings(REAL_DOWNLOAD_WARNING)
async def test_real_download_failure_reporting(
    tmp_path: Path, stub_ticker: type[StubTicker]
) -> None:
    stub_ticker.behaviour.update(
        {
            "NVDA": ok([1.0, 2.0, 3.0, 4.0]),
            "AMD": ok([5.0, 6.0, 7.0, 8.0]),
            "XYZ": delisted,
            "MU": rate_limited,
            "TSM": unreachable,
        }
    )
    src = YahooPriceSource(tmp_path / "yf-cache")  # the real yfinance.download
    batch = await src.history(["NVDA", "AMD", "XYZ", "MU", "TSM"], start=date(2024, 1, 2))
    assert list(batch.series["NVDA"].closes) == [1.0, 2.0, 3.0, 4.0]
    assert list(batch.series["AMD"].closes.index) == [pd.Timestamp(d) for d in DAYS]
    assert set(batch.series) == {"NVDA", "AMD"}
    assert type(batch.errors["XYZ"]) is UnknownSymbolError
    assert type(batch.errors["MU"]) is RateLimitedError
    assert type(batch.errors["TSM"]) is SourceUnavailableError


@pytest.mark.filterwarnings(REAL_DOWNLOAD_WARNING)
async def test_real_download_every_symbol_rate_limited(
    tmp_path: Path, stub_ticker: type[StubTicker]
) -> None:
    stub_ticker.behaviour.update({"NVDA": rate_limited, "AMD": rate_limited})
    with pytest.raises(RateLimitedError):
        await YahooPriceSource(tmp_path / "c").history(["NVDA", "AMD"])


@pytest.mark.filterwarnings(REAL_DOWNLOAD_WARNING)
async def test_real_download_single_unknown_symbol(
    tmp_path: Path, stub_ticker: type[StubTicker]
) -> None:
    stub_ticker.behaviour["XYZ"] = delisted
    batch = await YahooPriceSource(tmp_path / "c").history(["XYZ"])
    assert type(batch.errors["XYZ"]) is UnknownSymbolError


# --- the real yfinance.download, network blocked -----------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.filterwarnings(REAL_DOWNLOAD_WARNING)
async def test_real_download_without_network_ends_in_our_error(tmp_path: Path) -> None:
    """HTTPS_PROXY points at a closed port on loopback (autouse fixture): curl fails at once."""
    home_cache = Path.home() / ".cache" / "py-yfinance"
    existed = home_cache.exists()
    cache_dir = tmp_path / "yf-cache"
    src = YahooPriceSource(cache_dir, timeout=2.0)
    started = time.monotonic()
    with pytest.raises(SourceUnavailableError):
        await src.history(["NVDA", "AMD", "TSM"], start=date(2024, 1, 2), end=date(2024, 1, 5))
    assert time.monotonic() - started < 15
    assert Path(yf_cache._TzDBManager.get_location()) == cache_dir.resolve()
    assert home_cache.exists() == existed


@pytest.mark.timeout(60)
@pytest.mark.filterwarnings(REAL_DOWNLOAD_WARNING)
async def test_an_offline_live_scan_says_why_once_and_status_shows_the_failing_source(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The scan job `run` schedules, on the real Yahoo source with the network blocked."""
    from bot.clock import SteppedClock
    from bot.config import load_config
    from bot.render.chat import plain_text
    from bot.runtime.wiring import build_runtime
    from bot.storage.store import Store
    from tests.test_commands import call

    env = {"BOT__SCHEDULER__REGIONS": '["us"]', "BOT__SCHEDULER__BACKOFF_SECONDS": "0"}
    loaded = load_config(None, env)
    at = datetime(2025, 1, 27, 15, 30, tzinfo=UTC)  # a US session
    clock = SteppedClock(at)
    source = YahooPriceSource(tmp_path / "yf-cache", timeout=2.0)
    runtime = build_runtime(loaded, clock, Store(tmp_path / "bot.sqlite3"), source, news=False)
    ((_, scan),) = runtime.scan_jobs()

    with caplog.at_level(logging.INFO):
        await scan()

    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("scan us: no decision, prices from yahoo unavailable: Yahoo")
    assert warnings[0].endswith("next try at 2025-01-27 15:35 UTC")
    reply = await runtime.commands.dispatch(call("status"))
    assert reply is not None
    assert "FAILING, last good prices never" in plain_text(reply)
