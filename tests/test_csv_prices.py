"""Tests for the CSV-directory price source, against the real files in ../shared/data/prices."""

from __future__ import annotations

import math
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.sources.csv_prices import CsvPriceSource, describe_intervals, read_price_file
from bot.sources.prices import (
    NoIntradayError,
    PriceSeries,
    SourceUnavailableError,
    StaleDataError,
    UnknownSymbolError,
)
from tests.conftest import PRICES

ALL_FILES = sorted(PRICES.rglob("*.csv"))


def day(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --- every real file ---------------------------------------------------------------------------


def test_the_data_is_there(prices_dir: Path) -> None:
    assert prices_dir == PRICES
    assert len(ALL_FILES) > 100


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: str(p.relative_to(PRICES)))
def test_every_real_file_reads(path: Path) -> None:
    series = read_price_file(path)

    closes = series.closes
    assert series.symbol == path.name.removesuffix(".csv")
    assert len(closes) > 0
    assert closes.dtype == "float64"
    assert isinstance(closes.index, pd.DatetimeIndex)
    assert closes.index.is_monotonic_increasing
    assert closes.index.is_unique
    assert bool((closes > 0).all())
    if series.interval == "1d":
        assert closes.index.tz is None
        assert bool((closes.index == closes.index.normalize()).all())
    else:
        assert str(closes.index.tz) == "UTC"


def test_folders_give_the_expected_interval() -> None:
    for path in ALL_FILES:
        expected = "1h" if path.parent.name == "hourly" else "1d"
        assert read_price_file(path).interval == expected, path


# --- facts from the real data ------------------------------------------------------------------


def test_nvda_deepseek_day_is_a_real_move_not_a_split(prices_dir: Path) -> None:
    series = read_price_file(prices_dir / "daily_close" / "NVDA.csv")

    assert series.returns()[day("2025-01-27")] == pytest.approx(118.42 / 142.62 - 1, abs=0.002)
    assert series.returns()[day("2025-01-27")] == pytest.approx(-0.1697, abs=0.002)
    assert series.breaks == ()
    assert series.adjusted is False  # a bare Close column does not say whether it is adjusted


def test_daily_ohlcv_nvda_agrees_with_daily_close(prices_dir: Path) -> None:
    series = read_price_file(prices_dir / "daily_ohlcv" / "NVDA.csv")

    assert series.returns()[day("2025-01-27")] == pytest.approx(-0.1697, abs=0.002)


def test_tiingo_file_uses_the_adjusted_close(prices_dir: Path) -> None:
    series = read_price_file(prices_dir / "daily_unadjusted" / "NVDA.csv")

    assert series.adjusted is True
    assert series.breaks == ()
    assert series.closes.index[0] == day("2024-04-01")
    assert abs(series.returns()[day("2024-06-10")]) < 0.1
    assert series.returns()[day("2025-01-27")] == pytest.approx(-0.1697, abs=0.002)


def test_tiingo_header_case_does_not_matter(prices_dir: Path) -> None:
    upper = read_price_file(prices_dir / "daily_unadjusted" / "NVDA.csv")  # AdjClose
    lower = read_price_file(prices_dir / "daily_unadjusted" / "AVGO.csv")  # Adjclose

    assert upper.adjusted
    assert lower.adjusted
    assert abs(lower.returns()[day("2024-07-15")]) < 0.1
    assert lower.closes[day("2024-04-01")] == pytest.approx(132.3400185642)


def _raw_nvda_rows(prices_dir: Path, columns: list[str]) -> pd.DataFrame:
    """Real NVDA rows of March..July 2024 with only the raw (unadjusted) columns kept."""
    frame = pd.read_csv(prices_dir / "daily_unadjusted" / "NVDA.csv")
    frame = frame[(frame["date"] >= "2024-03") & (frame["date"] < "2024-08")]
    return frame[columns]


def test_raw_tiingo_columns_take_the_split_from_splitfactor(
    prices_dir: Path, tmp_path: Path
) -> None:
    rows = _raw_nvda_rows(prices_dir, ["date", "Close", "Volume", "splitfactor"])
    rows.to_csv(tmp_path / "NVDA.csv", index=False)

    series = read_price_file(tmp_path / "NVDA.csv")

    assert series.adjusted is False
    assert series.breaks == (day("2024-06-10"),)
    assert series.closes[day("2024-06-10")] == pytest.approx(121.79)
    assert math.isnan(series.returns()[day("2024-06-10")])
    assert series.returns()[day("2024-06-11")] == pytest.approx(120.91 / 121.79 - 1)
    assert any("2024-06-10" in note and "10:1" in note for note in series.notes)


def test_raw_close_without_split_column_detects_the_ten_for_one_split(
    prices_dir: Path, tmp_path: Path
) -> None:
    rows = _raw_nvda_rows(prices_dir, ["date", "Close"])
    rows.to_csv(tmp_path / "NVDA.csv", index=False)

    series = read_price_file(tmp_path / "NVDA.csv")

    assert series.breaks == (day("2024-06-10"),)
    assert any("2024-06-10 looks like a 10:1 split (-89.9%)" in note for note in series.notes)


def test_yfinance_stock_splits_column_marks_the_break(tmp_path: Path) -> None:
    path = write(
        tmp_path / "ABC.csv",
        "Date,Close,Volume,Dividends,Stock Splits\n"
        "2024-06-06,1209.98,100,0.0,0.0\n"
        "2024-06-07,1208.88,100,0.0,0.0\n"
        "2024-06-10,121.79,100,0.0,10.0\n"
        "2024-06-11,120.91,100,0.0,0.0\n",
    )

    series = read_price_file(path)

    assert series.breaks == (day("2024-06-10"),)
    assert series.returns().isna().sum() == 2


@pytest.mark.parametrize("symbol", ["XLU", "XLK"])
def test_appended_raw_etf_flags_the_two_for_one_split(prices_dir: Path, symbol: str) -> None:
    series = read_price_file(prices_dir / "quirks" / "unadjusted_split_break" / f"{symbol}.csv")

    assert series.breaks == (day("2025-11-17"),)
    assert math.isnan(series.returns()[day("2025-11-17")])
    assert abs(series.returns()[day("2025-11-18")]) < 0.05
    assert any(
        note.startswith(f"{symbol}: 2025-11-17 looks like a 2:1 split (-")
        and "not taken as a move" in note
        for note in series.notes
    )


def test_adjusted_column_beside_raw_close_is_used_and_not_flagged(prices_dir: Path) -> None:
    series = read_price_file(prices_dir / "indices" / "etf_raw_and_adjusted" / "XLU.csv")

    assert series.adjusted is True
    assert series.breaks == ()
    assert series.closes[day("2023-07-03")] == pytest.approx(30.121540069580078)


def test_zero_volume_copy_is_a_gap(prices_dir: Path) -> None:
    series = read_price_file(prices_dir / "europe" / "ENR.DE.csv")

    assert day("2025-01-23") in series.closes.index
    assert day("2025-01-24") not in series.closes.index
    rets = series.returns()
    assert rets[: day("2025-01-26")].index[-1] == day("2025-01-23")
    # 58.80 -> 48.32: Siemens Energy's DeepSeek day, measured from the last real session
    assert rets[day("2025-01-27")] == pytest.approx(48.32 / 58.80 - 1, abs=0.001)
    assert rets[day("2025-01-27")] < -0.15
    assert any("zero-volume" in note for note in series.notes)


def test_unchanged_close_with_a_range_is_a_real_session(prices_dir: Path) -> None:
    # ^VIX has no volume at all; 2017-07-25 closed at 9.43 like the day before, with a range.
    series = read_price_file(prices_dir / "indices" / "^VIX.csv")

    assert series.closes[day("2017-07-25")] == pytest.approx(9.43)
    assert series.closes[day("2017-07-24")] == pytest.approx(9.43)


@pytest.mark.parametrize("symbol", ["^N225", "^GDAXI"])
def test_hourly_index_without_volume_keeps_every_bar(prices_dir: Path, symbol: str) -> None:
    path = prices_dir / "hourly" / f"{symbol}.csv"
    raw = pd.read_csv(path)
    assert bool((raw["volume"] == 0).all())

    series = read_price_file(path)

    assert len(series.closes) == len(raw)
    assert series.interval == "1h"


def test_n225_hourly_bars_are_tokyo_hours_in_utc(prices_dir: Path) -> None:
    series = read_price_file(prices_dir / "hourly" / "^N225.csv")

    assert series.closes.index[0] == utc("2023-06-27 00:00")  # 09:00 in Tokyo


def test_hourly_nvda_is_utc_and_has_the_deepseek_open(prices_dir: Path) -> None:
    series = read_price_file(prices_dir / "hourly" / "NVDA.csv")

    index = series.closes.index
    assert isinstance(index, pd.DatetimeIndex)
    assert str(index.tz) == "UTC"
    assert series.interval == "1h"
    assert utc("2025-01-27 14:30") in index  # 09:30 New York (EST)
    assert utc("2025-01-27 13:30") not in index  # no pre-market bar
    assert utc("2024-07-01 13:30") in index  # 09:30 New York (EDT)
    assert series.closes[utc("2025-01-27 14:30")] < 130


def test_hourly_timestamp_column_is_utc(prices_dir: Path) -> None:
    series = read_price_file(prices_dir / "hourly" / "SPY.csv")

    assert series.interval == "1h"
    assert series.closes.index[0] == utc("2024-01-02 17:30")
    assert series.closes.iloc[0] == pytest.approx(472.6604919433594)


def test_midnight_new_york_in_utc_is_a_daily_bar(prices_dir: Path) -> None:
    series = read_price_file(prices_dir / "quirks" / "iex_venue_only" / "NVDA.csv")

    assert series.interval == "1d"
    assert series.closes.index[0] == day("2020-07-27")
    assert pd.DatetimeIndex(series.closes.index).tz is None


@pytest.mark.parametrize(
    "path",
    sorted((PRICES / "quirks" / "mixed_adjustment").glob("*.csv")),
    ids=lambda p: p.name,
)
def test_lower_case_headers_parse(path: Path) -> None:
    series = read_price_file(path)

    assert series.interval == "1d"
    assert len(series.closes) == 123
    assert series.closes.index[-1] >= day("2025-06-10")


def test_columns_in_any_order_and_spelling(tmp_path: Path) -> None:
    path = write(
        tmp_path / "X.csv",
        "VOLUME, adj_close ,Open,DATE,close\n"
        "10,2.0,19,2024-01-03,20\n"
        "10,1.0,11,2024-01-02,10\n"
        "10,3.0,27,2024-01-03,30\n"
        "10,-1,41,2024-01-04,40\n"
        "10,,51,2024-01-05,50\n"
        "10,4.0,61,not a date,60\n",
    )

    series = read_price_file(path, "XYZ")

    assert series.symbol == "XYZ"
    assert series.adjusted is True
    assert series.closes.to_dict() == {day("2024-01-02"): 1.0, day("2024-01-03"): 3.0}
    # The raw opens are adjusted like their session's close.
    assert series.opens is not None
    assert series.opens.round(6).to_dict() == {day("2024-01-02"): 1.1, day("2024-01-03"): 2.7}
    assert len(series.notes) == 3


def test_load_all_reads_the_whole_backtest_set(prices_dir: Path) -> None:
    batch = CsvPriceSource([prices_dir / "daily_close"]).load_all()

    assert len(batch.series) == 35
    assert not batch.errors


# --- bad inputs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("Date,Close\n", "no rows"),
        ("Date,Open,High,Low,Volume\n2024-01-02,1,2,0.5,100\n", "no close column"),
        ("Close,Volume\n1,2\n", "no date column"),
        ("hello world\nthis is not a price file\n", "no date column"),
        ("Date,Close\nyesterday,1\nlater,2\n", "timestamps"),
        ("Date,Close\n2024-01-02,abc\n2024-01-03,0\n", "no positive prices"),
        ('Date,Close\n"2024-01-02,1\n', "unreadable"),
    ],
    ids=[
        "empty",
        "header-only",
        "no-close",
        "no-date",
        "prose",
        "bad-dates",
        "bad-closes",
        "open-quote",
    ],
)
def test_unusable_file_is_source_unavailable(tmp_path: Path, text: str, reason: str) -> None:
    path = write(tmp_path / "BAD.csv", text)

    with pytest.raises(SourceUnavailableError) as caught:
        read_price_file(path)

    assert caught.value.symbol == "BAD"
    assert str(path) in caught.value.message
    assert reason in caught.value.message


def test_binary_garbage_is_source_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "BIN.csv"
    path.write_bytes(bytes(range(256)) * 8)

    with pytest.raises(SourceUnavailableError, match="BIN"):
        read_price_file(path)


async def test_missing_symbol_is_unknown_and_the_rest_still_load(prices_dir: Path) -> None:
    source = CsvPriceSource([prices_dir / "daily_close"])

    batch = await source.history(["NVDA", "NOPE", "SPY"])

    assert set(batch.series) == {"NVDA", "SPY"}
    error = batch.errors["NOPE"]
    assert isinstance(error, UnknownSymbolError)
    assert error.symbol == "NOPE"
    assert "NOPE" in error.message
    assert str(prices_dir / "daily_close") in error.message


async def test_bad_file_is_an_error_in_the_batch(prices_dir: Path, tmp_path: Path) -> None:
    write(tmp_path / "JUNK.csv", "garbage\n\x00\x01\n")
    source = CsvPriceSource([tmp_path, prices_dir / "daily_close"])

    batch = await source.history(["JUNK", "NVDA"])

    assert isinstance(batch.errors["JUNK"], SourceUnavailableError)
    assert "JUNK.csv" in batch.errors["JUNK"].message
    assert "NVDA" in batch.series


def test_missing_directory_fails_at_construction(tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailableError, match="nowhere"):
        CsvPriceSource([tmp_path, tmp_path / "nowhere"])
    with pytest.raises(SourceUnavailableError):
        CsvPriceSource([])


def test_first_directory_wins(prices_dir: Path) -> None:
    source = CsvPriceSource([prices_dir / "daily_unadjusted", prices_dir / "daily_close"])

    batch = source.load_all()

    assert batch.series["NVDA"].closes.index[0] == day("2024-04-01")
    assert batch.series["ARM"].adjusted is True
    assert batch.series["XLU"].closes.index[0] == day("2015-01-02")
    assert "GOOG" in source.symbols()
    assert "GOOGL" in source.symbols()
    assert source.symbols() == sorted(source.symbols())


def test_a_single_directory_may_be_given_as_a_path(prices_dir: Path) -> None:
    source = CsvPriceSource(prices_dir / "europe")

    assert source.symbols() == ["ENR.DE", "SU.PA"]


async def test_history_filters_inclusively(prices_dir: Path) -> None:
    source = CsvPriceSource([prices_dir / "daily_close"])

    batch = await source.history(["NVDA"], start=date(2025, 1, 24), end=date(2025, 1, 28))

    series = batch.series["NVDA"]
    assert isinstance(series, PriceSeries)
    assert list(series.closes.index) == [day("2025-01-24"), day("2025-01-27"), day("2025-01-28")]
    assert series.returns()[day("2025-01-27")] == pytest.approx(-0.1697, abs=0.002)


async def test_history_filters_hourly_bars_by_date(prices_dir: Path) -> None:
    source = CsvPriceSource([prices_dir / "hourly"])

    batch = await source.history(
        ["NVDA"], start=date(2025, 1, 27), end=date(2025, 1, 27), interval="1h"
    )

    closes = batch.series["NVDA"].closes
    assert len(closes) == 7
    assert closes.index[0] == utc("2025-01-27 14:30")


async def test_open_ended_filters(prices_dir: Path) -> None:
    source = CsvPriceSource([prices_dir / "daily_close"])

    batch = await source.history(["SPY"], start=date(2026, 8, 1))
    assert list(batch.series["SPY"].closes.index) == [day("2026-08-03")]

    batch = await source.history(["SPY"], end=date(2015, 1, 2))
    assert list(batch.series["SPY"].closes.index) == [day("2015-01-02")]


async def test_nothing_left_after_filtering_is_stale(prices_dir: Path) -> None:
    source = CsvPriceSource([prices_dir / "europe"])

    batch = await source.history(["ENR.DE", "SU.PA"], start=date(2025, 6, 1))

    assert set(batch.errors) == {"ENR.DE", "SU.PA"}
    assert all(isinstance(e, StaleDataError) for e in batch.errors.values())
    assert "2025-06-01" in batch.errors["SU.PA"].message


async def test_break_outside_the_window_is_dropped(prices_dir: Path) -> None:
    source = CsvPriceSource([prices_dir / "quirks" / "unadjusted_split_break"])

    inside = await source.history(["XLU"], start=date(2025, 11, 1))
    outside = await source.history(["XLU"], end=date(2025, 11, 14))

    assert inside.series["XLU"].breaks == (day("2025-11-17"),)
    assert outside.series["XLU"].breaks == ()


async def test_each_interval_comes_from_its_own_directory(prices_dir: Path) -> None:
    source = CsvPriceSource([prices_dir / "hourly", prices_dir / "daily_close"])

    daily = await source.history(["NVDA", "AVGO"], interval="1d", end=date(2025, 1, 27))
    hourly = await source.history(["NVDA", "AVGO"], interval="1h", end=date(2025, 1, 27))

    assert daily.series["NVDA"].interval == "1d"
    assert daily.series["NVDA"].origin == str(prices_dir / "daily_close" / "NVDA.csv")
    assert daily.series["NVDA"].closes.index[0] == day("2015-01-02")
    assert hourly.series["NVDA"].interval == "1h"
    assert hourly.series["NVDA"].origin == str(prices_dir / "hourly" / "NVDA.csv")
    assert "AVGO" not in hourly.series
    assert isinstance(hourly.errors["AVGO"], NoIntradayError)
    assert "only daily bars" in hourly.errors["AVGO"].message
    assert "daily_close" in describe_intervals(*source.load_intervals())


async def test_a_symbol_with_only_intraday_bars_serves_them_for_daily_requests(
    prices_dir: Path,
) -> None:
    source = CsvPriceSource([prices_dir / "hourly"])

    batch = await source.history(["NVDA"], interval="1d")

    assert batch.series["NVDA"].interval == "1h"


def test_load_intervals_splits_daily_and_intraday(prices_dir: Path) -> None:
    source = CsvPriceSource([prices_dir / "daily_close", prices_dir / "hourly"])

    daily, intraday = source.load_intervals(end=date(2025, 1, 31))

    assert daily.series["NVDA"].interval == "1d"
    assert intraday.series["NVDA"].interval == "1h"
    assert set(intraday.series) <= set(daily.series)
    assert "AVGO" not in intraday.series
    assert "AVGO" not in intraday.errors


async def test_a_changed_file_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "ABC.csv"
    write(path, "Date,Close\n2025-01-02,10\n2025-01-03,11\n")
    source = CsvPriceSource([tmp_path])
    first = await source.history(["ABC"])

    write(path, "Date,Close\n2025-01-02,10\n2025-01-03,11\n2025-01-06,12.5\n")
    second = await source.history(["ABC"])

    assert len(first.series["ABC"].closes) == 2
    assert second.series["ABC"].closes.iloc[-1] == 12.5


def test_load_all_reports_bad_files_beside_good_ones(prices_dir: Path, tmp_path: Path) -> None:
    write(tmp_path / "EMPTY.csv", "")
    source = CsvPriceSource([tmp_path, prices_dir / "europe"])

    batch = source.load_all(start=date(2025, 1, 1))

    assert set(batch.series) == {"ENR.DE", "SU.PA"}
    assert isinstance(batch.errors["EMPTY"], SourceUnavailableError)
    assert batch.series["SU.PA"].closes.index[0] >= day("2025-01-01")


def test_source_name() -> None:
    assert CsvPriceSource.name == "csv"


# ------------------------------------------------------------------------------ data hygiene


def _with_raw_nvda(prices_dir: Path, tmp_path: Path, edit: dict[str, float]) -> PriceSeries:
    """Real raw NVDA closes (March..July 2024) with some closes replaced."""
    rows = _raw_nvda_rows(prices_dir, ["date", "Close"]).copy()
    for when, close in edit.items():
        rows.loc[rows["date"].str.startswith(when), "Close"] = close
    rows.to_csv(tmp_path / "NVDA.csv", index=False)
    return read_price_file(tmp_path / "NVDA.csv")


def test_a_ten_for_one_split_with_a_same_day_move_is_still_a_split(
    prices_dir: Path, tmp_path: Path
) -> None:
    """10:1 on 2024-06-10 and a 5 % fall the same day: 0.095 of the close before, 5 % off
    1/10, beyond a fixed 2 % tolerance but within three of NVDA's typical moves."""
    rows = _raw_nvda_rows(prices_dir, ["date", "Close"])
    before = float(rows.loc[rows["date"].str.startswith("2024-06-07"), "Close"].iloc[0])
    series = _with_raw_nvda(prices_dir, tmp_path, {"2024-06-10": before / 10 * 0.95})

    assert day("2024-06-10") in series.breaks
    assert math.isnan(series.returns()[day("2024-06-10")])
    assert any("2024-06-10 looks like a 10:1 split" in note for note in series.notes)


def test_a_thousandfold_bad_print_is_dropped_with_a_note(prices_dir: Path, tmp_path: Path) -> None:
    rows = _raw_nvda_rows(prices_dir, ["date", "Close"])
    normal = float(rows.loc[rows["date"].str.startswith("2024-04-15"), "Close"].iloc[0])
    series = _with_raw_nvda(prices_dir, tmp_path, {"2024-04-15": normal * 1000})

    assert day("2024-04-15") not in series.closes.index
    assert any("2024-04-15" in n and "bad print" in n for n in series.notes), series.notes
    assert series.returns().abs().max() < 0.5  # the split day aside, nothing absurd is left


def test_a_unit_change_is_a_break_not_a_move(tmp_path: Path) -> None:
    lines = ["Date,Close"]
    price = 1234.0
    for n, when in enumerate(pd.bdate_range("2024-01-01", periods=80)):
        price *= 1.0 + 0.01 * ((n % 5) - 2) / 2
        lines.append(f"{when:%Y-%m-%d},{price / 100 if n >= 60 else price:.4f}")
    series = read_price_file(write(tmp_path / "SIE.csv", "\n".join(lines) + "\n"))

    (stamp,) = series.breaks
    assert stamp == pd.bdate_range("2024-01-01", periods=80)[60]
    assert any("unit change" in note for note in series.notes), series.notes
    assert series.returns().abs().max() < 0.05


def test_infinite_and_negative_closes_are_dropped_with_a_note(tmp_path: Path) -> None:
    path = write(
        tmp_path / "MU.csv",
        "Date,Close\n2024-01-02,100\n2024-01-03,inf\n2024-01-04,-5\n2024-01-05,101\n",
    )
    series = read_price_file(path)

    assert list(series.closes) == [100.0, 101.0]
    assert any("dropped 2 rows without a positive, finite close" in n for n in series.notes)


def test_a_symbol_in_two_directories_is_a_warning_naming_both(
    prices_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = prices_dir / "quirks" / "mixed_adjustment", prices_dir / "daily_close"
    source = CsvPriceSource([first, second])

    with caplog.at_level("WARNING", logger="bot.sources.csv_prices"):
        batch = source.load_all()
        source.load_all()  # said once, not at every load

    nvda = batch.series["NVDA"]
    assert nvda.origin == str(first / "NVDA.csv")  # the first directory wins, as documented
    (warning,) = [r.getMessage() for r in caplog.records if "NVDA" in r.getMessage()]
    assert f"have files of the same bars in {first} and {second}; using {first}" in warning
    assert "DIA, NVDA, QQQ, SAP, SMH, SNOW, SOXX, SPY, XLU" in warning  # one line for all of them
    (note,) = [n for n in nvda.notes if "same kind of bars" in n]
    assert str(first / "NVDA.csv") in note
    assert str(second / "NVDA.csv") in note


def test_backtest_takes_a_daily_and_an_hourly_folder_together(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot.cli import main

    code = main(
        [
            "backtest",
            "--prices",
            str(PRICES / "daily_close"),
            "--prices",
            str(PRICES / "hourly"),
            "--from",
            "2025-01-24",
            "--to",
            "2025-01-28",
        ]
    )

    out = capsys.readouterr().out
    assert code == 0
    assert "2025-01-27  ai_infra_divergence_down  critical" in out


async def test_a_directory_that_goes_away_is_the_source_unavailable(tmp_path: Path) -> None:
    folder = tmp_path / "prices"
    folder.mkdir()
    write(folder / "NVDA.csv", "Date,Close\n2025-01-24,142.62\n2025-01-27,118.42\n")
    source = CsvPriceSource([folder])
    assert "NVDA" in (await source.history(["NVDA"])).series

    folder.rename(tmp_path / "moved")

    with pytest.raises(SourceUnavailableError, match=r"price directory .*prices is gone"):
        await source.history(["NVDA"])


_offsets = st.integers(min_value=-12 * 4, max_value=14 * 4).map(lambda quarter: quarter * 15)


@settings(max_examples=60, deadline=None)
@given(
    first=st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2060, 12, 31)),
    offsets=st.lists(_offsets, min_size=2, max_size=30),
    separator=st.sampled_from([" ", "T"]),
)
def test_offset_timestamps_read_as_the_iso_parser_reads_them(
    first: datetime, offsets: list[int], separator: str
) -> None:
    instants = [first.replace(microsecond=0) + timedelta(hours=k) for k in range(len(offsets))]

    def written(at: datetime, minutes: int) -> str:
        wall = at + timedelta(minutes=minutes)
        sign = "-" if minutes < 0 else "+"
        hours, mins = divmod(abs(minutes), 60)
        return f"{wall:%Y-%m-%d}{separator}{wall:%H:%M:%S}{sign}{hours:02d}:{mins:02d}"

    stamps = [written(at, minutes) for at, minutes in zip(instants, offsets, strict=True)]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ABC.csv"
        body = "".join(f"{stamp},{100 + i}\n" for i, stamp in enumerate(stamps))
        path.write_text("Datetime,close\n" + body)
        series = read_price_file(path)

    expected = pd.DatetimeIndex(pd.to_datetime(stamps, utc=True, format="ISO8601"))
    assert list(expected) == [pd.Timestamp(at, tz="UTC") for at in instants]
    assert series.interval == "1h"
    assert list(series.closes.index) == list(expected)
    assert list(series.closes) == [100.0 + i for i in range(len(stamps))]


# --- the plain Date,Close path --------------------------------------------------------------

PLAIN_FILES = [p for p in ALL_FILES if p.read_text(encoding="utf-8").startswith("Date,Close\n")]


def read_both(text: str) -> tuple[PriceSeries | str, PriceSeries | str]:
    """``text`` (a ``Date,Close`` file) read as it is and with a third column that sends it
    through the general (pandas) reader; an error as its message, folder left out."""
    results: list[PriceSeries | str] = []
    with tempfile.TemporaryDirectory() as folder:
        lines = text.split("\n")
        widened = "\n".join(f"{line},x" if line else line for line in lines)
        for kind, body in (("plain", text), ("wide", widened)):
            path = Path(folder) / kind / "ABC.csv"
            path.parent.mkdir()
            path.write_text(body, encoding="utf-8")
            try:
                results.append(read_price_file(path))
            except SourceUnavailableError as exc:
                results.append(exc.message.replace(str(path.parent), "FOLDER"))
    return results[0], results[1]


def assert_same(plain: PriceSeries | str, wide: PriceSeries | str) -> None:
    if isinstance(plain, str) or isinstance(wide, str):
        assert plain == wide
        return
    assert plain.closes.index.equals(wide.closes.index)
    assert plain.closes.to_numpy().tobytes() == wide.closes.to_numpy().tobytes()  # every bit
    assert (plain.interval, plain.adjusted) == (wide.interval, wide.adjusted)
    assert (plain.breaks, plain.notes) == (wide.breaks, wide.notes)


def test_plain_files_take_the_numpy_path() -> None:
    from bot.sources.csv_prices import _read_simple

    assert len(PLAIN_FILES) >= 35
    assert all(_read_simple(path) is not None for path in PLAIN_FILES)


@pytest.mark.parametrize("path", PLAIN_FILES[::4], ids=lambda p: str(p.relative_to(PRICES)))
def test_a_real_plain_file_reads_as_through_pandas(path: Path) -> None:
    assert_same(*read_both(path.read_text(encoding="utf-8")))


_plain_decimal = st.from_regex(r"[0-9]{1,20}(\.[0-9]{0,20})?", fullmatch=True)
_odd_close = st.sampled_from(["", "NaN", "-1.5", "1e3", " 2.5", "0", ".5", "1.2.3", "x"])
_odd_date = st.sampled_from(["2024-02-30", "2024-1-02", "not-a-date", "2024-13-01"])


_day = st.dates(min_value=date(1990, 1, 1), max_value=date(2060, 12, 31)).map(date.isoformat)
_close = st.one_of(
    _plain_decimal,
    st.floats(0.01, 1e6).map(lambda x: f"{x:.4f}".rstrip("0")),
    st.floats(0.01, 1e6).map(repr),
)


@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(st.tuples(_day, _close), min_size=0, max_size=40),
    odd=st.none() | st.tuples(st.integers(0, 39), st.booleans(), _odd_date | _odd_close),
    final_newline=st.booleans(),
)
def test_any_date_close_file_reads_as_through_pandas(
    rows: list[tuple[str, str]], odd: tuple[int, bool, str] | None, final_newline: bool
) -> None:
    """Plain rows (the numpy path reads them), at times one odd date or close (the general
    path takes the file): the same series, or the same error, either way."""
    if odd is not None and rows:
        at, in_date, text = odd
        day, close = rows[at % len(rows)]
        rows[at % len(rows)] = (text, close) if in_date else (day, text)
    text = "Date,Close\n" + "\n".join(f"{day},{close}" for day, close in rows)
    assert_same(*read_both(text + ("\n" if final_newline and rows else "")))
