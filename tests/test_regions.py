"""Region clocks and the scheduler's trigger: fire times computed, never waited for."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bot.detection.regions import fire_times, next_fire_time, scan_regions, window, window_at
from bot.universe import load_universe
from jobs.scheduler import SessionTrigger

REGIONS = {r.key: r for r in scan_regions(load_universe(), ["jp", "eu", "us_pre", "us"])}
FIVE = timedelta(minutes=5)
HOUR = timedelta(hours=1)
SETTLE = timedelta(minutes=20)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_deepseek_monday_windows_follow_the_sun() -> None:
    day = date(2025, 1, 27)
    assert window(REGIONS["jp"], day).start == utc(2025, 1, 27, 0, 0)
    assert window(REGIONS["jp"], day).end == utc(2025, 1, 27, 6, 30)
    assert window(REGIONS["eu"], day).start == utc(2025, 1, 27, 8, 0)
    assert window(REGIONS["eu"], day).end == utc(2025, 1, 27, 16, 30)
    assert window(REGIONS["us_pre"], day).start == utc(2025, 1, 27, 9, 0)
    assert window(REGIONS["us_pre"], day).end == utc(2025, 1, 27, 14, 30)
    assert window(REGIONS["us"], day).end == utc(2025, 1, 27, 21, 0)


def test_hourly_scans_of_the_us_session_end_with_a_settled_reading() -> None:
    times = fire_times(window(REGIONS["us"], date(2025, 1, 27)), HOUR, SETTLE)

    assert times[0] == utc(2025, 1, 27, 15, 30)  # 10:30 New York: the first bar has closed
    assert times[-2] == utc(2025, 1, 27, 20, 30)
    assert times[-1] == utc(2025, 1, 27, 21, 20)


def test_us_daylight_saving_change_moves_the_open_an_hour_earlier_in_utc() -> None:
    # Friday 2025-03-07 (EST) and Monday 2025-03-10 (EDT; clocks changed on Sunday the 9th).
    after_friday_close = utc(2025, 3, 7, 21, 30)
    assert next_fire_time(REGIONS["us"], FIVE, SETTLE, after_friday_close) == utc(
        2025, 3, 10, 13, 35
    )
    assert window(REGIONS["us"], date(2025, 3, 7)).start == utc(2025, 3, 7, 14, 30)


def test_europe_and_us_change_clocks_on_different_weekends() -> None:
    # 2025-03-10..28 New York is on summer time, Frankfurt not yet: the gap shrinks to 5 h.
    assert window(REGIONS["eu"], date(2025, 3, 17)).start == utc(2025, 3, 17, 8, 0)
    assert window(REGIONS["eu"], date(2025, 3, 31)).start == utc(2025, 3, 31, 7, 0)
    assert window(REGIONS["us"], date(2025, 3, 17)).start == utc(2025, 3, 17, 13, 30)


def test_holiday_is_skipped() -> None:
    # Martin Luther King Day, Monday 2025-01-20: New York closed, Frankfurt open.
    after_friday = utc(2025, 1, 17, 22, 0)
    assert next_fire_time(REGIONS["us"], FIVE, SETTLE, after_friday) == utc(2025, 1, 21, 14, 35)
    assert next_fire_time(REGIONS["eu"], FIVE, SETTLE, after_friday) == utc(2025, 1, 20, 8, 5)


def test_early_close_settles_after_the_early_close() -> None:
    # The day after Thanksgiving 2025 closes at 13:00 New York (18:00 UTC).
    times = fire_times(window(REGIONS["us"], date(2025, 11, 28)), HOUR, SETTLE)

    assert times[-1] == utc(2025, 11, 28, 18, 20)
    assert times[-2] == utc(2025, 11, 28, 17, 30)


def test_premarket_scans_until_the_open_without_settling() -> None:
    win = window(REGIONS["us_pre"], date(2025, 1, 27))
    times = fire_times(win, HOUR, SETTLE)

    assert times[0] == utc(2025, 1, 27, 10, 0)
    assert times[-1] == win.end
    assert not win.settles


def test_window_at_knows_the_settle_period_and_nothing_else() -> None:
    us = REGIONS["us"]
    assert window_at(us, utc(2025, 1, 27, 21, 10), SETTLE) is not None
    assert window_at(us, utc(2025, 1, 27, 22, 0), SETTLE) is None
    assert window_at(us, utc(2025, 1, 25, 15, 0), SETTLE) is None  # Saturday


@pytest.mark.parametrize(
    ("previous", "now", "expected"),
    [
        (None, utc(2025, 1, 27, 14, 31), utc(2025, 1, 27, 14, 35)),
        (utc(2025, 1, 27, 14, 35), utc(2025, 1, 27, 14, 35), utc(2025, 1, 27, 14, 40)),
        (utc(2025, 1, 27, 20, 55), utc(2025, 1, 27, 20, 55), utc(2025, 1, 27, 21, 20)),
        (utc(2025, 1, 27, 21, 20), utc(2025, 1, 27, 21, 20), utc(2025, 1, 28, 14, 35)),
        # A late wake-up resumes from the previous fire time; APScheduler's misfire grace
        # and coalescing then decide what runs.
        (utc(2025, 1, 27, 15, 0), utc(2025, 1, 27, 16, 0), utc(2025, 1, 27, 15, 5)),
    ],
)
def test_session_trigger_is_pure(
    previous: datetime | None, now: datetime, expected: datetime
) -> None:
    trigger = SessionTrigger(REGIONS["us"], FIVE, SETTLE)

    assert trigger.get_next_fire_time(previous, now) == expected
    assert "us" in str(trigger)
