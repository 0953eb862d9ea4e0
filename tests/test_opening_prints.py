"""Recorded opening prints: daily bars with an Open column are seen intraday at the open.

On the real DeepSeek Monday files: hourly bars for 4 AI-infrastructure names, daily bars with
opening prices for 11 more. A reading needs 6 fresh names for more than watch.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import load_config
from bot.delivery.sinks import Dispatcher
from bot.detection.detect import Label, Reading, Severity
from bot.detection.regions import ScanRegion, scan_regions
from bot.episodes import EpisodeBook
from bot.pipeline import AlertPipeline
from bot.render.alerts import reason_text
from bot.sources.csv_prices import CsvPriceSource, read_price_file
from bot.sources.prices import PriceSeries
from bot.sources.recorded import RecordedPriceSource
from bot.storage.store import Store
from jobs.price_scan import PriceScan, ScanSettings
from tests.conftest import PRICES

CONFIG = load_config(None, {})
US, US_PRE = (scan_regions(CONFIG.universe, [k])[0] for k in ("us", "us_pre"))
SETTINGS = ScanSettings(
    interval=timedelta(minutes=5),
    settle_delay=timedelta(minutes=20),
    max_age=timedelta(minutes=65),
    history_sessions=300,
    attempts=1,
    backoff_seconds=0.0,
)
MONDAY_OPEN = datetime(2025, 1, 27, 14, 30, tzinfo=UTC)

Series = dict[str, PriceSeries]


@pytest.fixture(scope="module")
def recorded() -> tuple[Series, Series]:
    source = CsvPriceSource([PRICES / "hourly", PRICES / "daily_ohlcv", PRICES / "daily_close"])
    daily, intraday = source.load_intervals(start=date(2023, 6, 1), end=date(2025, 1, 31))
    return dict(daily.series), dict(intraday.series)


def source_at(recorded: tuple[Series, Series], now: datetime) -> RecordedPriceSource:
    daily, intraday = recorded
    return RecordedPriceSource(
        daily, lambda: now, CONFIG.universe.calendars_by_symbol(), intraday=intraday
    )


async def test_an_opening_print_is_known_at_the_open_and_not_before(
    recorded: tuple[Series, Series],
) -> None:
    before = await source_at(recorded, MONDAY_OPEN - timedelta(seconds=1)).history(
        ["AVGO", "NVDA"], start=date(2025, 1, 27), end=date(2025, 1, 27), interval="1h"
    )
    at_open = await source_at(recorded, MONDAY_OPEN).history(
        ["AVGO", "NVDA"], start=date(2025, 1, 27), end=date(2025, 1, 27), interval="1h"
    )
    later = await source_at(recorded, MONDAY_OPEN + timedelta(hours=1)).history(
        ["NVDA"], start=date(2025, 1, 27), end=date(2025, 1, 27), interval="1h"
    )

    assert before.series["AVGO"].closes.empty
    avgo = at_open.series["AVGO"]
    assert (avgo.observed, avgo.interval) == (True, "1d")  # opening prints only
    assert list(avgo.closes.index) == [MONDAY_OPEN]
    nvda = at_open.series["NVDA"]
    assert (nvda.observed, nvda.interval) == (True, "1h")
    assert nvda.closes.iloc[-1] == pytest.approx(124.77, abs=0.05)  # NVDA opened at 124.79
    # Then its first hourly bar, known when it closed at 10:30 New York.
    assert list(later.series["NVDA"].closes.index) == [
        MONDAY_OPEN,
        MONDAY_OPEN + timedelta(hours=1),
    ]


async def scan_at(recorded: tuple[Series, Series], region: ScanRegion, now: datetime) -> Reading:
    store = Store(":memory:")
    pipeline = AlertPipeline(EpisodeBook(CONFIG.settings.episodes), store, Dispatcher([]))
    scan = PriceScan(
        region,
        source_at(recorded, now),
        CONFIG.universe,
        CONFIG.settings.detector,
        SETTINGS,
        pipeline,
        store,
    )
    reading = await scan(now)
    assert reading is not None
    return reading


async def test_deepseek_at_the_open_is_a_critical_divergence_on_eleven_names(
    recorded: tuple[Series, Series],
) -> None:
    reading = await scan_at(recorded, US, MONDAY_OPEN + timedelta(minutes=5))

    assert reading.label is Label.DIVERGENCE_DOWN
    assert reading.severity is Severity.CRITICAL
    stats = reading.stats
    assert stats is not None
    assert stats.broad_index_ret is not None
    assert stats.basket_names == 11  # TSM trades in New York but has no print before 10:30
    # The S&P opened -2.2 % (a broad move by size), software only -0.7 %: the sector's move.
    assert stats.broad_index_ret < -0.02
    kinds = [getattr(r, "kind", None) for r in reading.reasons]
    assert "rotation" in kinds


async def test_the_pre_market_window_does_not_read_the_open(
    recorded: tuple[Series, Series],
) -> None:
    reading = await scan_at(recorded, US_PRE, MONDAY_OPEN)

    assert reading.label is Label.NO_DECISION
    # The names with daily bars only are not counted stale before their print.
    assert "only 0 of 4 AI-infrastructure prices" in reading.reasons[0]


async def test_an_old_opening_print_leaves_the_name_out_and_four_names_stay_at_watch(
    recorded: tuple[Series, Series],
) -> None:
    reading = await scan_at(recorded, US, MONDAY_OPEN + timedelta(minutes=70))

    assert reading.label is Label.DIVERGENCE_DOWN
    assert reading.severity is Severity.WATCH
    assert reading.coverage == 1.0
    assert reading.stats is not None
    assert reading.stats.basket_names == 4
    (few,) = [r for r in reading.reasons if getattr(r, "kind", None) == "few_names"]
    assert few == "rests on 4 fresh AI-infrastructure prices; critical needs 6: held at watch"
    assert reason_text("de", few) == (
        "beruht auf 4 aktuellen KI-Infrastrukturkursen; kritisch braucht 6: bleibt bei beobachten"
    )


def test_bad_opening_prices_are_dropped_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "X.csv"
    path.write_text(
        "Date,Open,High,Low,Close,Volume\n"
        "2024-01-02,100,101,99,100,10\n"
        "2024-01-03,1000,102,100,101,10\n"  # an open ten times its close
        "2024-01-04,nan,103,100,102,10\n"
        "2024-01-05,-3,103,100,102.5,10\n"
        "2024-01-08,103,104,102,103,10\n"
    )

    series = read_price_file(path)

    assert series.opens is not None
    assert [d.day for d in series.opens.index] == [2, 8]
    assert any("dropped 2 opening prices" in n for n in series.notes)


def test_an_open_on_a_split_day_is_not_a_print(tmp_path: Path) -> None:
    path = tmp_path / "X.csv"
    rows = [
        f"2024-01-{d:02d},{100 + d},{100 + d}\n" for d in range(2, 20) if d not in (6, 7, 13, 14)
    ]
    rows.append("2024-01-22,12.1,12.0\n")  # a 10:1 split, unadjusted
    path.write_text("Date,Open,Close\n" + "".join(rows))

    series = read_price_file(path)

    assert series.breaks
    assert series.opens is not None
    assert series.breaks[0] not in set(series.opens.index)
